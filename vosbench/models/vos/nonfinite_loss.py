"""Training steps whose loss is NaN or infinite never reach the weights."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from torch import Tensor


class NonFiniteLossError(FloatingPointError):
    """A training step's loss is NaN or infinite (``nonfinite_loss='raise'``).
    """


class NonFiniteLossGuard:
    """For an mmengine ``BaseModel``: its training step checks the loss
    before the optimizer step.

    ``train_cfg['nonfinite_loss']`` says what a non-finite loss does:
    ``'raise'`` (the default) stops training with a
    :class:`NonFiniteLossError` naming the iteration and the clips (video
    and frame indices, remembered by :meth:`remember_clips` in the model's
    ``loss``); ``'skip'`` drops the step and counts it as
    ``nonfinite_skipped`` in the message hub.
    """

    _current_clips: List[Tuple[Optional[str], list]] = []
    _skip_this_step = False

    def remember_clips(self, data_samples: Sequence[dict]) -> None:
        """Note the clips of the current training batch (``seq_name`` and
        ``clip_indices`` of each data sample) for the error message."""
        self._current_clips = [(s.get('seq_name'),
                                list(s.get('clip_indices') or []))
                               for s in data_samples]

    def parse_losses(self, losses: Dict[str, Tensor]
                     ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's parsing, then the non-finite check (see
        ``train_cfg["nonfinite_loss"]``).

        Both :meth:`train_step` and mmengine's distributed wrapper call it
        before ``optim_wrapper.update_params``. In a distributed run the
        ranks agree (one all-reduce): when any rank's loss is not finite,
        every rank raises, or every rank skips the step. A skipped step
        returns a zero loss tied to the parameters, so that a distributed
        backward still runs on every rank (with zero gradients);
        :meth:`train_step` does not step the optimizer at all.
        """
        loss, log_vars = super().parse_losses(losses)
        self._skip_this_step = False
        if not self.training:
            return loss, log_vars
        local_finite = bool(torch.isfinite(loss.detach()).all())
        finite = local_finite
        if get_world_size() > 1:
            flag = torch.tensor(float(local_finite), device=loss.device)
            all_reduce(flag, op='min')
            finite = bool(flag.item())
        if finite:
            return loss, log_vars
        message_hub = MessageHub.get_current_instance()
        iteration = message_hub.get_info('iter')
        where = (f'iteration {iteration}' if iteration is not None else
                 'a training step')
        if local_finite:
            what = ('the loss of another rank is not finite; this rank\'s '
                    'clips: ' + self._describe_clips())
        else:
            values = ', '.join(f'{k}={float(v.detach()):g}'
                               for k, v in log_vars.items())
            what = (f'non-finite loss ({values}) on the clips '
                    + self._describe_clips())
        mode = self.train_cfg.get('nonfinite_loss', 'raise')
        if mode == 'raise':
            raise NonFiniteLossError(
                f'{where}: {what}. Training stops before the optimizer '
                'step, so the weights are still finite. Check these clips\' '
                'masks (a frame with no labelled pixel has no loss), or set '
                "model.train_cfg.nonfinite_loss='skip' to skip such steps.")
        skipped = int(message_hub.get_info('nonfinite_skipped', 0)) + 1
        message_hub.update_info('nonfinite_skipped', skipped)
        print_log(f'{where}: {what}; step skipped ({skipped} skipped so '
                  'far)', logger='current', level=logging.WARNING)
        self._skip_this_step = True
        zero = sum((p.sum() * 0 for p in self.parameters()
                    if p.requires_grad), loss.new_zeros(()))
        return zero, OrderedDict(
            nonfinite_skipped=torch.tensor(float(skipped)))

    def _describe_clips(self, limit: int = 4) -> str:
        clips = [f'{seq} frames {list(indices)}'
                 for seq, indices in self._current_clips[:limit]]
        more = len(self._current_clips) - limit
        if more > 0:
            clips.append(f'... ({more} more)')
        return '; '.join(clips) if clips else '(unknown clips)'

    def train_step(self, data, optim_wrapper) -> Dict[str, Tensor]:
        """mmengine's training step, except that a step whose loss is not
        finite is never applied: it raises, or (``nonfinite_loss='skip'``)
        zeroes the gradients and leaves the weights as they were."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_losses, log_vars = self.parse_losses(losses)
        if self._skip_this_step:
            self._skip_this_step = False
            optim_wrapper.zero_grad()
            return log_vars
        optim_wrapper.update_params(parsed_losses)
        return log_vars
