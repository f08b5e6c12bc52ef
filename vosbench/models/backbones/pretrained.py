"""Initialisation of backbones: the default init and ImageNet-pretrained
checkpoints.

Shared by every backbone of :mod:`vosbench.models.backbones` (and meant for
any backbone whose ``init_cfg`` may be
``dict(type='Pretrained', checkpoint=PATH)``):

* :func:`default_init`: ResNet's default initialisation, on any modules.
* :class:`PretrainedInitMixin` gives a backbone an ``init_weights`` that runs
  the backbone's default init (by default :func:`default_init` on all of it,
  and ``zero_init_residual``), then any other ``init_cfg`` entries through
  mmengine, then loads a ``Pretrained`` entry with
  :func:`load_pretrained_weights`, and sends its reports to mmengine's
  current logger.
* :func:`load_pretrained_weights` reads a checkpoint (in the backbone's own
  parameter names), adapts the first conv to extra input channels (STM's
  memory encoder takes 5: RGB, object mask, other objects' mask; the extra
  kernels are zero, so at initialisation the masks are ignored), drops the
  classifier and the stages that are not built, raises on shape mismatches
  and reports missing and unexpected keys by name.

Checkpoints in other naming schemes (the ResNeSt authors', mmpretrain's) are
converted first with the scripts in ``tools/model_converters/``.
"""
import logging
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from vosbench.utils.safe_checkpoint import load_checkpoint_file
from vosbench.utils.state_dict import strip_prefix

#: ``log(message, level)``: where the loading reports go.
LogFn = Callable[..., None]


def log_to_current_logger(msg: str, level: int = logging.INFO) -> None:
    """Send ``msg`` to mmengine's current logger."""
    print_log(msg, logger='current', level=level)


def default_init(modules: Iterable[nn.Module]) -> None:
    """ResNet's default init on ``modules``: Kaiming-normal (fan-out) conv
    weights, zero biases, norm weight 1 and bias 0."""
    for m in modules:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(
                m.weight, mode='fan_out', nonlinearity='relu')
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def zero_init_last_norms(modules: Iterable[nn.Module],
                         block_types: Tuple[type, ...]) -> None:
    """Zero the weight of the ``last_norm`` (the norm before the residual
    sum) of every module of ``block_types``, so that each such block starts
    as the identity."""
    for m in modules:
        if isinstance(m, block_types) and m.last_norm.weight is not None:
            nn.init.zeros_(m.last_norm.weight)


def read_backbone_state_dict(checkpoint: str,
                             prefix: Optional[str] = None,
                             map_location: str = 'cpu') -> Dict[str, Tensor]:
    """Read the state dict of a backbone from a checkpoint file.

    Takes the checkpoint's ``state_dict`` if it has one, strips a leading
    ``module.`` (DataParallel) and, with ``prefix`` (e.g. ``'backbone'``),
    keeps only the keys under it, with the prefix stripped.

    Args:
        checkpoint (str): Path or URL understood by mmengine's
            ``CheckpointLoader``.
        prefix (str, optional): Sub-module prefix in the checkpoint.
        map_location (str): Device to load the tensors to.

    Returns:
        dict[str, Tensor]: Keys in the backbone's naming.

    Raises:
        TypeError: When the file holds no dict.
        ValueError: When no key starts with ``prefix``.
    """
    ckpt = load_checkpoint_file(checkpoint, map_location=map_location)
    if not isinstance(ckpt, dict):
        raise TypeError(f'No state dict found in {checkpoint}: got a '
                        f'{type(ckpt).__name__}.')
    state_dict = strip_prefix(ckpt.get('state_dict', ckpt))
    if prefix:
        if not prefix.endswith('.'):
            prefix += '.'
        state_dict = strip_prefix(state_dict, prefix, only_prefixed=True)
        if not state_dict:
            raise ValueError(f'No key starts with {prefix!r} in '
                             f'{checkpoint}.')
    return state_dict


