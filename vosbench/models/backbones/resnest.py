"""ResNeSt backbone (Zhang et al., "ResNeSt: Split-Attention Networks", 2020).

Written from the specification in REFERENCE.md section 4 (ResNeSt-50,
"2s1x64d": radix 2, cardinality 1, bottleneck width 64).

Parameter names (ours; torchvision-like, documented here because they differ
from both the ResNeSt authors' and mmpretrain's, see
:mod:`vosbench.models.utils.backbone_converters` for the correspondence):

==============================  ==============================================
key prefix                      module
==============================  ==============================================
``stem.conv1`` / ``stem.bn1``   3x3/2 conv ``in_channels -> stem/2``, norm
``stem.conv2`` / ``stem.bn2``   3x3 conv ``stem/2 -> stem/2``, norm
``stem.conv3`` / ``stem.bn3``   3x3 conv ``stem/2 -> stem``, norm
``layer{s}.{b}.conv1/bn1``      1x1 reduce ``-> C`` (the group width), norm
``layer{s}.{b}.conv2.conv``     3x3 grouped conv ``C -> radix*C``
``layer{s}.{b}.conv2.bn0``      its norm
``layer{s}.{b}.conv2.fc1``      1x1 conv with bias ``C -> attention width``
``layer{s}.{b}.conv2.bn1``      its norm
``layer{s}.{b}.conv2.fc2``      1x1 conv with bias ``-> radix*C``
``layer{s}.{b}.conv3/bn3``      1x1 expand ``C -> 4*planes``, norm
``layer{s}.0.downsample.0/1``   shortcut 1x1 conv (no bias), norm (as
                                torchvision; the average pool before it has
                                no parameters and is ``shortcut_pool``)
==============================  ==============================================

The ReLUs, the 3x3/2 max-pool after the stem and the average pools
(``stride_pool`` on the main path, ``shortcut_pool`` on the shortcut) have no
parameters. There is no ``bn2``: the split-attention conv normalises itself.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from vosbench.registry import BACKBONES
from vosbench.utils.typing_utils import OptMultiConfig
from .freezing import FrozenStagesMixin
from .pretrained import PretrainedInitMixin
from .stages import ResidualStagesMixin, check_stage_args, norm_layer


class SplitAttentionConv2d(nn.Module):
    """Split-attention 3x3 convolution.

    A 3x3 conv ``in_channels -> radix * channels`` with ``groups * radix``
    groups, norm and ReLU gives ``radix`` splits of ``channels`` channels.
    Their sum is average-pooled globally, squeezed by a 1x1 conv with bias to
    ``max(in_channels * radix // reduction_factor, min_attention_channels)``
    channels (norm, ReLU) and expanded by a 1x1 conv with bias to
    ``radix * channels`` logits (both 1x1 convs with ``groups`` groups). A
    softmax across the radix axis (within each group; a sigmoid when
    ``radix == 1``) gives the weights of the splits, whose weighted sum is
    the output.

    Channel order: split ``r`` is channels ``[r*channels, (r+1)*channels)``
    of the 3x3 conv's output; the logits of ``fc2`` are ordered
    (group, radix, channel within the group), as in the authors' models, so
    that their checkpoints load unchanged.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels (the width of each split).
        stride (int): Stride of the 3x3 conv. Defaults to 1.
        groups (int): Cardinality. Defaults to 1.
        radix (int): Number of splits. Defaults to 2.
        reduction_factor (int): Squeeze factor of the attention. Defaults
            to 4.
        min_attention_channels (int): Lower bound of the attention width.
            Defaults to 32.
        norm_cfg (dict): Norm layer config.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 stride: int = 1,
                 groups: int = 1,
                 radix: int = 2,
                 reduction_factor: int = 4,
                 min_attention_channels: int = 32,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        if radix < 1:
            raise ValueError(f'radix must be >= 1, got {radix}')
        if channels % groups:
            raise ValueError(f'channels ({channels}) must be divisible by '
                             f'groups ({groups})')
        attention_channels = max(in_channels * radix // reduction_factor,
                                 min_attention_channels)
        self.channels = channels
        self.groups = groups
        self.radix = radix
        self.attention_channels = attention_channels
        self.conv = nn.Conv2d(
            in_channels,
            channels * radix,
            3,
            stride=stride,
            padding=1,
            groups=groups * radix,
            bias=False)
        self.bn0 = norm_layer(norm_cfg, channels * radix)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, attention_channels, 1, groups=groups)
        self.bn1 = norm_layer(norm_cfg, attention_channels)
        self.fc2 = nn.Conv2d(
            attention_channels, channels * radix, 1, groups=groups)

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> (B, channels, H/stride, W/stride)."""
        x = self.relu(self.bn0(self.conv(x)))
        batch, _, height, width = x.shape
        if self.radix > 1:
            splits = x.view(batch, self.radix, self.channels, height, width)
            gap = splits.sum(dim=1)
        else:
            gap = x
        gap = F.adaptive_avg_pool2d(gap, 1)
        logits = self.fc2(self.relu(self.bn1(self.fc1(gap))))
        if self.radix == 1:
            return torch.sigmoid(logits) * x
        # (B, groups, radix, channels/groups): softmax over the radix axis,
        # then reorder to (B, radix, channels) to match the splits.
        weights = logits.view(batch, self.groups, self.radix, -1).softmax(2)
        weights = weights.transpose(1, 2).reshape(batch, self.radix,
                                                  self.channels, 1, 1)
        return (weights * splits).sum(dim=1)


class ResNeStBottleneck(nn.Module):
    """ResNeSt bottleneck: 1x1 reduce, split-attention 3x3, 1x1 expand.

    In a strided block the split-attention conv has stride 1 and a 3x3
    average pool with the block's stride and padding 1 (zeros counted in the
    average, PyTorch's default) follows it. The shortcut, when the shape
    changes, is an average pool (kernel = stride, ``ceil_mode=True``, padding
    not counted; only when strided) followed by a 1x1 conv and norm.

    Args:
        inplanes (int): Input channels.
        planes (int): Stage width; the block outputs ``4 * planes``.
        stride (int): 1 or 2. Defaults to 1.
        downsample (nn.Module, optional): Shortcut 1x1 conv + norm.
        groups (int): Cardinality. Defaults to 1.
        bottleneck_width (int): Width per group per 64 planes: the 3x3 conv
            has ``int(planes * bottleneck_width / 64) * groups`` channels.
            Defaults to 64.
        radix (int): Splits of the split-attention conv. Defaults to 2.
        reduction_factor (int): Squeeze factor of the attention. Defaults
            to 4.
        norm_cfg (dict): Norm layer config.
    """
    expansion = 4

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 groups: int = 1,
                 bottleneck_width: int = 64,
                 radix: int = 2,
                 reduction_factor: int = 4,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        width = int(planes * (bottleneck_width / 64.)) * groups
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = norm_layer(norm_cfg, width)
        self.conv2 = SplitAttentionConv2d(
            width,
            width,
            stride=1,
            groups=groups,
            radix=radix,
            reduction_factor=reduction_factor,
            norm_cfg=norm_cfg)
        self.stride_pool = nn.AvgPool2d(3, stride, padding=1) \
            if stride > 1 else None
        self.conv3 = nn.Conv2d(width, out_planes, 1, bias=False)
        self.bn3 = norm_layer(norm_cfg, out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut_pool = nn.AvgPool2d(
            stride, stride, ceil_mode=True, count_include_pad=False) \
            if downsample is not None and stride > 1 else None
        self.downsample = downsample
        self.stride = stride

    @property
    def last_norm(self) -> nn.Module:
        """The norm layer before the residual sum."""
        return self.bn3

    def forward(self, x: Tensor) -> Tensor:
        """(B, inplanes, H, W) -> (B, 4 * planes, ceil(H/stride),
        ceil(W/stride))."""
        identity = x
        if self.downsample is not None:
            if self.shortcut_pool is not None:
                identity = self.shortcut_pool(identity)
            identity = self.downsample(identity)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        if self.stride_pool is not None:
            out = self.stride_pool(out)
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@BACKBONES.register_module()
class ResNeSt(ResidualStagesMixin, FrozenStagesMixin, PretrainedInitMixin,
              BaseModule):
    """ResNeSt backbone with the interface of our :class:`ResNet`.

    ResNeSt-50 ("2s1x64d", the defaults): deep stem of three 3x3 convs
    (``in_channels -> 32`` stride 2, ``32 -> 32``, ``32 -> 64``), each with
    norm and ReLU, then a 3x3/2 max-pool (stride 4); bottleneck stages of
    (3, 4, 6, 3) :class:`ResNeStBottleneck` blocks, widths 64/128/256/512,
    outputs 256/512/1024/2048 channels at strides 4/8/16/32. 25.43 M
    parameters (27.48 M with an ImageNet classifier), 9.28 M up to stage 3,
    5.37 GMACs at 224x224. Parameter names: see the module docstring.

    ResNeSt-101 (stem 64 -> 128 channels, (3, 4, 23, 3) blocks) is
    available too, untested against published numbers.

    Note:
        The attention branch normalises globally pooled features, so a
        BatchNorm in training mode needs more than one sample per batch
        (PyTorch raises otherwise). STM's configs use ``norm_eval=True``
        (running statistics), which has no such limit.

    Args:
        depth (int): 50 or 101.
        in_channels (int): Input channels; STM's memory encoder uses 5.
            Defaults to 3.
        stem_channels (int, optional): Output channels of the stem (its first
            two convs have half). Defaults to 64 for depth 50, 128 for 101.
        base_channels (int): Width ``planes`` of the first stage; stage ``i``
            has ``base_channels * 2**i``. Defaults to 64.
        radix (int): Splits per split-attention conv. Defaults to 2.
        groups (int): Cardinality. Defaults to 1.
        bottleneck_width (int): Width per group per 64 planes. Defaults to
            64.
        reduction_factor (int): Squeeze factor of the attention. Defaults
            to 4.
        num_stages (int): Number of residual stages built (1-4); later stages
            do not exist. Defaults to 4.
        out_indices (Sequence[int]): 0-based stages returned by
            :meth:`forward` (stride ``4 * 2**i``), each ``< num_stages``.
            Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; ``i >=
            1`` the stem and ``layer1`` .. ``layer{i}`` (``requires_grad``
            off, norm layers in eval mode). Defaults to -1.
        norm_eval (bool): Keep every BatchNorm layer in eval mode during
            training. Defaults to False.
        norm_cfg (dict): Norm layer config for
            :func:`mmcv.cnn.build_norm_layer`.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        zero_init_residual (bool): In the default init, zero the last norm
            weight of every block. Defaults to False.
        init_cfg (dict or list[dict], optional): mmengine init config. With
            ``dict(type='Pretrained', checkpoint=PATH, prefix=None)`` a
            checkpoint in our names is loaded by :meth:`init_weights`, with a
            3 -> N input channel adaptation of ``stem.conv1.weight`` (zero
            kernels for the extra channels). Convert the authors' or
            mmpretrain's checkpoints first with
            ``tools/model_converters/resnest_to_vosbench.py``.

    Example:
        >>> backbone = ResNeSt(50, in_channels=5, num_stages=3,
        ...                    out_indices=(2, ))
        >>> [tuple(f.shape) for f in backbone(torch.rand(2, 5, 64, 64))]
        [(2, 1024, 4, 4)]
    """

    #: depth -> (blocks per stage, default stem channels)
    arch_settings: Dict[int, Tuple[Tuple[int, ...], int]] = {
        50: ((3, 4, 6, 3), 64),
        101: ((3, 4, 23, 3), 128),
    }
    input_conv_key = 'stem.conv1.weight'

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 stem_channels: Optional[int] = None,
                 base_channels: int = 64,
                 radix: int = 2,
                 groups: int = 1,
                 bottleneck_width: int = 64,
                 reduction_factor: int = 4,
                 num_stages: int = 4,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 zero_init_residual: bool = False,
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        out_indices = check_stage_args('ResNeSt', depth, self.arch_settings,
                                       num_stages, out_indices,
                                       frozen_stages)
        stage_blocks, default_stem = self.arch_settings[depth]
        stem_channels = stem_channels or default_stem
        if stem_channels % 2:
            raise ValueError(f'stem_channels must be even, got '
                             f'{stem_channels}')

        self.depth = depth
        self.in_channels = in_channels
        self.stem_channels = stem_channels
        self.base_channels = base_channels
        self.radix = radix
        self.groups = groups
        self.bottleneck_width = bottleneck_width
        self.reduction_factor = reduction_factor
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.norm_cfg = norm_cfg
        self.zero_init_residual = zero_init_residual
        self.stage_blocks = stage_blocks[:num_stages]

        half = stem_channels // 2
        self.stem = nn.Sequential(
            OrderedDict([
                ('conv1',
                 nn.Conv2d(in_channels, half, 3, 2, padding=1, bias=False)),
                ('bn1', norm_layer(norm_cfg, half)),
                ('relu1', nn.ReLU(inplace=True)),
                ('conv2', nn.Conv2d(half, half, 3, padding=1, bias=False)),
                ('bn2', norm_layer(norm_cfg, half)),
                ('relu2', nn.ReLU(inplace=True)),
                ('conv3',
                 nn.Conv2d(half, stem_channels, 3, padding=1, bias=False)),
                ('bn3', norm_layer(norm_cfg, stem_channels)),
                ('relu3', nn.ReLU(inplace=True)),
            ]))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        # res_layers, stage_channels, out_channels, out_strides
        self._add_stages(stem_channels, base_channels, self.stage_blocks,
                         ResNeStBottleneck.expansion, self.make_res_layer)

        self._freeze_stages()

    def make_res_layer(self, inplanes: int, planes: int, num_blocks: int,
                       stride: int) -> nn.Sequential:
        """Build one stage; its first block carries the stride and, when the
        shape changes, the shortcut projection ``downsample.0`` (1x1 conv, no
        bias) / ``downsample.1`` (norm)."""
        out_planes = planes * ResNeStBottleneck.expansion
        downsample = None
        if stride != 1 or inplanes != out_planes:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, out_planes, 1, bias=False),
                norm_layer(self.norm_cfg, out_planes))
        kwargs = dict(
            groups=self.groups,
            bottleneck_width=self.bottleneck_width,
            radix=self.radix,
            reduction_factor=self.reduction_factor,
            norm_cfg=self.norm_cfg)
        layers = [
            ResNeStBottleneck(inplanes, planes, stride, downsample, **kwargs)
        ]
        layers += [
            ResNeStBottleneck(out_planes, planes, **kwargs)
            for _ in range(1, num_blocks)
        ]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract multi-scale features.

        Args:
            x (Tensor): Images, shape (B, in_channels, H, W).

        Returns:
            tuple[Tensor]: For each ``i`` in ``out_indices`` (in that order),
            stage ``i``'s output, shape (B, C_i, H / 2**(i+2),
            W / 2**(i+2)) (rounded up per strided layer), where
            ``C_i = self.stage_channels[i]``.
        """
        x = self.maxpool(self.stem(x))
        return self._forward_stages(x)

    # ------------------------------------------------------------------
    # freezing (frozen_stages: the stem, then layer1 .. layer{i})
    # ------------------------------------------------------------------
    def _stem_modules(self) -> List[nn.Module]:
        return [self.stem]

    # ------------------------------------------------------------------
    # initialisation (init_weights, the default init with a zero ``bn3``
    # weight under zero_init_residual, the reports and load_pretrained:
    # PretrainedInitMixin)
    # ------------------------------------------------------------------
    residual_block_types = (ResNeStBottleneck, )
