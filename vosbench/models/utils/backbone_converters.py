"""Conversion of ImageNet backbone checkpoints to vosbench's parameter names.

Pure functions on state dicts (no file access; the command-line tools are
``tools/model_converters/resnest_to_vosbench.py`` and
``tools/model_converters/mmpretrain_resnet_to_vosbench.py``). Every source key
is either renamed or dropped for a stated reason; an unknown source key, a
missing or unexpected target key, or a shape that differs from the target
backbone raises a :class:`ValueError` that names the keys.

**torchvision ResNet** checkpoints need no conversion: our
:class:`~vosbench.models.backbones.ResNet` uses torchvision's names, and its
``Pretrained`` init drops ``fc.*``.

**ResNeSt, the authors' naming** (``zhanghang1989/ResNeSt``, e.g. the
``resnest50`` checkpoint of ``torch.hub``; verified against the authors'
``resnet.py`` / ``splat.py``). With radix >= 1 the authors' bottleneck has no
``bn2``: the split-attention conv holds its own norms. Keys, with ``{bn}`` =
``weight|bias|running_mean|running_var|num_batches_tracked``:

======================================  ======================================
authors                                 vosbench ``ResNeSt``
======================================  ======================================
``conv1.0.weight``                      ``stem.conv1.weight``
``conv1.1.{bn}``                        ``stem.bn1.{bn}``
``conv1.3.weight``                      ``stem.conv2.weight``
``conv1.4.{bn}``                        ``stem.bn2.{bn}``
``conv1.6.weight``                      ``stem.conv3.weight``
``bn1.{bn}``                            ``stem.bn3.{bn}``
``layerS.B.conv1/conv3.weight``         same
``layerS.B.bn1/bn3.{bn}``               same
``layerS.B.conv2.conv.weight``          same
``layerS.B.conv2.bn0/bn1.{bn}``         same
``layerS.B.conv2.fc1/fc2.weight/bias``  same
``layerS.0.downsample.1.weight``        ``layerS.0.downsample.0.weight``
``layerS.0.downsample.2.{bn}``          ``layerS.0.downsample.1.{bn}``
``fc.weight/bias``                      dropped (ImageNet classifier)
======================================  ======================================

(``downsample.0`` is the authors' parameter-free average pool, present in
every stage, with a 1x1 kernel in stage 1.)

**ResNeSt, mmpretrain's naming** (``mmpretrain.models.ResNeSt``, a
``ResNetV1d``; checkpoints ``{'meta', 'state_dict'}`` with ``backbone.`` and
``head.`` prefixes; verified against mmpretrain's ``resnet.py`` /
``resnest.py``):

==========================================  ==================================
mmpretrain (after ``backbone.``)            vosbench ``ResNeSt``
==========================================  ==================================
``stem.0.conv.weight`` / ``stem.0.bn.*``    ``stem.conv1`` / ``stem.bn1``
``stem.1.conv.weight`` / ``stem.1.bn.*``    ``stem.conv2`` / ``stem.bn2``
``stem.2.conv.weight`` / ``stem.2.bn.*``    ``stem.conv3`` / ``stem.bn3``
``layerS.B.conv1/bn1/conv3/bn3.*``          same
``layerS.B.conv2.conv.weight``              same
``layerS.B.conv2.norm0.*`` / ``norm1.*``    ``layerS.B.conv2.bn0`` / ``bn1``
``layerS.B.conv2.fc1/fc2.*``                same
``layerS.0.downsample.{i}.*`` / ``{i+1}``   ``layerS.0.downsample.0`` / ``.1``
``head.*``                                  dropped (classification head)
``data_preprocessor.*``                     dropped (normalisation constants)
==========================================  ==================================

mmpretrain's stem is three ``ConvModule`` s (``stem.N.conv``/``stem.N.bn``).
The plain ``nn.Sequential`` deep stem of mmdetection / mmsegmentation
(``stem.0/1`` conv/norm, ``stem.3/4``, ``stem.6/7``, ReLUs at 2, 5, 8) is
accepted as well. mmpretrain adds the shortcut's average pool only to strided
stages, so the shortcut conv is ``downsample.0`` in stage 1 and
``downsample.1`` elsewhere (mmdetection adds a 1x1 pool in stage 1 too); the
conversion decides per block: when the block has ``downsample.2.*`` keys, the
pool is index 0.

**ResNet, mmpretrain's naming**: ``backbone.conv1``, ``backbone.bn1`` and
``backbone.layerS.B.{conv1,bn1,conv2,bn2,conv3,bn3,downsample.0,
downsample.1}`` are torchvision's names with a ``backbone.`` prefix (style
``pytorch``: stride on the 3x3 conv, as torchvision); ``head.*`` and
``data_preprocessor.*`` are dropped. mmpretrain's ``ResNetV1c`` /
``ResNetV1d`` (deep stem ``backbone.stem.*``) are different networks and are
refused.
"""
import re
from collections import OrderedDict
from functools import lru_cache
from typing import (Callable, Dict, Iterable, List, Mapping, NamedTuple,
                    Optional, Tuple)

