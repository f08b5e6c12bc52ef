"""Conversion between the original STM checkpoint format and vosbench's STM.

The original Space-Time Memory network (Oh et al., ICCV 2019) stores its
ResNet-50 model as a plain state dict with the prefixes ``Encoder_M``,
``Encoder_Q``, ``KV_M_r4``, ``KV_Q_r4`` and ``Decoder`` (558 tensors; a
``DataParallel`` checkpoint adds ``module.`` to every key). vosbench's
:class:`~vosbench.models.vos.STM` built with ResNet-50 encoders (stages 1-3),
128/512-channel key/value heads and a 256-channel :class:`STMDecoder` has the
same parameters under other names (552 tensors):

=====================================  =====================================
original                               vosbench
=====================================  =====================================
``Encoder_M.conv1/conv1_m/conv1_o``    ``memory_encoder.conv1`` (5 input
                                       channels: RGB, object mask, others)
``Encoder_{M,Q}.mean/std``             (none: fixed ImageNet ``pixel_mean`` /
                                       ``pixel_std``, non-persistent)
``Encoder_{M,Q}.bn1``                  ``{memory,query}_encoder.bn1``
``Encoder_{M,Q}.res2/res3/res4``       ``{memory,query}_encoder.layer1/2/3``
``Encoder_Q.conv1``                    ``query_encoder.conv1``
``KV_M_r4.Key/Value``                  ``memory_key_value.key_conv/value_conv``
``KV_Q_r4.Key/Value``                  ``query_key_value.key_conv/value_conv``
``Decoder.convFM``                     ``decoder.input_conv``
``Decoder.ResMM``                      ``decoder.input_block``
``Decoder.RF3`` / ``Decoder.RF2``      ``decoder.refine_modules.0`` / ``.1``
``RF*.convFS/ResFS/ResMM``             ``skip_conv/skip_block/fuse_block``
``Decoder.pred2``                      ``decoder.cls_conv``
=====================================  =====================================

The original memory encoder adds the outputs of three bias-free 7x7 convs
(frame, object mask, other objects' mask) before ``bn1``; that is one conv
over the 5-channel concatenated input, so the three weights are concatenated
along the input-channel dimension in that order.

Both conversions are strict: every source tensor must be used, every target
tensor produced, and every shape must match the ResNet-50 STM, otherwise a
:class:`ValueError` names the offending keys.
"""
from collections import OrderedDict
from typing import List, Mapping, Tuple

import torch
from torch import Tensor

from vosbench.utils.state_dict import strip_prefix

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'official_stm_shapes',
    'convert_official_stm_state_dict', 'to_official_stm_state_dict'
]

#: The normalisation the original encoders store as ``mean`` / ``std``.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_Shape = Tuple[int, ...]

#: ResNet-50 stages used by STM: (original name, ours, blocks, planes).
_STAGES = (('res2', 'layer1', 3, 64), ('res3', 'layer2', 4, 128),
           ('res4', 'layer3', 6, 256))
_KEY_CHANNELS, _VALUE_CHANNELS, _DECODER_CHANNELS = 128, 512, 256
_ENCODERS = (('Encoder_M', 'memory_encoder'), ('Encoder_Q', 'query_encoder'))
_KEY_VALUE = (('KV_M_r4', 'memory_key_value'), ('KV_Q_r4', 'query_key_value'))
#: Original names of the memory encoder's input convs, in input order.
_MEMORY_CONV1 = ('conv1', 'conv1_m', 'conv1_o')
#: Their input channels in the 5-channel conv: [start, stop).
_MEMORY_CONV1_CHANNELS = dict(conv1=(0, 3), conv1_m=(3, 4), conv1_o=(4, 5))
#: Renames (original prefix -> ours); the prefixes never overlap.
_RENAMES = (
    ('Decoder.RF3.convFS.', 'decoder.refine_modules.0.skip_conv.'),
    ('Decoder.RF3.ResFS.', 'decoder.refine_modules.0.skip_block.'),
    ('Decoder.RF3.ResMM.', 'decoder.refine_modules.0.fuse_block.'),
    ('Decoder.RF2.convFS.', 'decoder.refine_modules.1.skip_conv.'),
    ('Decoder.RF2.ResFS.', 'decoder.refine_modules.1.skip_block.'),
    ('Decoder.RF2.ResMM.', 'decoder.refine_modules.1.fuse_block.'),
    ('Decoder.convFM.', 'decoder.input_conv.'),
    ('Decoder.ResMM.', 'decoder.input_block.'),
    ('Decoder.pred2.', 'decoder.cls_conv.'),
    ('Encoder_Q.conv1.', 'query_encoder.conv1.'),
    ('KV_M_r4.Key.', 'memory_key_value.key_conv.'),
    ('KV_M_r4.Value.', 'memory_key_value.value_conv.'),
    ('KV_Q_r4.Key.', 'query_key_value.key_conv.'),
    ('KV_Q_r4.Value.', 'query_key_value.value_conv.'),
) + tuple(
    (f'{src}.{part}.', f'{dst}.{ours}.') for src, dst in _ENCODERS
    for part, ours in [('bn1', 'bn1')] + [stage[:2] for stage in _STAGES])


