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

    ``fuse_block(skip_block(skip_conv(skip)) + up2(coarse))``.
    """

    def __init__(self, skip_channels: int, channels: int):
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_channels, channels, 3, padding=1)
        self.skip_block = ResidualBlock(channels)
        self.fuse_block = ResidualBlock(channels)

    def forward(self, skip: Tensor, coarse: Tensor) -> Tensor:
        """
        Args:
            skip (Tensor): ``(N, skip_channels, 2H, 2W)``.
            coarse (Tensor): ``(N, channels, H, W)``.

        Returns:
            Tensor: ``(N, channels, 2H, 2W)``.
        """
        fused = self.skip_block(self.skip_conv(skip)) + F.interpolate(
            coarse, scale_factor=2, mode='bilinear', align_corners=False)
        return self.fuse_block(fused)


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
            memory_read (Tensor): ``(N, in_channels, H/16, W/16)``.
            skips (Sequence[Tensor]): ``(N, skip_channels[i], ...)``, the
                stride-8 then the stride-4 features.

        Returns:
            Tensor: ``(N, num_classes, H, W)`` logits.
        """
        x = self.input_block(self.input_conv(memory_read))
        for refine, skip in zip(self.refine_modules, skips):
            x = refine(skip, x)
        logits = self.cls_conv(F.relu(x))
        return F.interpolate(
            logits, scale_factor=4, mode='bilinear', align_corners=False)