import torch
from torch import Tensor

from vosbench.utils.state_dict import strip_prefix

__all__ = [
    'RESNEST_SOURCE_FORMATS', 'ConversionPlan', 'plan_resnest_conversion',
    'convert_resnest_state_dict', 'plan_mmpretrain_resnet_conversion',
    'convert_mmpretrain_resnet_state_dict', 'resnest_state_dict_shapes',
    'resnet_state_dict_shapes'
]

#: Naming schemes :func:`convert_resnest_state_dict` reads.
RESNEST_SOURCE_FORMATS = ('official', 'mmpretrain')

_Shape = Tuple[int, ...]
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_BLOCK = r'(layer[1-4]\.\d+)'

#: (source pattern, target template) for the authors' ResNeSt names.
_OFFICIAL_RESNEST_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv1\.0\.weight', r'stem.conv1.weight'),
    (rf'conv1\.1\.{_BN}', r'stem.bn1.\1'),
    (r'conv1\.3\.weight', r'stem.conv2.weight'),
    (rf'conv1\.4\.{_BN}', r'stem.bn2.\1'),
    (r'conv1\.6\.weight', r'stem.conv3.weight'),
    (rf'bn1\.{_BN}', r'stem.bn3.\1'),
    (rf'{_BLOCK}\.(conv1|conv3)\.weight', r'\1.\2.weight'),
    (rf'{_BLOCK}\.(bn1|bn3)\.{_BN}', r'\1.\2.\3'),
    (rf'{_BLOCK}\.conv2\.conv\.weight', r'\1.conv2.conv.weight'),
    (rf'{_BLOCK}\.conv2\.(bn0|bn1)\.{_BN}', r'\1.conv2.\2.\3'),
    (rf'{_BLOCK}\.conv2\.(fc1|fc2)\.(weight|bias)', r'\1.conv2.\2.\3'),
    (rf'{_BLOCK}\.downsample\.1\.weight', r'\1.downsample.0.weight'),
    (rf'{_BLOCK}\.downsample\.2\.{_BN}', r'\1.downsample.1.\2'),
)
_OFFICIAL_RESNEST_DROPPED: Tuple[Tuple[str, str], ...] = (
    (r'fc\.(weight|bias)',
     'ImageNet classifier, not part of the backbone'), )

