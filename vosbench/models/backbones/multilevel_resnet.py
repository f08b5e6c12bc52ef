"""Multi-level ResNet: cascaded ResNet down/up levels with cross-level
feature aggregation.

REFERENCE.md section 4 ("our specification", after the report's description
and the multi-stage pose network it resembles). Pyramid levels are named
after the ResNet stage that makes them: ``c2`` .. ``c5`` are the outputs of
``layer1`` .. ``layer4`` (strides 4 .. 32).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from vosbench.registry import BACKBONES
from vosbench.utils.typing_utils import OptMultiConfig
from .freezing import FrozenStagesMixin, check_frozen_stages
from .pretrained import PretrainedInitMixin, load_pretrained_weights
from .resnet import ResNet
from .stages import check_pyramid_out_indices, output_strides

NUM_STAGES = 4


class ResNetLevel(nn.Module):
    """One level: a ResNet down path (``layer1`` .. ``layer4``, torchvision
    names) and a top-down up path, plus, after the first level, the modules
    that take in the previous level.

    Args:
        resnet (ResNet): A 4-stage ResNet whose stages this level takes
            over (its stem is not used).
        channels (int): Width of the up path.
        prev_stage_channels (Sequence[int], optional): Down-path channels of
            the previous level; None for the first level.
        lateral_levels (Sequence[int]): 0-based stages that get a lateral
            conv; the up path runs from the last stage down to the lowest of
            them.
        out_indices (Sequence[int]): 0-based stages that get an output
            projection (the last level only; empty otherwise).
        norm_cfg (dict): Norm layer config of the added modules.
    """

    def __init__(self,
                 resnet: ResNet,
                 channels: int,
                 prev_stage_channels: Optional[Sequence[int]],
                 lateral_levels: Sequence[int],
                 out_indices: Sequence[int] = (),
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        self.stage_channels = tuple(resnet.stage_channels)
        self.lateral_levels = tuple(lateral_levels)
        self.out_indices = tuple(out_indices)
        if prev_stage_channels is not None:
            # The previous level's stride-4 up feature replaces the stem.
            self.entry = ConvModule(
                channels, resnet.base_channels, 1, norm_cfg=norm_cfg)
        for i in range(NUM_STAGES):
            self.add_module(f'layer{i + 1}', getattr(resnet, f'layer{i + 1}'))
        if prev_stage_channels is not None:
            self.cross_down = nn.ModuleList([
                ConvModule(prev, own, 1, norm_cfg=norm_cfg)
                for prev, own in zip(prev_stage_channels, self.stage_channels)
            ])
            self.cross_up = nn.ModuleList([
                ConvModule(channels, own, 1, norm_cfg=norm_cfg)
                for own in self.stage_channels
            ])
        self.lateral_convs = nn.ModuleDict({
            f'c{i + 2}': ConvModule(
                self.stage_channels[i],
                channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=None)
            for i in self.lateral_levels
        })
        self.out_convs = nn.ModuleDict({
            f'c{i + 2}': ConvModule(
                channels,
                self.stage_channels[i],
                1,
                norm_cfg=norm_cfg,
                act_cfg=None)
            for i in self.out_indices
        })

    @property
    def has_previous(self) -> bool:
        return hasattr(self, 'entry')

    def stages(self) -> List[nn.Module]:
        """``layer1`` .. ``layer4``."""
        return [getattr(self, f'layer{i + 1}') for i in range(NUM_STAGES)]

    def down(self, x: Tensor, prev_down: Optional[Sequence[Tensor]] = None,
             prev_up: Optional[Sequence[Tensor]] = None) -> List[Tensor]:
        """Down path.

        Args:
            x (Tensor): The stem output (first level) or the previous
                level's stride-4 up feature (later levels), at stride 4.
            prev_down (Sequence[Tensor], optional): The previous level's
                four down features.
            prev_up (Sequence[Tensor], optional): The previous level's up
                features (all four).

        Returns:
            list[Tensor]: The four down features, strides 4 .. 32; after
            the first level each is ``stage(x) + cross_down(prev_down) +
            cross_up(prev_up)`` and feeds the next stage.
        """
        if self.has_previous:
            x = self.entry(x)
        outs = []
        for i, stage in enumerate(self.stages()):
            x = stage(x)
            if self.has_previous:
                x = x + self.cross_down[i](prev_down[i]) + \
                    self.cross_up[i](prev_up[i])
            outs.append(x)
        return outs

    def up(self, down: Sequence[Tensor]) -> List[Optional[Tensor]]:
        """Up path: ``u_i = relu(lateral_i(d_i) + bilinear_up(u_{i+1}))``
        from the last stage down to the lowest lateral level; entries below
        it are None."""
        ups: List[Optional[Tensor]] = [None] * NUM_STAGES
        top = None
        for i in sorted(self.lateral_levels, reverse=True):
            x = self.lateral_convs[f'c{i + 2}'](down[i])
            if top is not None:
                x = x + F.interpolate(
                    top, size=x.shape[-2:], mode='bilinear',
                    align_corners=False)
            ups[i] = top = F.relu(x)
        return ups


@BACKBONES.register_module()
class MultiLevelResNet(FrozenStagesMixin, PretrainedInitMixin, BaseModule):
    """Multi-level backbone (REFERENCE.md section 4).

    A shared ResNet stem (``conv1``, ``bn1``, max-pool; stride 4) feeds
    ``num_levels`` levels (:class:`ResNetLevel`). Each level is a ResNet
    down path (``layer1`` .. ``layer4``) and a ``channels``-wide up path
    (1x1 conv + norm laterals, bilinear top-down upsample-and-add, ReLU).
    Every level after the first:

    * starts from the previous level's stride-4 up feature through a 1x1
      conv + norm + ReLU ``channels -> base_channels`` (``entry``; 256 -> 64,
      the input width of ResNet's ``layer1``);
    * adds to each down-unit output (before it enters the next stage) a
      1x1 conv + norm + ReLU of the previous level's down feature
      (``cross_down``) and of its up feature (``cross_up``) at that scale.

    Output (to STM): on the last level, at strides 4/8/16, ``down + 1x1 conv
    + norm(up)``, with the down path's channels (256/512/1024 for depth 50).

    The last level builds no lateral below the lowest requested output and
    no projection for outputs not requested, so no parameter goes unused
    (DDP needs none unused); earlier levels build everything (the next level
    reads all of it).

    Defaults (2 levels of ResNet-50) give 56.02 M parameters and 30.70
    GMACs (convs and linear layers) at 384x384 for 3 input channels; the
    reference's approximate figures are 56 M and 32 GMACs.

    Args:
        num_levels (int): Number of levels. Defaults to 2.
        depth (int or Sequence[int]): ResNet depth of every level, or one
            per level. Defaults to 50.
        in_channels (int): Input channels (5 for STM's memory encoder).
            Defaults to 3.
        base_channels (int): Stem width (see :class:`ResNet`). Defaults
            to 64.
        channels (int): Width of the up paths. Defaults to 256.
        out_indices (Sequence[int]): Outputs to return, in this order, from
            0 (stride 4), 1 (stride 8), 2 (stride 16). Defaults to
            (0, 1, 2).
        frozen_stages (int): As :class:`ResNet`, on the shared stem and the
            first level: -1 freezes nothing, 0 the stem, ``i >= 1`` the stem
            and ``levels.0.layer1`` .. ``layer{i}`` (``requires_grad=False``,
            norm layers in eval mode). Later levels and up paths are never
            frozen. Defaults to -1.
        norm_eval (bool): Keep the BatchNorm layers of the ImageNet-
            initialisable parts (stem and every level's down path) in eval
            mode during training. The added modules' norm layers (no
            pretrained statistics) always train. Defaults to False.
        norm_cfg (dict): Norm layer config.
        init_cfg (dict or list[dict], optional): A ``Pretrained`` entry
            (``checkpoint``, optional ``prefix``, ``map_location``) loads one
            torchvision-named ResNet checkpoint into the stem and into every
            level's down path (see :meth:`load_pretrained`: 3 -> 5 input
            channel adaptation of ``conv1``; missing and unexpected keys
            logged by name, once per level). The checkpoint's depth
            should match the levels'. Other entries are applied by mmengine
            to the whole backbone before it. Defaults to None.

    Example:
        >>> model = MultiLevelResNet(num_levels=2).eval()
        >>> [tuple(f.shape) for f in model(torch.rand(1, 3, 64, 64))]
        [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4)]
    """

    def __init__(self,
                 num_levels: int = 2,
                 depth: Union[int, Sequence[int]] = 50,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 channels: int = 256,
                 out_indices: Sequence[int] = (0, 1, 2),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if num_levels < 1:
            raise ValueError(f'num_levels must be >= 1, got {num_levels}')
        depths = (depth, ) * num_levels if isinstance(depth, int) \
            else tuple(depth)
        if len(depths) != num_levels:
            raise ValueError(f'{len(depths)} depths given for {num_levels} '
                             'levels')
        out_indices = check_pyramid_out_indices(out_indices)
        check_frozen_stages(frozen_stages, NUM_STAGES)
        self.num_levels = num_levels
        self.depths = depths
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.channels = channels
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.norm_cfg = norm_cfg

        levels = []
        prev_channels = None
        for index, level_depth in enumerate(depths):
            resnet = ResNet(
                depth=level_depth,
                in_channels=in_channels,
                base_channels=base_channels,
                num_stages=NUM_STAGES,
                norm_cfg=norm_cfg)
            if index == 0:
                # The shared stem, under torchvision's names.
                self.conv1 = resnet.conv1
                self.bn1 = resnet.bn1
                self.relu = resnet.relu
                self.maxpool = resnet.maxpool
            last = index == num_levels - 1
            levels.append(
                ResNetLevel(
                    resnet,
                    channels,
                    prev_channels,
                    lateral_levels=range(min(out_indices), NUM_STAGES)
                    if last else range(NUM_STAGES),
                    out_indices=out_indices if last else (),
                    norm_cfg=norm_cfg))
            prev_channels = resnet.stage_channels
        self.levels = nn.ModuleList(levels)
        #: Channels of each returned feature map, in ``out_indices`` order.
        self.out_channels = tuple(self.levels[-1].stage_channels[i]
                                  for i in out_indices)
        #: Stride of each returned feature map, in ``out_indices`` order.
        self.out_strides = output_strides(out_indices)
        self._freeze_stages()

    # ------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract multi-scale features.

        Args:
            x (Tensor): Images, shape (B, in_channels, H, W).

        Returns:
            tuple[Tensor]: For each ``i`` in ``out_indices`` (in that order),
            shape (B, C_i, H / 2**(i+2), W / 2**(i+2)) (sizes rounded up per
            strided layer), ``C_i`` the last level's stage ``i`` channels.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        down = up = None
        for level in self.levels:
            down = level.down(x if up is None else up[0], down, up)
            up = level.up(down)
        last = self.levels[-1]
        return tuple(down[i] + last.out_convs[f'c{i + 2}'](up[i])
                     for i in self.out_indices)

    # ------------------------------------------------------------------
    def _pretrained_parts(self) -> List[nn.Module]:
        """Modules an ImageNet ResNet initialises: stem and down paths."""
        parts: List[nn.Module] = [self.conv1, self.bn1]
        for level in self.levels:
            parts += level.stages()
        return parts

    def _frozen_modules(self) -> List[nn.Module]:
        """The stem and the first ``frozen_stages`` stages of level 0."""
        if self.frozen_stages < 0:
            return []
        return [self.conv1, self.bn1,
                *self.levels[0].stages()[:self.frozen_stages]]

    def _norm_eval_modules(self) -> List[nn.Module]:
        """``norm_eval`` covers the stem's and down paths' BatchNorm
        layers (those an ImageNet ResNet initialises)."""
        return self._pretrained_parts()

    # ------------------------------------------------------------------
    def resnet_view(self, level: int) -> nn.Module:
        """The shared stem and ``levels[level]``'s stages under torchvision's
        names (``conv1``, ``bn1``, ``layer1`` .. ``layer4``): the same module
        objects, not copies, so that loading a ResNet state dict into the
        view fills this backbone in place. Make it when needed: a later
        module swap (e.g. SyncBN conversion) would not reach an old view."""
        view = nn.Module()
        view.conv1 = self.conv1
        view.bn1 = self.bn1
        for i, stage in enumerate(self.levels[level].stages()):
            view.add_module(f'layer{i + 1}', stage)
        return view

    # initialisation: init_weights is PretrainedInitMixin's (default init:
    # ResNet's rule everywhere, other init_cfg entries, then a Pretrained
    # checkpoint, see load_pretrained)
    def load_pretrained(self,
                        checkpoint: str,
                        prefix: Optional[str] = None,
                        map_location: str = 'cpu') -> None:
        """Load one torchvision-named ResNet checkpoint into the shared stem
        and into every level's down path.

        Each level is loaded through :meth:`resnet_view` with
        :func:`load_pretrained_weights`: ``fc.*`` dropped, zero kernels for
        extra input channels of ``conv1``, shape mismatches raise, missing
        and unexpected keys logged by (torchvision) name with the level in
        the message. Up paths and cross-level modules keep their init.

        Args:
            checkpoint (str): Path or URL understood by mmengine's
                ``CheckpointLoader``.
            prefix (str, optional): Sub-module prefix of the ResNet in the
                checkpoint. Defaults to None.
            map_location (str): Device to load tensors to. Defaults to 'cpu'.
        """
        for index in range(self.num_levels):
            load_pretrained_weights(
                self.resnet_view(index),
                checkpoint,
                input_conv_key=self.input_conv_key,
                prefix=prefix,
                map_location=map_location,
                ignored_prefixes=self.ignored_checkpoint_prefixes,
                name=f'{self.__class__.__name__} level {index} (stem and '
                f'levels.{index}.layer1-4)',
                log=self._log)