def _bn_shapes(prefix: str, channels: int) -> List[Tuple[str, _Shape]]:
    return [(f'{prefix}.weight', (channels, )),
            (f'{prefix}.bias', (channels, )),
            (f'{prefix}.running_mean', (channels, )),
            (f'{prefix}.running_var', (channels, )),
            (f'{prefix}.num_batches_tracked', ())]


def _conv_shapes(prefix: str,
                 out_ch: int,
                 in_ch: int,
                 kernel: int,
                 bias: bool = True) -> List[Tuple[str, _Shape]]:
    shapes = [(f'{prefix}.weight', (out_ch, in_ch, kernel, kernel))]
    if bias:
        shapes.append((f'{prefix}.bias', (out_ch, )))
    return shapes


def _res_block_shapes(prefix: str) -> List[Tuple[str, _Shape]]:
    c = _DECODER_CHANNELS
    return (_conv_shapes(f'{prefix}.conv1', c, c, 3) +
            _conv_shapes(f'{prefix}.conv2', c, c, 3))


def official_stm_shapes() -> 'OrderedDict[str, _Shape]':
    """Every key of the original ResNet-50 STM state dict and its shape.

    In the original's order (558 entries, without ``module.``). The
    ``num_batches_tracked`` entries are int64 scalars, the rest float32.

    Returns:
        OrderedDict[str, tuple[int, ...]]: key -> shape.
    """
    shapes: List[Tuple[str, _Shape]] = []
    for name, _ in _ENCODERS:
        shapes += [(f'{name}.mean', (1, 3, 1, 1)),
                   (f'{name}.std', (1, 3, 1, 1))]
        if name == 'Encoder_M':
            shapes += _conv_shapes(f'{name}.conv1_m', 64, 1, 7, bias=False)
            shapes += _conv_shapes(f'{name}.conv1_o', 64, 1, 7, bias=False)
        shapes += _conv_shapes(f'{name}.conv1', 64, 3, 7, bias=False)
        shapes += _bn_shapes(f'{name}.bn1', 64)
        inplanes = 64
        for stage, _, num_blocks, planes in _STAGES:
            for i in range(num_blocks):
                p = f'{name}.{stage}.{i}'
                shapes += _conv_shapes(f'{p}.conv1', planes, inplanes, 1,
                                       False)
                shapes += _bn_shapes(f'{p}.bn1', planes)
                shapes += _conv_shapes(f'{p}.conv2', planes, planes, 3, False)
                shapes += _bn_shapes(f'{p}.bn2', planes)
                shapes += _conv_shapes(f'{p}.conv3', planes * 4, planes, 1,
                                       False)
                shapes += _bn_shapes(f'{p}.bn3', planes * 4)
                if i == 0:
                    shapes += _conv_shapes(f'{p}.downsample.0', planes * 4,
                                           inplanes, 1, False)
                    shapes += _bn_shapes(f'{p}.downsample.1', planes * 4)
                inplanes = planes * 4
    for name, _ in _KEY_VALUE:
        shapes += _conv_shapes(f'{name}.Key', _KEY_CHANNELS, 1024, 3)
        shapes += _conv_shapes(f'{name}.Value', _VALUE_CHANNELS, 1024, 3)
    c = _DECODER_CHANNELS
    shapes += _conv_shapes('Decoder.convFM', c, 1024, 3)
    shapes += _res_block_shapes('Decoder.ResMM')
    for name, skip_channels in (('RF3', 512), ('RF2', 256)):
        shapes += _conv_shapes(f'Decoder.{name}.convFS', c, skip_channels, 3)
        shapes += _res_block_shapes(f'Decoder.{name}.ResFS')
        shapes += _res_block_shapes(f'Decoder.{name}.ResMM')
    shapes += _conv_shapes('Decoder.pred2', 2, c, 3)
    return OrderedDict(shapes)


def _rename(key: str, renames) -> str:
    for src, dst in renames:
        if key.startswith(src):
            return dst + key[len(src):]
    raise KeyError(key)


def _is_normalisation(key: str) -> bool:
    return key.endswith(('.mean', '.std')) and key.startswith('Encoder_')


def _is_memory_conv1(key: str) -> bool:
    return key in {f'Encoder_M.{c}.weight' for c in _MEMORY_CONV1}


def _target_shapes() -> 'OrderedDict[str, _Shape]':
    """Our key -> shape, in the original's order."""
    out: 'OrderedDict[str, _Shape]' = OrderedDict()
    for key, shape in official_stm_shapes().items():
        if _is_normalisation(key):
            continue
        if _is_memory_conv1(key):
            if key == 'Encoder_M.conv1.weight':
                out['memory_encoder.conv1.weight'] = (64, 5, 7, 7)
            continue
        out[_rename(key, _RENAMES)] = shape
    return out


