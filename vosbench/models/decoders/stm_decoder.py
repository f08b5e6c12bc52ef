"""The decoder of STM: refine the memory read with encoder skips."""
from typing import Sequence

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from vosbench.registry import DECODERS


class ResidualBlock(nn.Module):
    """``x + conv2(relu(conv1(relu(x))))`` with 3x3 convs with bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class RefineModule(nn.Module):
    """Fuse a skip feature with the 2x upsampled coarser map.

    ``fuse_block(skip_block(skip_conv(skip)) + up2(coarse))``. The skip
    branch depends only on the frame, so :class:`STMDecoder` runs it once
    per frame (:meth:`encode_skip`) and fuses it with every object's coarse
    map (:meth:`fuse`).
    """

    def __init__(self, skip_channels: int, channels: int):
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_channels, channels, 3, padding=1)
        self.skip_block = ResidualBlock(channels)
        self.fuse_block = ResidualBlock(channels)

    def encode_skip(self, skip: Tensor) -> Tensor:
        """``(B, skip_channels, 2H, 2W)`` -> ``(B, channels, 2H, 2W)``."""
        return self.skip_block(self.skip_conv(skip))

    def fuse(self, skip_feature: Tensor, coarse: Tensor) -> Tensor:
        """
        Args:
            skip_feature (Tensor): ``(B, channels, 2H, 2W)`` from
                :meth:`encode_skip`.
            coarse (Tensor): ``(B*K, channels, H, W)``, the K objects of a
                frame consecutive.

        Returns:
            Tensor: ``(B*K, channels, 2H, 2W)``.
        """
        up = F.interpolate(
            coarse, scale_factor=2, mode='bilinear', align_corners=False)
        batch = skip_feature.shape[0]
        # broadcast the frame's skip feature over its objects (no copy)
        fused = up.unflatten(0, (batch, -1)) + skip_feature[:, None]
        return self.fuse_block(fused.flatten(0, 1))

    def forward(self, skip: Tensor, coarse: Tensor) -> Tensor:
        """
        Args:
            skip (Tensor): ``(B, skip_channels, 2H, 2W)``.
            coarse (Tensor): ``(B*K, channels, H, W)``.

        Returns:
            Tensor: ``(B*K, channels, 2H, 2W)``.
        """
        return self.fuse(self.encode_skip(skip), coarse)


@DECODERS.register_module()
class STMDecoder(BaseModule):
    """STM's decoder.

    3x3 conv ``in_channels -> channels`` and a residual block at stride 16,
    one refine module per skip (strides 8 and 4), then ``relu`` and a 3x3 conv
    to ``num_classes`` logits, upsampled 4x bilinearly.

    Args:
        in_channels (int): Channels of the memory read output (1024 in STM:
            512 read + 512 query value).
        skip_channels (Sequence[int]): Channels of the skips, coarsest first.
            Defaults to (512, 256).
        channels (int): Working width. Defaults to 256.
        num_classes (int): Output logits per object (2: background and
            object). Defaults to 2.
    """

    def __init__(self, in_channels: int = 1024,
                 skip_channels: Sequence[int] = (512, 256),
                 channels: int = 256, num_classes: int = 2, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.input_conv = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.input_block = ResidualBlock(channels)
        self.refine_modules = nn.ModuleList(
            RefineModule(c, channels) for c in skip_channels)
        self.cls_conv = nn.Conv2d(channels, num_classes, 3, padding=1)

    def forward(self, memory_read: Tensor, skips: Sequence[Tensor]) -> Tensor:
        """
        Args:
            memory_read (Tensor): ``(B*K, in_channels, H/16, W/16)``, K
                objects per frame, the objects of a frame consecutive.
            skips (Sequence[Tensor]): ``(B, skip_channels[i], ...)``, the
                stride-8 then the stride-4 features of the B frames (once
                per frame: their branches, which do not depend on the
                object, run once per frame; ``B = B*K`` with per-object
                copies also works).

        Returns:
            Tensor: ``(B*K, num_classes, H, W)`` logits.
        """
        num = memory_read.shape[0]
        for skip in skips:
            if num % skip.shape[0]:
                raise ValueError(
                    f'memory_read has {num} maps, not a multiple of the '
                    f'{skip.shape[0]} frames of the skips')
        x = self.input_block(self.input_conv(memory_read))
        for refine, skip in zip(self.refine_modules, skips):
            x = refine(skip, x)
        logits = self.cls_conv(F.relu(x))
        return F.interpolate(
            logits, scale_factor=4, mode='bilinear', align_corners=False)
