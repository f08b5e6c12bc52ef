"""Checkpoint files loaded with ``torch.load(weights_only=True)``, local or
remote.

mmengine 0.10.x calls ``torch.load`` with torch's defaults. Since torch 2.6
``weights_only`` defaults to True, and mmengine's own runner checkpoints then
fail to load because their ``message_hub`` holds ``HistoryBuffer`` objects and
numpy values. Turning ``weights_only`` off would let any downloaded file run
code. Instead, :func:`load_local_checkpoint` always loads with
``weights_only=True`` and allows exactly the extra types that mmengine's
runner writes (:data:`RUNNER_CHECKPOINT_GLOBALS`); a file that needs anything
else fails with a message that names those types.

Remote checkpoints go the same way: :func:`load_url_checkpoint` downloads a
URL into torch's hub cache and loads the file with
:func:`load_local_checkpoint` (mmengine's own URL loader ends in
``torch.hub.load_state_dict_from_url``, which unpickles with
``weights_only=False``), and :func:`load_named_checkpoint` resolves
mmengine's model names (``open-mmlab://``, ``torchvision://``, ``mmcls://``)
to such a URL or file. :func:`load_checkpoint_file` picks the right one.
These functions change nothing global; ``vosbench.engine.
install_safe_checkpoint_loader`` registers them in mmengine's
``CheckpointLoader``.
"""
import os
import os.path as osp
import pickle
from typing import Any, List, Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

#: URL prefixes loaded by :func:`load_url_checkpoint`.
URL_PREFIXES = ('http://', 'https://')
#: mmengine's model-name prefixes, loaded by :func:`load_named_checkpoint`.
NAMED_PREFIXES = ('open-mmlab://', 'openmmlab://', 'torchvision://',
                  'modelzoo://', 'mmcls://')


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


def load_url_checkpoint(url: str, map_location=None,
                        model_dir: Optional[str] = None) -> Any:
    """Download ``url`` once into torch's hub cache (``<hub
    dir>/checkpoints``, as mmengine and torch do) and load the file with
    :func:`load_local_checkpoint`. In a distributed run local rank 0
    downloads first."""
    from mmengine.dist import get_dist_info
    from torch.hub import download_url_to_file, get_dir
    if model_dir is None:
        model_dir = osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))

    def fetch():
        if not osp.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            download_url_to_file(url, cached, progress=False)

    rank, world_size = get_dist_info()
    if rank == 0:
        fetch()
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            fetch()
    return load_local_checkpoint(cached, map_location)


def load_named_checkpoint(name: str, map_location=None) -> Any:
    """Load an mmengine model name (``open-mmlab://resnet50_v1c``,
    ``torchvision://resnet50``, ``mmcls://...``) safely: the name is
    resolved with mmengine's tables to a URL (:func:`load_url_checkpoint`)
    or a file under mmengine's home (:func:`load_local_checkpoint`)."""
    from mmengine.runner import checkpoint as mmengine_checkpoint
    prefix = next(p for p in NAMED_PREFIXES if name.startswith(p))
    model = name[len(prefix):]
    if prefix in ('torchvision://', 'modelzoo://'):
        target = mmengine_checkpoint.get_torchvision_models()[model]
    elif prefix == 'mmcls://':
        target = mmengine_checkpoint.get_mmcls_models()[model]
    else:
        model = mmengine_checkpoint.get_deprecated_model_names().get(
            model, model)
        target = mmengine_checkpoint.get_external_models()[model]
    if target.startswith(URL_PREFIXES):
        checkpoint = load_url_checkpoint(target, map_location)
    else:
        checkpoint = load_local_checkpoint(
            osp.join(mmengine_checkpoint._get_mmengine_home(), target),
            map_location)
    if prefix == 'mmcls://':
        checkpoint = mmengine_checkpoint._process_mmcls_checkpoint(
            checkpoint)
    return checkpoint


def load_checkpoint_file(filename: str, map_location=None) -> Any:
    """Load a checkpoint given as a local path, a URL or an mmengine model
    name, always with ``weights_only=True``. Other schemes (``s3://``,
    ``pavi://``, ...) go to mmengine's loaders, which call ``torch.load``
    with torch's defaults."""
    if filename.startswith(URL_PREFIXES):
        return load_url_checkpoint(filename, map_location)
    if filename.startswith(NAMED_PREFIXES):
        return load_named_checkpoint(filename, map_location)
    if '://' in filename:
        from mmengine.runner.checkpoint import CheckpointLoader
        return CheckpointLoader.load_checkpoint(filename, map_location)
    return load_local_checkpoint(filename, map_location)
