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
import argparse
import os.path as osp
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:  # also when run with runpy or from elsewhere
    sys.path.insert(0, _HERE)
from _checkpoint_io import (BUFFER_SUFFIXES, ConversionError,  # noqa: E402
                            load_state_dict_file, save_atomically, sha256_of)

from vosbench.models.utils.stm_checkpoint import \
    convert_official_stm_state_dict  # noqa: E402


def convert(src: str, dst: str) -> str:
    """Convert ``src`` to ``dst``; returns a one-line summary."""
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ConversionError(f'{dst}: the destination is the source file')
    source = load_state_dict_file(src)
    try:
        state_dict = convert_official_stm_state_dict(source)
    except (TypeError, ValueError) as exc:
        raise ConversionError(f'{src}: {exc}') from exc
    num_parameters = sum(v.numel() for k, v in state_dict.items()
                         if not k.endswith(BUFFER_SUFFIXES))
    meta = dict(converted_from=osp.basename(src),
                source_sha256=sha256_of(src),
                source_format='official STM (Oh et al., ICCV 2019), ResNet-50',
                converter='tools/model_converters/stm_to_vosbench.py',
                model='STM (ResNet-50 encoders, stages 1-3)',
                num_tensors=len(state_dict),
                num_parameters=num_parameters)
    save_atomically(dict(state_dict=state_dict, meta=meta), dst)
    return (f'converted {src} ({len(source)} tensors) -> {dst} '
            f'({len(state_dict)} tensors, {num_parameters:,} parameters)')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an original STM (ResNet-50) checkpoint to '
        'vosbench\'s STM parameter names.')
    parser.add_argument('src', help='the original checkpoint (a state dict)')
    parser.add_argument('dst', help='where to write the vosbench checkpoint')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        print(convert(args.src, args.dst))
    except ConversionError as exc:
        print(f'stm_to_vosbench: error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
