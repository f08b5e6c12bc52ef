"""``frozen_stages`` and ``norm_eval``, shared by the backbones."""
from typing import List

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def check_frozen_stages(frozen_stages: int, num_stages: int) -> None:
    """Raise unless ``-1 <= frozen_stages <= num_stages``."""
    if not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'frozen_stages must be in [-1, num_stages='
                         f'{num_stages}], got {frozen_stages}')


class FrozenStagesMixin:
    """Freeze the first stages and keep BatchNorm layers in eval mode.

    For a ``nn.Module`` backbone with ``frozen_stages`` (-1 freezes nothing,
    0 the stem, ``i`` the stem and stages 1..i) and ``norm_eval`` (keep
    BatchNorm layers in eval mode while training, so that their running
    statistics stay those of the pretrained weights). The backbone says
    which modules are frozen (:meth:`_frozen_modules`) and, if not all of
    it, which modules ``norm_eval`` covers (:meth:`_norm_eval_modules`).
    """

    def _frozen_modules(self) -> List[nn.Module]:
        """Modules frozen by ``frozen_stages``."""
        raise NotImplementedError

    def _norm_eval_modules(self) -> List[nn.Module]:
        """Modules whose BatchNorm layers ``norm_eval`` keeps in eval
        mode. Defaults to the whole backbone."""
        return [self]

    def _freeze_stages(self) -> None:
        """Stop gradients of, and put in eval mode, the frozen stages."""
        for m in self._frozen_modules():
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        """Set the training mode, keeping frozen stages (and, with
        ``norm_eval``, the BatchNorm layers) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for part in self._norm_eval_modules():
                for m in part.modules():
                    if isinstance(m, _BatchNorm):
                        m.eval()
        return self
