"""Convert an mmpretrain ResNet checkpoint to vosbench's ResNet names.

Usage::

    python tools/model_converters/mmpretrain_resnet_to_vosbench.py \\
        resnet50_8xb32_in1k_20210831-ea4938fc.pth \\
        data/pretrained/resnet50_mmpretrain.pth

mmpretrain's ``ResNet`` (style ``pytorch``) has torchvision's names under
``backbone.``; ``head.*`` (the classifier) and ``data_preprocessor.*`` are
dropped. ``ResNetV1c`` / ``ResNetV1d`` (deep stem) are refused: they are not
our ResNet. Torchvision checkpoints need no conversion at all (our ResNet
loads them directly). Key table:
:mod:`vosbench.models.utils.backbone_converters`.

The source is loaded with ``weights_only=True``; the result,
``dict(state_dict=..., meta=...)``, holds exactly the tensors of
``ResNet(depth)`` (depth inferred) and is meant for
``init_cfg=dict(type='Pretrained', checkpoint=DST)``.
"""
import os.path as osp
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:  # also when run with runpy or from elsewhere
    sys.path.insert(0, _HERE)
from _checkpoint_io import (converter_parser, convert_file,  # noqa: E402
                            run_conversion)

from vosbench.models.utils.backbone_converters import (  # noqa: E402
    convert_mmpretrain_resnet_state_dict, plan_mmpretrain_resnet_conversion)


def convert(src: str, dst: str) -> str:
    """Convert ``src`` to ``dst``; returns a summary."""
    return convert_file(
        src, dst,
        convert=convert_mmpretrain_resnet_state_dict,
        plan=plan_mmpretrain_resnet_conversion,
        meta=dict(
            source_format='mmpretrain ResNet',
            converter='tools/model_converters/'
            'mmpretrain_resnet_to_vosbench.py',
            model='ResNet'))


def parse_args(argv=None):
    return converter_parser(
        'Convert an mmpretrain ResNet checkpoint to vosbench\'s '
        '(torchvision\'s) ResNet names.',
        'the mmpretrain checkpoint').parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_conversion('mmpretrain_resnet_to_vosbench',
                          lambda: convert(args.src, args.dst))


if __name__ == '__main__':
    sys.exit(main())