#: The same for mmpretrain's ResNeSt (keys after ``backbone.``); the
#: shortcut's indices are handled separately (see _mmpretrain_downsample).
_MMPRETRAIN_RESNEST_RULES: Tuple[Tuple[str, str], ...] = (
    # mmpretrain: ConvModule stem
    (r'stem\.0\.conv\.weight', r'stem.conv1.weight'),
    (rf'stem\.0\.bn\.{_BN}', r'stem.bn1.\1'),
    (r'stem\.1\.conv\.weight', r'stem.conv2.weight'),
    (rf'stem\.1\.bn\.{_BN}', r'stem.bn2.\1'),
    (r'stem\.2\.conv\.weight', r'stem.conv3.weight'),
    (rf'stem\.2\.bn\.{_BN}', r'stem.bn3.\1'),
    # mmdetection / mmsegmentation: plain Sequential stem
    (r'stem\.0\.weight', r'stem.conv1.weight'),
    (rf'stem\.1\.{_BN}', r'stem.bn1.\1'),
    (r'stem\.3\.weight', r'stem.conv2.weight'),
    (rf'stem\.4\.{_BN}', r'stem.bn2.\1'),
    (r'stem\.6\.weight', r'stem.conv3.weight'),
    (rf'stem\.7\.{_BN}', r'stem.bn3.\1'),
    (rf'{_BLOCK}\.(conv1|conv3)\.weight', r'\1.\2.weight'),
    (rf'{_BLOCK}\.(bn1|bn3)\.{_BN}', r'\1.\2.\3'),
    (rf'{_BLOCK}\.conv2\.conv\.weight', r'\1.conv2.conv.weight'),
    (rf'{_BLOCK}\.conv2\.norm0\.{_BN}', r'\1.conv2.bn0.\2'),
    (rf'{_BLOCK}\.conv2\.norm1\.{_BN}', r'\1.conv2.bn1.\2'),
    (rf'{_BLOCK}\.conv2\.(fc1|fc2)\.(weight|bias)', r'\1.conv2.\2.\3'),
)
_MMPRETRAIN_DROPPED: Tuple[Tuple[str, str], ...] = (
    (r'head\..+', 'classification head, not part of the backbone'),
    (r'data_preprocessor\..+',
     'input normalisation constants; vosbench normalises in the model'),
)
_DOWNSAMPLE = re.compile(rf'{_BLOCK}\.downsample\.(\d+)\.(.+)')

#: Our ResNet's names are torchvision's: mmpretrain's are the same.
_RESNET_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv1\.weight', r'conv1.weight'),
    (rf'bn1\.{_BN}', r'bn1.\1'),
    (rf'{_BLOCK}\.(conv[123])\.weight', r'\1.\2.weight'),
    (rf'{_BLOCK}\.(bn[123])\.{_BN}', r'\1.\2.\3'),
    (rf'{_BLOCK}\.downsample\.0\.weight', r'\1.downsample.0.weight'),
    (rf'{_BLOCK}\.downsample\.1\.{_BN}', r'\1.downsample.1.\2'),
)


class ConversionPlan(NamedTuple):
    """What a conversion does with every source key.

    Attributes:
        renames (OrderedDict[str, str]): Source key -> target key.
        dropped (OrderedDict[str, str]): Source key -> why it is dropped.
    """
    renames: 'OrderedDict[str, str]'
    dropped: 'OrderedDict[str, str]'


# ---------------------------------------------------------------------------
# target layouts
# ---------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _meta_shapes(kind: str, depth: int) -> Tuple[Tuple[str, _Shape], ...]:
    from vosbench.models.backbones import ResNeSt, ResNet
    cls = dict(ResNeSt=ResNeSt, ResNet=ResNet)[kind]
    with torch.device('meta'):  # shapes only, no memory, no init
        model = cls(depth)
    return tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())


def resnest_state_dict_shapes(depth: int = 50) -> 'OrderedDict[str, _Shape]':
    """Keys and shapes of ``ResNeSt(depth).state_dict()`` (4 stages, 3 input
    channels, default widths)."""
    return OrderedDict(_meta_shapes('ResNeSt', depth))


def resnet_state_dict_shapes(depth: int = 50) -> 'OrderedDict[str, _Shape]':
    """Keys and shapes of ``ResNet(depth).state_dict()`` (4 stages, 3 input
    channels, default widths)."""
    return OrderedDict(_meta_shapes('ResNet', depth))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _apply_rules(key: str,
                 rules: Iterable[Tuple[str, str]]) -> Optional[str]:
    for pattern, template in rules:
        match = re.fullmatch(pattern, key)
        if match:
            return match.expand(template)
    return None


def _drop_reason(key: str,
                 dropped: Iterable[Tuple[str, str]]) -> Optional[str]:
    for pattern, reason in dropped:
        if re.fullmatch(pattern, key):
            return reason
    return None


