from .cross_entropy_loss import VOSCrossEntropyLoss

__all__ = ['VOSCrossEntropyLoss']
