"""The VOS cross-entropy loss (vosbench.models.losses): the void label is
ignored and the loss weight scales it."""
import torch
import torch.nn.functional as F

from vosbench.models.losses import VOSCrossEntropyLoss


def test_cross_entropy_loss_ignores_void():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4)
    labels = torch.randint(0, 3, (2, 4, 4))
    labels[:, 0] = 255
    loss = VOSCrossEntropyLoss()(logits, labels)
    keep = labels != 255
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[keep],
                               labels[keep])
    torch.testing.assert_close(loss, expected)
    changed = logits.clone()
    changed[:, :, 0] = 100.0  # only the void row
    torch.testing.assert_close(VOSCrossEntropyLoss()(changed, labels), loss)
    torch.testing.assert_close(
        VOSCrossEntropyLoss(loss_weight=2.0)(logits, labels), 2 * loss)
