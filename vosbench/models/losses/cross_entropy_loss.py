"""Cross-entropy on aggregated object logits."""
import torch.nn.functional as F
from torch import Tensor, nn

from vosbench.registry import MODELS
from vosbench.utils.labels import VOID_LABEL


@MODELS.register_module()
class VOSCrossEntropyLoss(nn.Module):
    """Pixel-wise cross-entropy over background and objects.

    Args:
        loss_weight (float): Multiplier. Defaults to 1.0.
        ignore_index (int): Label ignored. Defaults to the void label (255).
    """

    def __init__(self, loss_weight: float = 1.0, ignore_index: int = VOID_LABEL):
        super().__init__()
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """
        Args:
            logits (Tensor): ``(B, K + 1, H, W)``.
            labels (Tensor): ``(B, H, W)`` long in ``0..K`` or ignore_index.

        Returns:
            Tensor: scalar loss.
        """
        return self.loss_weight * F.cross_entropy(
            logits, labels, ignore_index=self.ignore_index)