def load_pretrained_weights(model: nn.Module,
                            checkpoint: str,
                            *,
                            input_conv_key: str,
                            prefix: Optional[str] = None,
                            map_location: str = 'cpu',
                            ignored_prefixes: Sequence[str] = ('fc.', ),
                            unbuilt_prefixes: Sequence[str] = (),
                            name: Optional[str] = None,
                            log: LogFn = log_to_current_logger) -> None:
    """Load a checkpoint in ``model``'s own parameter names into ``model``.

    Steps: :func:`read_backbone_state_dict`; drop the keys under
    ``ignored_prefixes`` (the classifier) silently; drop the keys under
    ``unbuilt_prefixes`` (stages beyond ``num_stages``) with an info message;
    if ``input_conv_key`` has fewer input channels in the checkpoint than in
    the model (3 vs 5), append zero kernels for the extra channels; raise on
    any remaining shape mismatch; load non-strictly and log the missing and
    the unexpected keys by name as warnings.

    Args:
        model (nn.Module): The backbone.
        checkpoint (str): Path or URL understood by mmengine's
            ``CheckpointLoader``.
        input_conv_key (str): State-dict key of the first conv's weight,
            e.g. ``'conv1.weight'``.
        prefix (str, optional): Sub-module prefix in the checkpoint.
        map_location (str): Device to load the tensors to.
        ignored_prefixes (Sequence[str]): Checkpoint keys dropped without a
            report. Defaults to ``('fc.',)``.
        unbuilt_prefixes (Sequence[str]): Checkpoint keys of parts that the
            model does not build, dropped with an info message.
        name (str, optional): Name used in the messages. Defaults to the
            model's class name.
        log (callable): ``log(message, level)``. Defaults to mmengine's
            current logger.

    Raises:
        ValueError: If a tensor's shape differs from the model's (after the
            input-channel adaptation); the message names the key and both
            shapes.
    """
    name = name or type(model).__name__
    log(f'{name}: load pretrained weights from {checkpoint}' +
        (f' (prefix {prefix!r})' if prefix else ''), logging.INFO)
    state_dict = read_backbone_state_dict(checkpoint, prefix, map_location)
    ignored = tuple(ignored_prefixes)
    if ignored:
        state_dict = {
            k: v
            for k, v in state_dict.items() if not k.startswith(ignored)
        }

    unbuilt = tuple(unbuilt_prefixes)
    if unbuilt:
        dropped = sorted(k for k in state_dict if k.startswith(unbuilt))
        if dropped:
            parts = sorted({k.split('.')[0] for k in dropped})
            num_stages = getattr(model, 'num_stages', None)
            where = f'{name}(num_stages={num_stages})' \
                if num_stages is not None else name
            log(f'{where}: ignoring {len(dropped)} checkpoint tensors of '
                f'stages that are not built: {", ".join(parts)}.',
                logging.INFO)
            for k in dropped:
                del state_dict[k]

    own = model.state_dict()
    key = input_conv_key
    if key in state_dict and key in own:
        src, dst = state_dict[key], own[key]
        if (src.dim() == 4 and src.shape[1] < dst.shape[1]
                and src.shape[0] == dst.shape[0]
                and src.shape[2:] == dst.shape[2:]):
            extra = dst.shape[1] - src.shape[1]
            state_dict[key] = torch.cat(
                [src, src.new_zeros(src.shape[0], extra, *src.shape[2:])],
                dim=1)
            log(f'{name}: {key} has {src.shape[1]} input channels in the '
                f'checkpoint and {dst.shape[1]} in the model; the extra '
                f'{extra} input kernels are zero-initialised.', logging.INFO)

    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and v.shape != own[k].shape]
    if mismatched:
        lines = '; '.join(f'{k}: checkpoint {s}, model {m}'
                          for k, s, m in mismatched)
        raise ValueError(
            f'Shape mismatch loading {checkpoint} into {name}: {lines}')

    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing:
        log(f'{name}: missing keys in {checkpoint} (left at their initial '
            f'values): {", ".join(missing)}', logging.WARNING)
    if unexpected:
        log(f'{name}: unexpected keys in {checkpoint} (ignored): '
            f'{", ".join(unexpected)}', logging.WARNING)


