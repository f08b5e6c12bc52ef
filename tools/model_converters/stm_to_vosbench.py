"""Convert an original STM (ResNet-50) checkpoint to a vosbench checkpoint.

Usage::

    python tools/model_converters/stm_to_vosbench.py STM_weights.pth \\
        checkpoints/stm_r50_official.pth

The source is the plain state dict released with STM (Oh et al., ICCV 2019),
with or without the ``module.`` prefix of ``DataParallel``; it is loaded with
``weights_only=True``. The result, ``dict(state_dict=..., meta=...)``, loads
into ``STM`` (ResNet-50 encoders, stages 1-3) with ``strict=True``, e.g. via
``load_from`` in a config. See
:mod:`vosbench.models.utils.stm_checkpoint` for the key correspondence.
"""
import os.path as osp
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:  # also when run with runpy or from elsewhere
    sys.path.insert(0, _HERE)
from _checkpoint_io import (converter_parser, convert_file,  # noqa: E402
                            run_conversion)

from vosbench.models.utils.stm_checkpoint import \
    convert_official_stm_state_dict  # noqa: E402


def convert(src: str, dst: str) -> str:
    """Convert ``src`` to ``dst``; returns a one-line summary."""
    return convert_file(
        src, dst,
        convert=convert_official_stm_state_dict,
        plan=None,  # every tensor is converted: nothing dropped or filled
        meta=dict(
            source_format='official STM (Oh et al., ICCV 2019), ResNet-50',
            converter='tools/model_converters/stm_to_vosbench.py',
            model='STM (ResNet-50 encoders, stages 1-3)'))


def parse_args(argv=None):
    return converter_parser(
        'Convert an original STM (ResNet-50) checkpoint to vosbench\'s STM '
        'parameter names.',
        'the original checkpoint (a state dict)').parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_conversion('stm_to_vosbench',
                          lambda: convert(args.src, args.dst))


if __name__ == '__main__':
    sys.exit(main())
