"""Key and value projections of encoder features."""
from typing import Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from vosbench.registry import MODELS


@MODELS.register_module()
class KeyValueProjection(BaseModule):
    """Project stride-16 features to a key and a value (3x3 convs with bias).

    Args:
        in_channels (int): Input channels (1024 for ResNet-50 stage 3).
        key_channels (int): Key channels. Defaults to 128.
        value_channels (int): Value channels. Defaults to 512.
    """

    def __init__(self, in_channels: int = 1024, key_channels: int = 128,
                 value_channels: int = 512, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.key_conv = nn.Conv2d(in_channels, key_channels, 3, padding=1)
        self.value_conv = nn.Conv2d(in_channels, value_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """
        Args:
            x (Tensor): ``(B, in_channels, H, W)``.

        Returns:
            tuple: key ``(B, key_channels, H, W)`` and value
            ``(B, value_channels, H, W)``.
        """
        return self.key_conv(x), self.value_conv(x)
