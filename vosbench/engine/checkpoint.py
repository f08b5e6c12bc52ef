"""mmengine loads checkpoints with ``torch.load(weights_only=True)``: the
loaders of :mod:`vosbench.utils.safe_checkpoint`, registered.

:func:`install_safe_checkpoint_loader` registers them for local paths,
URLs and mmengine's model names in mmengine's ``CheckpointLoader`` (which
``load_from``, ``resume`` and ``init_cfg=dict(type='Pretrained')`` all go
through). It also makes
``HistoryBuffer`` pickle without its statistics functions (which mmengine
writes as ``getattr`` calls, something no safe loader may allow); they are
class-level and registered again on import, so nothing is lost.
"""
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from vosbench.utils.safe_checkpoint import (NAMED_PREFIXES,  # noqa: F401
                                            RUNNER_CHECKPOINT_GLOBALS,
                                            URL_PREFIXES,
                                            UnsafeCheckpointError,
                                            load_checkpoint_file,
                                            load_local_checkpoint,
                                            load_named_checkpoint,
                                            load_url_checkpoint)


def _history_buffer_state(buffer: HistoryBuffer) -> dict:
    """``HistoryBuffer.__getstate__`` without the statistics functions."""
    state = dict(buffer.__dict__)
    state.pop('statistics_methods', None)
    return state


def install_safe_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`
    and write runner checkpoints that it can load.

    Local paths, URLs (``http(s)://``) and mmengine's model names
    (``open-mmlab://``, ``torchvision://``, ``mmcls://``) all load with
    ``weights_only=True``; other schemes (``s3://``, ``pavi://``) keep
    mmengine's loaders (``torch.load`` with torch's defaults). Idempotent.
    """
    HistoryBuffer.__getstate__ = _history_buffer_state
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=URL_PREFIXES, loader=load_url_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=NAMED_PREFIXES, loader=load_named_checkpoint, force=True)
