"""Checkpoints load strictly: a checkpoint that does not fit the model fails.

mmengine's runner loads ``load_from`` (and so ``tools/test.py``'s checkpoint)
with ``strict=False``: missing, unexpected and mis-shaped keys are only
logged, and a checkpoint of another model runs with random weights where it
does not fit. Here every way vosbench loads weights into a whole model
(:class:`~vosbench.engine.runner.VOSRunner` for ``load_from`` and
``resume``, :func:`vosbench.apis.init_model`, the members of
:class:`~vosbench.models.vos.VOSEnsemble`, ``tools/finetune_video.py``)
compares the checkpoint's state dict with the model's first and, unless
partial loading was asked for, raises :class:`CheckpointMismatchError`,
whose message names the checkpoint and, for each kind of mismatch, how many
keys and the first few::

    work_dirs/x/iter_100.pth does not match the model (STM): missing keys
    (12): decoder.conv.weight, ... ; unexpected keys (3): head.weight, ...;
    shape mismatch (1): memory_key_value.key.weight checkpoint (64, 128, 3,
    3) model (32, 128, 3, 3)

Partial loading (the keys that fit are loaded, the others keep their
initial values, the same summary is logged as a warning) is asked for with
``load_strict = False`` at the top level of a config, or ``--partial-load``
on the command line of ``tools/train.py``, ``tools/test.py`` and
``tools/finetune_video.py``.
"""
import logging
import re
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn

#: How partial loading is asked for (the end of every mismatch message).
PARTIAL_LOAD_HINT = (
    'To load only the matching weights on purpose, set load_strict = False '
    'in the config (tools: --partial-load).')

#: Keys shown per kind of mismatch.
SHOWN_KEYS = 5


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's keys or shapes do not match the model's."""


class StateDictMismatch(NamedTuple):
    """How a state dict differs from a model's.

    ``shape`` holds ``(key, checkpoint shape, model shape)``.
    """
    missing: List[str]
    unexpected: List[str]
    shape: List[Tuple[str, tuple, tuple]]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shape)

    def describe(self, shown: int = SHOWN_KEYS) -> str:
        """``missing keys (12): a, b, ... ; unexpected keys (3): ...; shape
        mismatch (1): x.weight checkpoint (64, 3) model (32, 3)``."""

        def listed(items: Sequence[str]) -> str:
            text = ', '.join(items[:shown])
            return text + (', ...' if len(items) > shown else '')

        parts = []
        if self.missing:
            parts.append(f'missing keys ({len(self.missing)}): '
                         f'{listed(self.missing)}')
        if self.unexpected:
            parts.append(f'unexpected keys ({len(self.unexpected)}): '
                         f'{listed(self.unexpected)}')
        if self.shape:
            parts.append(f'shape mismatch ({len(self.shape)}): ' + listed(
                [f'{key} checkpoint {tuple(ckpt)} model {tuple(model)}'
                 for key, ckpt, model in self.shape]))
        return '; '.join(parts)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module a checkpoint's keys refer to: model wrappers (DDP) and TTA
    wrappers are looked through, as mmengine's ``load_state_dict`` does."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def compare_state_dict(model: nn.Module,
                       state_dict: Dict[str, torch.Tensor]
                       ) -> StateDictMismatch:
    """Compare ``state_dict`` with ``model``'s (unwrapped). Missing
    ``num_batches_tracked`` buffers are not counted (old checkpoints lack
    them; mmengine and torch fill them in)."""
    own = unwrap_model(model).state_dict()
    missing = [k for k in own if k not in state_dict
               and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in own]
    shape = []
    for key, value in state_dict.items():
        target = own.get(key)
        if (isinstance(value, torch.Tensor)
                and isinstance(target, torch.Tensor)
                and value.shape != target.shape):
            shape.append((key, tuple(value.shape), tuple(target.shape)))
    return StateDictMismatch(missing, unexpected, shape)


def mismatch_message(source: str, model: nn.Module,
                     mismatch: StateDictMismatch) -> str:
    """The error message for ``mismatch`` (names the checkpoint, the
    model's class and the first keys of each kind)."""
    name = type(unwrap_model(model)).__name__
    return (f'{source} does not match the model ({name}): '
            f'{mismatch.describe()}. {PARTIAL_LOAD_HINT}')


def checkpoint_state_dict(checkpoint, revise_keys: Sequence[Tuple[str, str]]
                          = ((r'^module\.', ''), )) -> 'OrderedDict':
    """The state dict of a loaded checkpoint (its ``state_dict`` entry, or
    the checkpoint itself), keys revised as mmengine does (``module.``
    prefix stripped)."""
    state_dict = checkpoint.get('state_dict', checkpoint) \
        if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state_dict, dict):
        raise TypeError(f'expected a state dict, got {type(state_dict)}')
    metadata = getattr(state_dict, '_metadata', OrderedDict())
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict((re.sub(pattern, replacement, k), v)
                                 for k, v in state_dict.items())
    state_dict._metadata = metadata
    return state_dict


def load_state_dict_checked(model: nn.Module, state_dict: Dict,
                            source: str, strict: bool = True,
                            logger=None) -> StateDictMismatch:
    """Load ``state_dict`` into ``model`` after comparing them.

    Args:
        model (nn.Module): The model (wrappers are looked through).
        state_dict (dict): Keys as the model's.
        source (str): What the weights are, for messages (the path).
        strict (bool): Raise on any mismatch. With False, the keys that
            fit (name and shape) are loaded and the mismatch is logged as a
            warning.
        logger: mmengine logger (or ``'current'``) of the warning.

    Returns:
        StateDictMismatch: What did not fit (empty when all did).

    Raises:
        CheckpointMismatchError: when ``strict`` and anything does not fit.
    """
    mismatch = compare_state_dict(model, state_dict)
    if mismatch and strict:
        raise CheckpointMismatchError(
            mismatch_message(source, model, mismatch))
    target = unwrap_model(model)
    if mismatch:
        print_log(f'partial loading (load_strict=False): {source} does not '
                  f'match the model ({type(target).__name__}): '
                  f'{mismatch.describe()}; the other weights keep their '
                  'initial values', logger=logger or 'current',
                  level=logging.WARNING)
        skip = set(mismatch.unexpected) | {k for k, _, _ in mismatch.shape}
        metadata = getattr(state_dict, '_metadata', None)
        state_dict = OrderedDict(
            (k, v) for k, v in state_dict.items() if k not in skip)
        if metadata is not None:
            state_dict._metadata = metadata
    # what is left fits: torch's own loading (strict only when all fits,
    # since missing num_batches_tracked buffers are allowed)
    target.load_state_dict(state_dict, strict=False)
    return mismatch


def load_checkpoint_checked(model: nn.Module, filename: str,
                            map_location='cpu', strict: bool = True,
                            logger=None,
                            revise_keys: Sequence[Tuple[str, str]] = (
                                (r'^module\.', ''), ),
                            source: Optional[str] = None):
    """Read a checkpoint (mmengine's loaders: local files go through
    vosbench's ``weights_only`` loader once it is installed) and load it
    with :func:`load_state_dict_checked`.

    Args:
        source (str, optional): How the message names it; defaults to
            ``filename``.

    Returns:
        The loaded checkpoint (dict).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    checkpoint = _load_checkpoint(filename, map_location=map_location,
                                  logger=logger)
    state_dict = checkpoint_state_dict(checkpoint, revise_keys)
    load_state_dict_checked(model, state_dict, source or filename,
                            strict=strict, logger=logger)
    return checkpoint
