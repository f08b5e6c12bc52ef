"""ResNet backbone with torchvision parameter names.

The module tree (``conv1``, ``bn1``, ``layer1`` .. ``layer4``, blocks
``layerX.N.conv1/bn1/...``, shortcut ``layerX.0.downsample.0/1``) is exactly
torchvision's, so an ImageNet checkpoint saved by torchvision loads without
key conversion (its ``fc.*`` keys are ignored). The classifier (avgpool, fc) is
not built, and neither are the stages beyond ``num_stages``: STM's encoders use
the stem and stages 1-3 of ResNet-50 only.
"""
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Type

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from vosbench.registry import BACKBONES
from vosbench.utils.typing_utils import OptMultiConfig
from .freezing import FrozenStagesMixin
from .pretrained import PretrainedInitMixin
from .stages import ResidualStagesMixin, check_stage_args, norm_layer


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or 1x1 projection) shortcut.

    Used by ResNet-18/34. ``expansion`` is 1: the block outputs ``planes``
    channels.

    Args:
        inplanes (int): Input channels.
        planes (int): Width (and output channels) of the block.
        stride (int): Stride of the first 3x3 conv. Defaults to 1.
        downsample (nn.Module, optional): Shortcut projection, needed when
            the stride or the channel count changes.
        norm_cfg (dict): Config of the norm layers.
    """
    expansion = 1

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        self.conv1 = nn.Conv2d(
            inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm_layer(norm_cfg, planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm_layer(norm_cfg, planes)
        self.downsample = downsample
        self.stride = stride

    @property
    def last_norm(self) -> nn.Module:
        """The norm layer before the residual sum."""
        return self.bn2

    def forward(self, x: Tensor) -> Tensor:
        """(B, inplanes, H, W) -> (B, planes, H/stride, W/stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, as in torchvision's ResNet v1.5), 1x1 expand.

    Used by ResNet-50/101/152. ``expansion`` is 4: the block outputs
    ``4 * planes`` channels.

    Args:
        inplanes (int): Input channels.
        planes (int): Width of the 3x3 conv.
        stride (int): Stride of the 3x3 conv. Defaults to 1.
        downsample (nn.Module, optional): Shortcut projection, needed when
            the stride or the channel count changes.
        norm_cfg (dict): Config of the norm layers.
    """
    expansion = 4

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = norm_layer(norm_cfg, planes)
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm_layer(norm_cfg, planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = norm_layer(norm_cfg, out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    @property
    def last_norm(self) -> nn.Module:
        """The norm layer before the residual sum."""
        return self.bn3

    def forward(self, x: Tensor) -> Tensor:
        """(B, inplanes, H, W) -> (B, 4 * planes, H/stride, W/stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@BACKBONES.register_module()
class ResNet(ResidualStagesMixin, FrozenStagesMixin, PretrainedInitMixin,
             BaseModule):
    """ResNet backbone (He et al., 2016) with torchvision's parameter names.

    Stem: 7x7/2 conv (no bias), ``bn1``, ReLU, 3x3/2 max-pool (stride 4).
    Stage ``i`` (``layer{i+1}``, 0-based ``i``) has stride ``4 * 2**i`` and
    width ``base_channels * 2**i`` (times 4 for bottleneck depths), so with
    the default ``base_channels=64``:

    ======  ===================  =====================
    depth   block                stage output channels
    ======  ===================  =====================
    18/34   BasicBlock           64, 128, 256, 512
    50/101  Bottleneck (v1.5)    256, 512, 1024, 2048
    ======  ===================  =====================

    A smaller ``base_channels`` scales every width proportionally, which gives
    narrow networks for CPU demos and tests (base 16: 64/128/256/512 for
    ResNet-50, 16/32/64/128 for ResNet-18).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        in_channels (int): Input channels. STM's memory encoder uses 5 (RGB,
            object mask, other objects' mask). Defaults to 3.
        base_channels (int): Width of the stem and of the first stage's
            3x3 convs. Defaults to 64.
        num_stages (int): Number of residual stages built (1-4). Stages
            beyond it do not exist, so their parameters are not counted nor
            trained. Defaults to 4.
        out_indices (Sequence[int]): 0-based stages whose outputs
            :meth:`forward` returns, each ``< num_stages``.
            Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem
            (``conv1``/``bn1``); ``i >= 1`` freezes the stem and
            ``layer1`` .. ``layer{i}``. Frozen parameters get
            ``requires_grad=False`` and their norm layers stay in eval mode.
            Defaults to -1.
        norm_eval (bool): Keep every BatchNorm layer in eval mode (running
            statistics frozen) during training. Defaults to False.
        norm_cfg (dict): Norm layer config for
            :func:`mmcv.cnn.build_norm_layer`.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        zero_init_residual (bool): In the default init, set the weight of
            the last norm layer of each block to zero so that every block
            starts as the identity. Defaults to False.
        init_cfg (dict or list[dict], optional): mmengine init config. With
            ``dict(type='Pretrained', checkpoint=PATH, prefix=None)`` the
            checkpoint (torchvision names, e.g. torchvision's own ImageNet
            weights, loaded as they are; mmpretrain ResNet checkpoints are
            converted first with
            ``tools/model_converters/mmpretrain_resnet_to_vosbench.py``) is
            loaded by :meth:`init_weights` with a 3 -> N input channel
            adaptation of ``conv1.weight``, see
            :class:`~vosbench.models.backbones.pretrained.PretrainedInitMixin`.
            Defaults to None (default init).

    Example:
        >>> backbone = ResNet(depth=50, num_stages=3, out_indices=(0, 1, 2))
        >>> feats = backbone(torch.rand(1, 3, 64, 64))
        >>> [tuple(f.shape) for f in feats]
        [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4)]
    """

    arch_settings: Dict[int, Tuple[Type[nn.Module], Tuple[int, ...]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_stages: int = 4,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 zero_init_residual: bool = False,
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        out_indices = check_stage_args('ResNet', depth, self.arch_settings,
                                       num_stages, out_indices,
                                       frozen_stages)

        self.depth = depth
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.norm_cfg = norm_cfg
        self.zero_init_residual = zero_init_residual
        block, stage_blocks = self.arch_settings[depth]
        self.block = block
        self.stage_blocks = stage_blocks[:num_stages]

        # Stem: stride 4.
        self.conv1 = nn.Conv2d(
            in_channels, base_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(norm_cfg, base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        # res_layers, stage_channels, out_channels, out_strides
        self._add_stages(base_channels, base_channels, self.stage_blocks,
                         block.expansion, partial(self.make_res_layer, block))

        self._freeze_stages()

    def make_res_layer(self, block: Type[nn.Module], inplanes: int,
                       planes: int, num_blocks: int,
                       stride: int) -> nn.Sequential:
        """Build one stage; the first block carries the stride and, when the
        shape changes, a ``downsample`` shortcut (1x1 conv without bias,
        norm) named ``downsample.0`` / ``downsample.1`` as in torchvision."""
        downsample = None
        if stride != 1 or inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(
                    inplanes,
                    planes * block.expansion,
                    1,
                    stride=stride,
                    bias=False),
                norm_layer(self.norm_cfg, planes * block.expansion))
        layers = [
            block(inplanes, planes, stride, downsample, norm_cfg=self.norm_cfg)
        ]
        inplanes = planes * block.expansion
        layers += [
            block(inplanes, planes, norm_cfg=self.norm_cfg)
            for _ in range(1, num_blocks)
        ]
        return nn.Sequential(*layers)

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract multi-scale features.

        Args:
            x (Tensor): Images, shape (B, in_channels, H, W).

        Returns:
            tuple[Tensor]: For each ``i`` in ``out_indices`` (in that order),
            the output of stage ``i``: shape (B, C_i, H / 2**(i+2),
            W / 2**(i+2)) (sizes rounded up per strided layer), where
            ``C_i = self.stage_channels[i]``.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self._forward_stages(x)

    # ------------------------------------------------------------------
    # freezing (frozen_stages: the stem, then layer1 .. layer{i})
    # ------------------------------------------------------------------
    def _stem_modules(self) -> List[nn.Module]:
        return [self.conv1, self.bn1]

    # ------------------------------------------------------------------
    # initialisation (init_weights, the default init, the reports and
    # load_pretrained: PretrainedInitMixin)
    # ------------------------------------------------------------------
    input_conv_key = 'conv1.weight'
    residual_block_types = (BasicBlock, Bottleneck)
