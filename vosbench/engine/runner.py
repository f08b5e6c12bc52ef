"""vosbench's runner: mmengine's :class:`~mmengine.runner.Runner`, except that
checkpoints load strictly.

mmengine's ``Runner.load_checkpoint`` (used for ``load_from``, so for
``tools/test.py``'s checkpoint and a training's starting weights, and by
``resume``) loads with ``strict=False``: a checkpoint of another model only
logs warnings and the run goes on with random weights where it does not fit.
:class:`VOSRunner` checks the checkpoint against the model first
(:mod:`vosbench.engine.strict_loading`) and fails with a message naming the
checkpoint, the first missing, unexpected and mis-shaped keys and how many
there are.

Partial loading is explicit: ``load_strict = False`` at the top level of the
config (``--partial-load`` of the tools sets it). Resuming always loads
strictly: a run resumes from its own checkpoint, of the same model.

:func:`build_runner` builds the runner of a config, as mmseg's tools do:
the class named by ``runner_type`` (``RUNNERS``; default
``'VOSRunner'``).
"""
import copy
from typing import Callable, Union

from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from vosbench.registry import RUNNERS
from .strict_loading import checkpoint_state_dict, load_state_dict_checked

#: The runner class :func:`build_runner` uses when a config sets no
#: ``runner_type``.
DEFAULT_RUNNER_TYPE = 'VOSRunner'


def load_strict_from_cfg(cfg) -> bool:
    """The config's ``load_strict`` (default True); anything but a bool is
    an error naming the key."""
    value = cfg.get('load_strict', True) if cfg is not None else True
    if not isinstance(value, bool):
        raise ValueError(f'load_strict must be True or False, got {value!r} '
                         f'({type(value).__name__})')
    return value


@RUNNERS.register_module()
class VOSRunner(Runner):
    """mmengine's runner, loading checkpoints strictly (see the module
    docstring). Built by :func:`build_runner` (or ``VOSRunner.from_cfg``);
    every argument is :class:`~mmengine.runner.Runner`'s.

    Attributes:
        load_strict (bool): ``cfg.load_strict``: whether ``load_from`` must
            match the model exactly. When False, it is also passed to the
            modules of the model that load checkpoints themselves (those
            with a ``load_strict`` attribute, e.g. ``VOSEnsemble``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.load_strict = load_strict_from_cfg(self.cfg)
        self._resuming = False
        if not self.load_strict:
            for module in self.model.modules():
                if isinstance(getattr(module, 'load_strict', None), bool):
                    module.load_strict = False

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = None,
                        revise_keys: list = [(r'^module.', '')]):
        """Load a checkpoint into the model, strictly unless ``strict`` is
        False (default: ``self.load_strict``; always strict while
        resuming).

        Raises:
            CheckpointMismatchError: naming the checkpoint and the keys
                that do not fit.
        """
        if strict is None:
            strict = True if self._resuming else self.load_strict
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        what = 'the checkpoint to resume from, ' if self._resuming else ''
        load_state_dict_checked(
            self.model, checkpoint_state_dict(checkpoint, revise_keys),
            f'{what}{filename}', strict=strict, logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume, loading the weights strictly (a run resumes
        from a checkpoint of the same model)."""
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False


def build_runner(cfg: Config) -> Runner:
    """The runner of a config: the ``RUNNERS`` class named by its
    ``runner_type`` (default :class:`VOSRunner`), built with its
    ``from_cfg``. ``cfg`` itself is not changed."""
    if cfg.get('runner_type', None) is None:
        cfg = copy.copy(cfg)
        cfg['runner_type'] = DEFAULT_RUNNER_TYPE
    return RUNNERS.build(cfg)