class PretrainedInitMixin:
    """``init_weights`` with a default init and ``Pretrained`` loading.

    For :class:`mmengine.model.BaseModule` subclasses; put the mixin first in
    the bases (``class MyBackbone(PretrainedInitMixin, BaseModule)``). The
    backbone provides:

    * optionally ``residual_block_types`` (class attribute) and a
      ``zero_init_residual`` attribute, or an override of
      ``_default_init()`` (default: :func:`default_init` on every module);
    * ``input_conv_key`` (class attribute): the state-dict key of its first
      conv's weight, adapted to extra input channels;
    * optionally ``num_stages`` (stages ``layer{i}`` with ``i > num_stages``
      in a checkpoint are dropped with an info message) or an override of
      :meth:`unbuilt_prefixes`;
    * optionally ``_log(msg, level)`` to send the reports elsewhere.

    ``init_cfg`` may hold at most one ``Pretrained`` entry
    (``dict(type='Pretrained', checkpoint=PATH, prefix=None,
    map_location='cpu')``) and any other mmengine initialisers.
    """

    input_conv_key: str = 'conv1.weight'
    #: Checkpoint keys that belong to the classifier: dropped silently.
    ignored_checkpoint_prefixes: Sequence[str] = ('fc.', )
    #: Blocks whose last norm weight ``zero_init_residual`` zeroes.
    residual_block_types: Tuple[type, ...] = ()

    def _log(self, msg: str, level: int = logging.INFO) -> None:
        """Loading reports go to mmengine's current logger."""
        log_to_current_logger(msg, level)

    def _default_init(self) -> None:
        """Kaiming-normal (fan-out) convs with zero biases, norm weight 1
        and bias 0 (:func:`default_init`), and with ``zero_init_residual`` a
        zero last norm weight in every block of
        ``residual_block_types``."""
        default_init(self.modules())
        if getattr(self, 'zero_init_residual', False):
            zero_init_last_norms(self.modules(), self.residual_block_types)

    def unbuilt_prefixes(self) -> Sequence[str]:
        """State-dict prefixes of the stages that are not built."""
        num_stages = getattr(self, 'num_stages', 4)
        return tuple(f'layer{i}.' for i in range(num_stages + 1, 5))

    def init_weights(self) -> None:
        """Initialise the weights.

        Always starts with the default init. Then any non-``Pretrained``
        entries of ``init_cfg`` are applied by mmengine. Finally a
        ``Pretrained`` entry is loaded by :meth:`load_pretrained`, which,
        unlike mmengine's ``PretrainedInit``, adapts the first conv to extra
        input channels and reports every missing or unexpected key.
        """
        if self._is_init:
            self._log(
                f'init_weights of {self.__class__.__name__} has been called '
                'more than once.', logging.WARNING)
            return
        init_cfgs = self.init_cfg or []
        if isinstance(init_cfgs, dict):
            init_cfgs = [init_cfgs]
        pretrained = [
            c for c in init_cfgs
            if c.get('type') in ('Pretrained', PretrainedInit)
        ]
        others = [c for c in init_cfgs if c not in pretrained]
        if len(pretrained) > 1:
            raise ValueError(f'{self.__class__.__name__} accepts at most one '
                             f'Pretrained init_cfg, got {pretrained}')

        self._default_init()
        if others:
            # Let mmengine apply the remaining initialisers.
            full_cfg = self.init_cfg
            self.init_cfg = others
            try:
                super().init_weights()
            finally:
                self.init_cfg = full_cfg
        if pretrained:
            cfg = pretrained[0]
            self.load_pretrained(
                cfg['checkpoint'],
                prefix=cfg.get('prefix'),
                map_location=cfg.get('map_location', 'cpu'))
        self._is_init = True

    def load_pretrained(self,
                        checkpoint: str,
                        prefix: Optional[str] = None,
                        map_location: str = 'cpu') -> None:
        """Load a checkpoint in this backbone's parameter names.

        See :func:`load_pretrained_weights`: ``fc.*`` is dropped, stages that
        are not built are dropped with an info message, the first conv gets
        zero kernels for extra input channels, shape mismatches raise a
        ``ValueError`` naming the key, missing and unexpected keys are logged
        by name.

        Args:
            checkpoint (str): Path or URL understood by mmengine's
                ``CheckpointLoader`` (e.g. ``torchvision://resnet50``).
            prefix (str, optional): Sub-module prefix in the checkpoint,
                e.g. ``'backbone'``. Defaults to None.
            map_location (str): Device to load tensors to. Defaults to 'cpu'.
        """
        load_pretrained_weights(
            self,
            checkpoint,
            input_conv_key=self.input_conv_key,
            prefix=prefix,
            map_location=map_location,
            ignored_prefixes=self.ignored_checkpoint_prefixes,
            unbuilt_prefixes=self.unbuilt_prefixes(),
            name=self.__class__.__name__,
            log=self._log)
