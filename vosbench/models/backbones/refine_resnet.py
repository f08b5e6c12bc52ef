"""Refine-50: a ResNet-50 trunk with a pyramid refine head.

REFERENCE.md section 4 ("our inference"): the report only says the backbone
"handles scale variation"; its authors' pose-estimation work refines a
ResNet feature pyramid with a channel shuffle module and attention residual
bottlenecks, which is what this module builds. Pyramid levels are named after
their ResNet stage: ``c2`` .. ``c5`` are ``layer1`` .. ``layer4`` of the trunk,
at strides 4, 8, 16 and 32.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from vosbench.registry import BACKBONES
from vosbench.utils.typing_utils import OptMultiConfig
from .pretrained import PretrainedInitMixin, default_init
from .resnet import ResNet
from .stages import check_pyramid_out_indices, output_strides

#: Pyramid levels of a 4-stage ResNet: ``c{level}`` has stride ``2**level``.
PYRAMID_LEVELS = (2, 3, 4, 5)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` equal groups.

    ``(B, groups * C, H, W)`` -> ``(B, groups * C, H, W)`` where output
    channel ``c * groups + g`` is input channel ``g * C + c``: every
    consecutive block of ``groups`` output channels holds one channel of
    each input group.
    """
    batch, channels, height, width = x.shape
    if channels % groups:
        raise ValueError(f'{channels} channels do not split into {groups} '
                         'groups')
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)


