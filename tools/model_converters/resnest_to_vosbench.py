"""Convert a ResNeSt ImageNet checkpoint to vosbench's ResNeSt names.

Usage::

    python tools/model_converters/resnest_to_vosbench.py \\
        resnest50-528c19ca.pth data/pretrained/resnest50_vosbench.pth
    python tools/model_converters/resnest_to_vosbench.py \\
        resnest50_imagenet_converted.pth data/pretrained/resnest50.pth \\
        --src-format mmpretrain

``--src-format official`` (default) reads the ResNeSt authors' names
(``zhanghang1989/ResNeSt``: ``conv1.0``, ``bn1``, ``layerS.B.conv2.bn0``,
``downsample.1``, ``fc``); ``mmpretrain`` reads ``backbone.stem.N.conv``,
``backbone.layerS.B.conv2.norm0``, ``head.fc`` (also the
mmdetection/mmsegmentation deep stem ``backbone.stem.0/1/3/4/6/7``). The key
tables are in :mod:`vosbench.models.utils.backbone_converters`. The classifier
is dropped; any other key that is not converted is an error naming it.

The source is loaded with ``weights_only=True`` (a ``{'state_dict': ...}``
wrapper and a ``module.`` prefix are accepted). The result,
``dict(state_dict=..., meta=...)``, holds exactly the tensors of
``ResNeSt(depth)`` (depth inferred: 50 or 101) and is meant for
``init_cfg=dict(type='Pretrained', checkpoint=DST)`` of a ``ResNeSt``
backbone, which drops the stages that are not built and zero-extends the
first conv to 5 input channels for STM's memory encoder.
"""
import os.path as osp
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:  # also when run with runpy or from elsewhere
    sys.path.insert(0, _HERE)
from _checkpoint_io import (converter_parser, convert_file,  # noqa: E402
                            run_conversion)

from vosbench.models.utils.backbone_converters import (  # noqa: E402
    RESNEST_SOURCE_FORMATS, convert_resnest_state_dict,
    plan_resnest_conversion)

_FORMAT_NAMES = dict(
    official='ResNeSt authors (zhanghang1989/ResNeSt)',
    mmpretrain='mmpretrain ResNeSt')


def convert(src: str, dst: str, src_format: str = 'official') -> str:
    """Convert ``src`` to ``dst``; returns a summary."""
    return convert_file(
        src, dst,
        convert=lambda sd: convert_resnest_state_dict(sd, src_format),
        plan=lambda keys: plan_resnest_conversion(keys, src_format),
        meta=dict(source_format=_FORMAT_NAMES[src_format],
                  converter='tools/model_converters/resnest_to_vosbench.py',
                  model='ResNeSt'))


def parse_args(argv=None):
    parser = converter_parser(
        'Convert a ResNeSt ImageNet checkpoint (the authors\' or '
        'mmpretrain\'s names) to vosbench\'s ResNeSt names.',
        'the source checkpoint')
    parser.add_argument(
        '--src-format',
        choices=RESNEST_SOURCE_FORMATS,
        default='official',
        help='naming of the source (default: official)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_conversion(
        'resnest_to_vosbench',
        lambda: convert(args.src, args.dst, args.src_format))


if __name__ == '__main__':
    sys.exit(main())