def _check_keys_and_shapes(state_dict: Mapping[str, Tensor],
                           expected: Mapping[str, _Shape], what: str) -> None:
    unknown = [k for k in state_dict if k not in expected]
    missing = [k for k in expected if k not in state_dict]
    problems = []
    if unknown:
        problems.append(f'{len(unknown)} unknown key(s): {", ".join(unknown)}')
    if missing:
        problems.append(f'{len(missing)} missing key(s): {", ".join(missing)}')
    if not problems:
        wrong = [
            f'{k}: {tuple(v.shape)}, expected {expected[k]}'
            for k, v in state_dict.items() if tuple(v.shape) != expected[k]
        ]
        if wrong:
            problems.append(f'{len(wrong)} shape mismatch(es): ' +
                            '; '.join(wrong))
    if problems:
        raise ValueError(f'{what} is not a ResNet-50 STM state dict: ' +
                         '. '.join(problems))


def _check_normalisation(state_dict: Mapping[str, Tensor]) -> None:
    for name, _ in _ENCODERS:
        for stat, values in (('mean', IMAGENET_MEAN), ('std', IMAGENET_STD)):
            key = f'{name}.{stat}'
            found = state_dict[key].detach().to('cpu', torch.float64)
            ref = torch.tensor(values, dtype=torch.float64).view(1, 3, 1, 1)
            if not torch.allclose(found, ref, rtol=0, atol=1e-6):
                raise ValueError(
                    f'{key} is {found.flatten().tolist()}, but vosbench '
                    f'normalises with the ImageNet {stat} {list(values)}; '
                    'this checkpoint cannot be converted as it is')


def convert_official_stm_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Convert an original STM (ResNet-50) state dict to vosbench's names.

    Args:
        state_dict (Mapping[str, Tensor]): The 558 tensors of the original
            checkpoint, keys with or without the ``module.`` prefix of
            ``DataParallel``.

    Returns:
        OrderedDict[str, Tensor]: The 552 tensors of
        :class:`~vosbench.models.vos.STM` (load with ``strict=True``). Tensors
        are shared with the input except ``memory_encoder.conv1.weight``,
        which concatenates ``Encoder_M.conv1``, ``conv1_m`` and ``conv1_o``
        along the input channels.

    Raises:
        ValueError: On unknown or missing keys (all listed by name), on a
            shape that differs from the ResNet-50 STM, or when the encoders'
            ``mean`` / ``std`` are not ImageNet's (vosbench normalises with
            fixed ImageNet statistics).
    """
    source = strip_prefix(state_dict, what='the STM checkpoint')
    _check_keys_and_shapes(source, official_stm_shapes(), 'the STM checkpoint')
    _check_normalisation(source)
    out: 'OrderedDict[str, Tensor]' = OrderedDict()
    for key in official_stm_shapes():
        if _is_normalisation(key):
            continue
        if _is_memory_conv1(key):
            if 'memory_encoder.conv1.weight' not in out:
                out['memory_encoder.conv1.weight'] = torch.cat(
                    [source[f'Encoder_M.{c}.weight'] for c in _MEMORY_CONV1],
                    dim=1)
            continue
        out[_rename(key, _RENAMES)] = source[key]
    # every target produced (guards the tables above)
    _check_keys_and_shapes(out, _target_shapes(), 'the converted state dict')
    return out


def to_official_stm_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Convert a vosbench ResNet-50 STM state dict to the original format.

    The inverse of :func:`convert_official_stm_state_dict`: the result has
    exactly the 558 keys of the original checkpoint, in its order, including
    ``Encoder_M/Encoder_Q.mean`` and ``.std`` (ImageNet statistics, float32,
    shape ``(1, 3, 1, 1)``) and every ``num_batches_tracked``.

    Args:
        state_dict (Mapping[str, Tensor]): ``STM.state_dict()`` (552
            tensors), keys with or without ``module.``.

    Returns:
        OrderedDict[str, Tensor]: Original names. The three input convs of
        the memory encoder are copies of slices of
        ``memory_encoder.conv1.weight``; other tensors are shared with the
        input.

    Raises:
        ValueError: On unknown or missing keys (listed by name) or a shape
            that differs from the ResNet-50 STM.
    """
    source = strip_prefix(state_dict, what='the vosbench STM state dict')
    _check_keys_and_shapes(source, _target_shapes(),
                           'the vosbench STM state dict')
    device = source['query_encoder.conv1.weight'].device
    out: 'OrderedDict[str, Tensor]' = OrderedDict()
    for key in official_stm_shapes():
        if _is_normalisation(key):
            values = IMAGENET_MEAN if key.endswith('.mean') else IMAGENET_STD
            out[key] = torch.tensor(values, dtype=torch.float32,
                                    device=device).view(1, 3, 1, 1)
        elif _is_memory_conv1(key):
            start, stop = _MEMORY_CONV1_CHANNELS[key.split('.')[1]]
            out[key] = source['memory_encoder.conv1.weight'][:, start:stop]\
                .clone()
        else:
            out[key] = source[_rename(key, _RENAMES)]
    _check_keys_and_shapes(out, official_stm_shapes(),
                           'the converted state dict')
    return out