class ChannelShuffleModule(nn.Module):
    """Mix information across pyramid levels by a channel shuffle.

    The ``L`` input levels (same channel count ``C``, strides doubling from
    the first) are upsampled bilinearly to the first level's size and
    concatenated (``L * C`` channels); the channels are shuffled with ``L``
    groups and split back into ``L`` groups of ``C`` channels, so that every
    group holds ``C / L`` channels of every level. Group ``i`` is average
    pooled back to level ``i``'s size and passed through a 1x1 conv (+ norm,
    ReLU).

    Args:
        num_levels (int): Number of input levels ``L``.
        channels (int): Channels ``C`` of every level (divisible by ``L``).
        out_levels (Sequence[int]): 0-based levels whose group is returned;
            only their convs are built.
        norm_cfg (dict): Norm layer config.
    """

    def __init__(self,
                 num_levels: int,
                 channels: int,
                 out_levels: Sequence[int],
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        if channels % num_levels:
            raise ValueError(f'channels ({channels}) must be divisible by '
                             f'the number of levels ({num_levels})')
        self.num_levels = num_levels
        self.out_levels = tuple(out_levels)
        self.convs = nn.ModuleDict({
            str(i): ConvModule(channels, channels, 1, norm_cfg=norm_cfg)
            for i in self.out_levels
        })

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """
        Args:
            feats (Sequence[Tensor]): ``L`` maps ``(B, C, H_i, W_i)``, the
                first the largest.

        Returns:
            list[Tensor]: For each of ``out_levels``, ``(B, C, H_i, W_i)``.
        """
        if len(feats) != self.num_levels:
            raise ValueError(f'expected {self.num_levels} levels, got '
                             f'{len(feats)}')
        size = feats[0].shape[-2:]
        upsampled = [feats[0]] + [
            F.interpolate(f, size=size, mode='bilinear', align_corners=False)
            for f in feats[1:]
        ]
        groups = channel_shuffle(torch.cat(upsampled, dim=1),
                                 self.num_levels).chunk(self.num_levels, 1)
        outs = []
        for i in self.out_levels:
            group = groups[i]
            if group.shape[-2:] != feats[i].shape[-2:]:
                group = F.adaptive_avg_pool2d(group, feats[i].shape[-2:])
            outs.append(self.convs[str(i)](group))
        return outs


class AttentionBottleneck(nn.Module):
    """Bottleneck residual block whose residual branch is reweighted by a
    spatial attention map and SE-style channel weights.

    Residual branch: 1x1 conv ``channels -> planes``, 3x3 conv, 1x1 conv
    ``planes -> channels`` (each with norm; ReLU after the first two). With
    attention, the branch output ``r`` becomes ``r * sigmoid(conv1x1(r))``
    (one spatial map, ``channels -> 1`` with bias), then ``r * w`` with SE
    channel weights ``w = sigmoid(fc2(relu(fc1(avgpool(r)))))`` (1x1 convs
    ``channels -> channels // se_ratio -> channels`` with bias). Output:
    ``relu(x + r)``. Without attention it is the plain bottleneck of a
    cascaded-pyramid refine net.

    Args:
        channels (int): Input and output channels.
        planes (int): Width of the 3x3 conv.
        use_attention (bool): Build the spatial and channel attention.
            Defaults to True.
        se_ratio (int): Channel reduction of the SE weights. Defaults to 16.
        norm_cfg (dict): Norm layer config.
    """

    def __init__(self,
                 channels: int,
                 planes: int,
                 use_attention: bool = True,
                 se_ratio: int = 16,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        self.conv1 = ConvModule(channels, planes, 1, norm_cfg=norm_cfg)
        self.conv2 = ConvModule(
            planes, planes, 3, padding=1, norm_cfg=norm_cfg)
        self.conv3 = ConvModule(
            planes, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.use_attention = use_attention
        if use_attention:
            self.spatial_attention = nn.Conv2d(channels, 1, 1)
            squeezed = max(channels // se_ratio, 1)
            self.channel_attention = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, squeezed, 1),
                nn.ReLU(inplace=True), nn.Conv2d(squeezed, channels, 1))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, channels, H, W) -> (B, channels, H, W)."""
        residual = self.conv3(self.conv2(self.conv1(x)))
        if self.use_attention:
            residual = residual * torch.sigmoid(
                self.spatial_attention(residual))
            residual = residual * torch.sigmoid(
                self.channel_attention(residual))
        return self.relu(x + residual)


@BACKBONES.register_module()
class RefineResNet(PretrainedInitMixin, BaseModule):
    """Refine-50 (REFERENCE.md section 4): a ResNet trunk whose feature
    pyramid is refined before it reaches STM.

    Pipeline, on the trunk's ``C2 .. C5`` (strides 4 .. 32):

    1. lateral 1x1 conv (+ norm, ReLU) of every ``C_l`` to ``channels``;
    2. with ``use_channel_shuffle``: a :class:`ChannelShuffleModule` over
       the four laterals; its output at each level is concatenated with the
       lateral and a 1x1 conv (+ norm, ReLU) brings ``2 * channels`` back to
       ``channels``;
    3. ``num_refine_blocks[l]`` :class:`AttentionBottleneck` blocks per level
       (default 0/1/2/3 on ``C2``/``C3``/``C4``/``C5``; plain bottlenecks
       without ``use_attention``);
    4. top-down path: ``P5 = R5``, ``P_l = R_l + bilinear_up(P_{l+1})``;
    5. 1x1 conv (+ norm, ReLU) of ``P2``/``P3``/``P4`` to the trunk's
       ``C2``/``C3``/``C4`` channel counts (256/512/1024 for ResNet-50),
       i.e. the three outputs have the strides and channels of ResNet's
       stages 1-3 that STM expects.

    Modules that only feed outputs not in ``out_indices`` are not built (as
    ResNet's ``num_stages``): with ``out_indices=(2, )`` (STM's memory
    encoder) the ``C2``/``C3`` refine blocks and fusions and the stride 4/8
    projections do not exist, so no parameter goes unused (DDP needs none).
    The trunk always has its four stages, and with the channel shuffle every
    lateral is built (the shuffle mixes all levels).

    Defaults give 27.08 M parameters and 17.44 GMACs (convs and linear
    layers) at 384x384 for 3 input channels; the reference's approximate
    figures are 27.6 M and 17 GMACs.

    Args:
        depth (int): Trunk depth (see :class:`ResNet`). Defaults to 50.
        in_channels (int): Input channels; 5 for STM's memory encoder.
            Loading a 3-channel checkpoint zero-initialises the extra input
            kernels (the trunk's loader does it). Defaults to 3.
        base_channels (int): Trunk stem width (see :class:`ResNet`).
            Defaults to 64.
        channels (int): Width of the refine head (laterals, shuffle,
            bottlenecks, top-down path). Divisible by 4 with the channel
            shuffle. Defaults to 256.
        out_indices (Sequence[int]): Outputs to return, in this order, from
            0 (stride 4), 1 (stride 8), 2 (stride 16). Defaults to
            (0, 1, 2).
        use_channel_shuffle (bool): Build the channel shuffle module and
            its fusion convs. Defaults to True.
        use_attention (bool): Spatial and channel attention in the refine
            bottlenecks. Defaults to True.
        num_refine_blocks (Sequence[int]): Bottlenecks on ``C2 .. C5``.
            Defaults to (0, 1, 2, 3).
        refine_planes (int, optional): Width of the bottlenecks' 3x3 conv.
            Defaults to ``channels // 2`` (128), as the bottlenecks of a
            cascaded-pyramid refine net.
        se_ratio (int): SE reduction of the channel attention. Defaults
            to 16.
        frozen_stages (int): Passed to the trunk (see :class:`ResNet`).
            Defaults to -1.
        norm_eval (bool): Passed to the trunk: its BatchNorm layers (the
            ImageNet-pretrained ones) stay in eval mode. The head's norm
            layers, which have no pretrained statistics, always train.
            Defaults to False.
        norm_cfg (dict): Norm layer config, trunk and head.
        init_cfg (dict or list[dict], optional): A ``Pretrained`` entry
            (``checkpoint``, optional ``prefix``, ``map_location``) loads a
            torchvision-named ResNet checkpoint into the trunk with
            :meth:`ResNet.load_pretrained`, which adapts 3 -> 5 input
            channels and logs missing and unexpected keys by name. Other
            entries are applied by mmengine to the whole backbone before
            the checkpoint is loaded. Defaults to None.

    Example:
        >>> model = RefineResNet(out_indices=(0, 1, 2)).eval()
        >>> [tuple(f.shape) for f in model(torch.rand(1, 3, 64, 64))]
        [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4)]
    """

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 channels: int = 256,
                 out_indices: Sequence[int] = (0, 1, 2),
                 use_channel_shuffle: bool = True,
                 use_attention: bool = True,
                 num_refine_blocks: Sequence[int] = (0, 1, 2, 3),
                 refine_planes: Optional[int] = None,
                 se_ratio: int = 16,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        out_indices = check_pyramid_out_indices(out_indices)
        if len(num_refine_blocks) != len(PYRAMID_LEVELS):
            raise ValueError('num_refine_blocks needs one count per level '
                             f'C2..C5, got {num_refine_blocks}')
        self.out_indices = out_indices
        self.use_channel_shuffle = use_channel_shuffle
        self.use_attention = use_attention
        self.channels = channels
        self.num_refine_blocks = tuple(num_refine_blocks)
        refine_planes = refine_planes or channels // 2

        self.trunk = ResNet(
            depth=depth,
            in_channels=in_channels,
            base_channels=base_channels,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            norm_cfg=norm_cfg)
        stage_channels = dict(zip(PYRAMID_LEVELS, self.trunk.stage_channels))

        #: Levels of the refine head and top-down path (the lowest one
        #: needed by ``out_indices`` up to C5).
        self.head_levels = tuple(
            level for level in PYRAMID_LEVELS
            if level >= min(out_indices) + 2)
        lateral_levels = PYRAMID_LEVELS if use_channel_shuffle \
            else self.head_levels

        self.lateral_convs = nn.ModuleDict({
            f'c{level}': ConvModule(
                stage_channels[level], channels, 1, norm_cfg=norm_cfg)
            for level in lateral_levels
        })
        if use_channel_shuffle:
            self.channel_shuffle = ChannelShuffleModule(
                len(PYRAMID_LEVELS), channels,
                [PYRAMID_LEVELS.index(level) for level in self.head_levels],
                norm_cfg=norm_cfg)
            self.fuse_convs = nn.ModuleDict({
                f'c{level}': ConvModule(
                    2 * channels, channels, 1, norm_cfg=norm_cfg)
                for level in self.head_levels
            })
        self.refine_blocks = nn.ModuleDict({
            f'c{level}': nn.Sequential(*[
                AttentionBottleneck(
                    channels,
                    refine_planes,
                    use_attention=use_attention,
                    se_ratio=se_ratio,
                    norm_cfg=norm_cfg) for _ in range(
                        self.num_refine_blocks[PYRAMID_LEVELS.index(level)])
            ])
            for level in self.head_levels
        })
        self.out_convs = nn.ModuleDict({
            f'c{i + 2}': ConvModule(
                channels, stage_channels[i + 2], 1, norm_cfg=norm_cfg)
            for i in out_indices
        })
        #: Channels of each returned feature map, in ``out_indices`` order.
        self.out_channels = tuple(stage_channels[i + 2] for i in out_indices)
        #: Stride of each returned feature map, in ``out_indices`` order.
        self.out_strides = output_strides(out_indices)

    # ------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract refined multi-scale features.

        Args:
            x (Tensor): Images, shape (B, in_channels, H, W).

        Returns:
            tuple[Tensor]: For each ``i`` in ``out_indices`` (in that order),
            shape (B, C_i, H / 2**(i+2), W / 2**(i+2)) (sizes rounded up per
            strided layer) with ``C_i = self.out_channels`` entry
            (256/512/1024 for ResNet-50).
        """
        trunk_feats = dict(zip(PYRAMID_LEVELS, self.trunk(x)))
        laterals: Dict[int, Tensor] = {
            int(name[1:]): conv(trunk_feats[int(name[1:])])
            for name, conv in self.lateral_convs.items()
        }
        if self.use_channel_shuffle:
            shuffled = self.channel_shuffle(
                [laterals[level] for level in PYRAMID_LEVELS])
            feats = {
                level: self.fuse_convs[f'c{level}'](
                    torch.cat([laterals[level], mixed], dim=1))
                for level, mixed in zip(self.head_levels, shuffled)
            }
        else:
            feats = {level: laterals[level] for level in self.head_levels}

        pyramid: Dict[int, Tensor] = {}
        top = None
        for level in reversed(self.head_levels):
            refined = self.refine_blocks[f'c{level}'](feats[level])
            if top is not None:
                refined = refined + F.interpolate(
                    top,
                    size=refined.shape[-2:],
                    mode='bilinear',
                    align_corners=False)
            pyramid[level] = top = refined
        return tuple(self.out_convs[f'c{i + 2}'](pyramid[i + 2])
                     for i in self.out_indices)

    # ------------------------------------------------------------------
    # initialisation: init_weights is PretrainedInitMixin's (default init,
    # other init_cfg entries, then a Pretrained checkpoint into the trunk)
    def _default_init(self) -> None:
        """The trunk's own default init (:class:`ResNet`); the head's convs
        Kaiming-normal (fan-out) with zero biases, norms weight 1, bias 0."""
        if not self.trunk.is_init:
            self.trunk.init_weights()
        default_init(m for name, m in self.named_modules()
                     if not name.startswith('trunk'))

    def load_pretrained(self,
                        checkpoint: str,
                        prefix: Optional[str] = None,
                        map_location: str = 'cpu') -> None:
        """Load a torchvision-named ResNet checkpoint into the trunk.

        See :meth:`ResNet.load_pretrained`: ``fc.*`` dropped, zero kernels
        for extra input channels, shape mismatches raise, missing and
        unexpected keys (trunk names, e.g. ``layer1.0.bn1.weight``) logged
        by name. The head keeps its default init.

        Args:
            checkpoint (str): Path or URL understood by mmengine's
                ``CheckpointLoader``.
            prefix (str, optional): Sub-module prefix of the ResNet in the
                checkpoint. Defaults to None.
            map_location (str): Device to load tensors to. Defaults to 'cpu'.
        """
        self.trunk.load_pretrained(
            checkpoint, prefix=prefix, map_location=map_location)