def _plan(keys: Iterable[str], dropped_rules: Iterable[Tuple[str, str]],
          rename: Callable[[str], Optional[str]]
          ) -> Tuple[ConversionPlan, List[str]]:
    """Sort every key, in order: dropped (it matches ``dropped_rules``,
    with the reason), else renamed (``rename(key)`` gives its new name),
    else unknown."""
    renames: 'OrderedDict[str, str]' = OrderedDict()
    dropped: 'OrderedDict[str, str]' = OrderedDict()
    unknown: List[str] = []
    for key in keys:
        reason = _drop_reason(key, dropped_rules)
        target = rename(key) if reason is None else None
        if reason is not None:
            dropped[key] = reason
        elif target is not None:
            renames[key] = target
        else:
            unknown.append(key)
    return ConversionPlan(renames, dropped), unknown


def _backbone_key(key: str) -> Optional[str]:
    """``key`` without mmpretrain's ``backbone.``, or None without it."""
    return key[len('backbone.'):] if key.startswith('backbone.') else None


def _shown(keys: List[str], limit: int = 40) -> str:
    """The keys, comma-separated (the first ``limit`` of many)."""
    if len(keys) <= limit:
        return ', '.join(keys)
    return ', '.join(keys[:limit]) + f', ... ({len(keys) - limit} more)'


def _raise_unknown(unknown: List[str], what: str, hint: str = '') -> None:
    if unknown:
        raise ValueError(f'{what}: {len(unknown)} unknown key(s), neither '
                         f'converted nor known to be droppable: '
                         f'{_shown(unknown)}' + (f'. {hint}' if hint else ''))


def _stage_blocks(keys: Iterable[str]) -> Tuple[int, ...]:
    """Number of blocks per stage ``layer1..layer4`` found in ``keys``."""
    blocks: Dict[int, set] = {i: set() for i in range(1, 5)}
    for key in keys:
        match = re.match(r'layer([1-4])\.(\d+)\.', key)
        if match:
            blocks[int(match.group(1))].add(int(match.group(2)))
    return tuple(len(blocks[i]) for i in range(1, 5))


_NUM_BATCHES_TRACKED = '.num_batches_tracked'


def _assemble(source: Mapping[str, Tensor], plan: ConversionPlan,
              expected: Mapping[str, _Shape],
              what: str) -> 'OrderedDict[str, Tensor]':
    """Rename per ``plan`` and check against ``expected`` (keys, shapes).

    A source without any ``num_batches_tracked`` (e.g. converted from
    another framework; PyTorch's BatchNorm loads such state dicts too) gets
    them as int64 zeros; they only count updates and matter only for
    ``momentum=None``. A source with some of them is checked as usual.
    """
    converted: Dict[str, Tensor] = {}
    sources: Dict[str, str] = {}
    for src, dst in plan.renames.items():
        if dst in converted:
            raise ValueError(f'{what}: {src!r} and {sources[dst]!r} both '
                             f'convert to {dst!r}')
        converted[dst] = source[src]
        sources[dst] = src
    if not any(k.endswith(_NUM_BATCHES_TRACKED) for k in converted):
        for key in expected:
            if key.endswith(_NUM_BATCHES_TRACKED):
                converted[key] = torch.tensor(0, dtype=torch.long)
                sources[key] = '(filled with 0)'
    problems = []
    unexpected = [f'{sources[k]} (-> {k})' for k in converted
                  if k not in expected]
    missing = [k for k in expected if k not in converted]
    if unexpected:
        problems.append(f'{len(unexpected)} unexpected key(s): '
                        f'{_shown(unexpected)}')
    if missing:
        problems.append(f'{len(missing)} missing key(s): {_shown(missing)}')
    wrong = [
        f'{sources[k]} (-> {k}): {tuple(v.shape)}, expected {expected[k]}'
        for k, v in converted.items()
        if k in expected and tuple(v.shape) != expected[k]
    ]
    if wrong:
        problems.append(f'{len(wrong)} shape mismatch(es): ' +
                        '; '.join(wrong))
    if problems:
        raise ValueError(f'{what}: ' + '. '.join(problems))
    return OrderedDict((k, converted[k]) for k in expected)


