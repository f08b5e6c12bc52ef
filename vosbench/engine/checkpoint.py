"""Checkpoint loading that keeps ``torch.load(weights_only=True)``.

mmengine 0.10.x calls ``torch.load`` with torch's defaults. Since torch 2.6
``weights_only`` defaults to True, and mmengine's own runner checkpoints then
fail to load because their ``message_hub`` holds ``HistoryBuffer`` objects and
numpy values. Turning ``weights_only`` off would let any downloaded file run
code. Instead, :func:`load_local_checkpoint` always loads with
``weights_only=True`` and allows exactly the extra types that mmengine's
runner writes (:data:`RUNNER_CHECKPOINT_GLOBALS`); a file that needs anything
else fails with a message that names those types.

:func:`install_safe_checkpoint_loader` registers it for local paths in
mmengine's ``CheckpointLoader`` (which ``load_from``, ``resume`` and
``init_cfg=dict(type='Pretrained')`` all go through). It also makes
``HistoryBuffer`` pickle without its statistics functions (which mmengine
writes as ``getattr`` calls, something no safe loader may allow); they are
class-level and registered again on import, so nothing is lost.
"""
import os.path as osp
import pickle
from typing import Any, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def _numpy_globals() -> List[Any]:
    """Numpy types that pickled numpy scalars and arrays refer to."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(name)) for name in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
        'uint32', 'uint64', 'float16', 'float32', 'float64')]
    return [_reconstruct, scalar, np.ndarray, np.dtype] + dtype_classes


#: The non-tensor types mmengine's runner puts into its checkpoints.
RUNNER_CHECKPOINT_GLOBALS: List[Any] = [HistoryBuffer] + _numpy_globals()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects that ``weights_only`` loading refuses."""


def load_local_checkpoint(filename: str,
                          map_location: Optional[Union[str, Any]] = None
                          ) -> Any:
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the file.
        map_location: As for :func:`torch.load`.

    Returns:
        The unpickled object (usually a dict of tensors or a runner
        checkpoint dict).

    Raises:
        FileNotFoundError: when the file does not exist.
        UnsafeCheckpointError: when the file holds other objects than
            tensors, containers and the runner's known types; the message
            names them.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(RUNNER_CHECKPOINT_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
                filename)
        except Exception:  # not a zip checkpoint: keep torch's message
            unsafe = []
        allowed = {f'{g.__module__}.{g.__qualname__}'
                   for g in RUNNER_CHECKPOINT_GLOBALS}
        unsafe = [name for name in unsafe if name not in allowed]
        raise UnsafeCheckpointError(
            f'{filename} cannot be loaded with weights_only=True: it holds '
            f'objects of types {unsafe or "(see below)"} besides weights. '
            'vosbench never unpickles arbitrary code from checkpoint files. '
            'If you trust this file, extract its state dict once in a trusted '
            'session (torch.load(..., weights_only=False)["state_dict"]) and '
            f'save that with torch.save. Original error: {exc}') from exc


def _history_buffer_state(buffer: HistoryBuffer) -> dict:
    """``HistoryBuffer.__getstate__`` without the statistics functions."""
    state = dict(buffer.__dict__)
    state.pop('statistics_methods', None)
    return state


def install_safe_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`
    and write runner checkpoints that it can load.

    Idempotent. Remote schemes (http, s3, ...) keep mmengine's loaders.
    """
    HistoryBuffer.__getstate__ = _history_buffer_state
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