def _infer_depth(keys: Iterable[str], layouts: Mapping[int, Tuple[int, ...]],
                 what: str, depth: Optional[int]) -> int:
    if depth is not None:
        if depth not in layouts:
            raise ValueError(f'{what}: unsupported depth {depth}; choose one '
                             f'of {sorted(layouts)}')
        return depth
    found = _stage_blocks(keys)
    for candidate, blocks in layouts.items():
        if blocks == found:
            return candidate
    known = ', '.join(f'{d}: {b}' for d, b in layouts.items())
    raise ValueError(f'{what}: blocks per stage {found} match no supported '
                     f'depth ({known})')


# ---------------------------------------------------------------------------
# ResNeSt
# ---------------------------------------------------------------------------
def _mmpretrain_downsample(key: str, pooled_blocks: set) -> Optional[str]:
    """Our name of an mmpretrain shortcut key, or None if it is not one."""
    match = _DOWNSAMPLE.fullmatch(key)
    if match is None:
        return None
    block, index, rest = match.group(1), int(match.group(2)), match.group(3)
    first = 1 if block in pooled_blocks else 0  # index of the 1x1 conv
    if index == first and rest == 'weight':
        return f'{block}.downsample.0.weight'
    if index == first + 1 and re.fullmatch(_BN, rest):
        return f'{block}.downsample.1.{rest}'
    return None


def plan_resnest_conversion(keys: Iterable[str],
                            src_format: str = 'official') -> ConversionPlan:
    """Decide what becomes of every key of a ResNeSt checkpoint.

    Args:
        keys (Iterable[str]): Source keys (without ``module.``).
        src_format (str): ``'official'`` (the authors' names) or
            ``'mmpretrain'`` (``backbone.*`` / ``head.*``); see the module
            docstring for both tables.

    Returns:
        ConversionPlan: Renames (source -> ours) and dropped keys (source ->
        reason), in source order.

    Raises:
        ValueError: On an unknown format, or on keys that are neither
            renamed nor droppable (all listed by name).
    """
    if src_format not in RESNEST_SOURCE_FORMATS:
        raise ValueError(f'unknown ResNeSt source format {src_format!r}; '
                         f'choose one of {RESNEST_SOURCE_FORMATS}')
    keys = list(keys)
    what = f'the ResNeSt checkpoint ({src_format} names)'
    if src_format == 'official':
        plan, unknown = _plan(
            keys, _OFFICIAL_RESNEST_DROPPED,
            lambda key: _apply_rules(key, _OFFICIAL_RESNEST_RULES))
        hint = ''
        if any(k.startswith('backbone.') for k in unknown):
            hint = 'The keys start with "backbone.": try src_format ' \
                   "'mmpretrain'."
        _raise_unknown(unknown, what, hint)
        return plan

    pooled_blocks = set()
    for key in keys:
        match = _DOWNSAMPLE.fullmatch(key[len('backbone.'):])
        if key.startswith('backbone.') and match and match.group(2) == '2':
            pooled_blocks.add(match.group(1))

    def rename(key: str) -> Optional[str]:
        inner = _backbone_key(key)
        if inner is None:
            return None
        return (_apply_rules(inner, _MMPRETRAIN_RESNEST_RULES)
                or _mmpretrain_downsample(inner, pooled_blocks))

    plan, unknown = _plan(keys, _MMPRETRAIN_DROPPED, rename)
    hint = ''
    if unknown and not any(k.startswith('backbone.') for k in keys):
        hint = 'No key starts with "backbone.": try src_format \'official\'.'
    _raise_unknown(unknown, what, hint)
    return plan


def convert_resnest_state_dict(
        state_dict: Mapping[str, Tensor],
        src_format: str = 'official',
        depth: Optional[int] = None) -> 'OrderedDict[str, Tensor]':
    """Convert a ResNeSt ImageNet checkpoint to our ``ResNeSt`` names.

    Args:
        state_dict (Mapping[str, Tensor]): The source state dict (keys with
            or without ``module.``).
        src_format (str): ``'official'`` or ``'mmpretrain'``.
        depth (int, optional): 50 or 101; inferred from the number of blocks
            per stage when None.

    Returns:
        OrderedDict[str, Tensor]: Exactly the keys of
        ``ResNeSt(depth).state_dict()``, in its order, sharing the source
        tensors (``num_batches_tracked`` filled with 0 when the source has
        none at all). Load with ``strict=True``, or through
        ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (which also
        drops stages beyond ``num_stages`` and adapts the input channels).

    Raises:
        ValueError: On unknown source keys, missing or unexpected target
            keys, or shapes that differ from ``ResNeSt(depth)``; the message
            names every offending key.
    """
    what = f'the ResNeSt checkpoint ({src_format} names)'
    source = strip_prefix(state_dict, what=what)
    plan = plan_resnest_conversion(source, src_format)
    from vosbench.models.backbones import ResNeSt
    layouts = {d: s[0] for d, s in ResNeSt.arch_settings.items()}
    depth = _infer_depth(plan.renames.values(), layouts, what, depth)
    return _assemble(source, plan, resnest_state_dict_shapes(depth), what)


# ---------------------------------------------------------------------------
# ResNet (mmpretrain)
# ---------------------------------------------------------------------------
def plan_mmpretrain_resnet_conversion(keys: Iterable[str]) -> ConversionPlan:
    """Decide what becomes of every key of an mmpretrain ResNet checkpoint.

    ``backbone.X`` -> ``X`` for torchvision-named ResNet keys; ``head.*`` and
    ``data_preprocessor.*`` dropped.

    Raises:
        ValueError: On keys that are neither renamed nor droppable (listed by
            name); the message points out a ResNetV1c/V1d deep stem.
    """
    def rename(key: str) -> Optional[str]:
        inner = _backbone_key(key)
        return None if inner is None else _apply_rules(inner, _RESNET_RULES)

    plan, unknown = _plan(keys, _MMPRETRAIN_DROPPED, rename)
    hint = ''
    if any(k.startswith('backbone.stem.') for k in unknown):
        hint = ('backbone.stem.* is the deep stem of mmpretrain\'s ResNetV1c '
                '/ ResNetV1d, a different network from our ResNet '
                '(torchvision\'s v1.5).')
    elif unknown and not any(k.startswith('backbone.') for k in unknown):
        hint = ('Torchvision ResNet checkpoints need no conversion: load '
                'them directly.')
    _raise_unknown(unknown, 'the mmpretrain ResNet checkpoint', hint)
    return plan


def convert_mmpretrain_resnet_state_dict(
        state_dict: Mapping[str, Tensor],
        depth: Optional[int] = None) -> 'OrderedDict[str, Tensor]':
    """Convert an mmpretrain ResNet checkpoint to our ``ResNet`` names.

    Args:
        state_dict (Mapping[str, Tensor]): The source state dict (keys with
            or without ``module.``).
        depth (int, optional): 18, 34, 50, 101 or 152; inferred from the
            blocks per stage (and ``conv3`` for bottlenecks) when None.

    Returns:
        OrderedDict[str, Tensor]: Exactly the keys of
        ``ResNet(depth).state_dict()``, in its order, sharing the source
        tensors (``num_batches_tracked`` filled with 0 when the source has
        none at all).

    Raises:
        ValueError: On unknown source keys, missing or unexpected target
            keys, or shapes that differ from ``ResNet(depth)``, each named.
    """
    what = 'the mmpretrain ResNet checkpoint'
    source = strip_prefix(state_dict, what=what)
    plan = plan_mmpretrain_resnet_conversion(source)
    from vosbench.models.backbones import ResNet
    bottleneck = any('.conv3.' in k for k in plan.renames.values())
    layouts = {
        d: blocks
        for d, (block, blocks) in ResNet.arch_settings.items()
        if (block.expansion == 4) == bottleneck
    }
    if depth is None:
        depth = _infer_depth(plan.renames.values(), layouts, what, None)
    elif depth not in ResNet.arch_settings:
        raise ValueError(f'{what}: unsupported depth {depth}; choose one of '
                         f'{sorted(ResNet.arch_settings)}')
    return _assemble(source, plan, resnet_state_dict_shapes(depth), what)
