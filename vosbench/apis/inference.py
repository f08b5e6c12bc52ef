"""Library API: build a model and segment a folder of frames."""
import os
import os.path as osp
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

from vosbench.datasets.frame_sources import ImageFrames
from vosbench.utils.mask_io import read_mask, write_mask

FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None,
               strict: bool = True):
    """Build a VOS model from a config and load a checkpoint.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): vosbench checkpoint (loaded with
            ``weights_only=True``).
        device (str): Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config.
        strict (bool): The checkpoint must match the model exactly: a
            missing, unexpected or mis-shaped key raises
            :class:`vosbench.engine.CheckpointMismatchError` naming the
            checkpoint and the first keys of each kind. False loads the
            keys that fit and logs the others. Defaults to True.

    Returns:
        nn.Module: The model in eval mode, with its config as ``model.cfg``.
    """
    import vosbench.models  # noqa: F401  (registers the modules)
    from vosbench.engine import (install_safe_checkpoint_loader,
                                 load_checkpoint_checked)
    from vosbench.registry import MODELS

    install_safe_checkpoint_loader()

    if isinstance(config, str):
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a path or a Config, got '
                        f'{type(config)}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    model = MODELS.build(config.model)
    if checkpoint is not None:
        load_checkpoint_checked(model, checkpoint, map_location='cpu',
                                strict=strict)
    model.cfg = config
    return model.to(device).eval()


def list_frames(frame_dir: str) -> List[str]:
    """Sorted image files of a folder."""
    if not osp.isdir(frame_dir):
        raise FileNotFoundError(f'frame folder not found: {frame_dir}')
    names = sorted(f for f in os.listdir(frame_dir)
                   if f.lower().endswith(FRAME_EXTENSIONS))
    if not names:
        raise FileNotFoundError(f'no frames ({", ".join(FRAME_EXTENSIONS)}) '
                                f'in {frame_dir}')
    return [osp.join(frame_dir, n) for n in names]


def iter_segment_folder(model, frame_dir: str, first_mask: Union[str,
                                                                 np.ndarray]
                        ) -> Iterator[Tuple[str, np.ndarray]]:
    """Segment the frames of a folder, streaming them from disk.

    Args:
        model: A model from :func:`init_model`.
        frame_dir (str): Folder of frames, in name order.
        first_mask (str | np.ndarray): Label PNG of the first frame, or its
            ``(H, W)`` labels.

    Yields:
        tuple: ``(frame_name, labels)`` with ``(H, W)`` uint8 labels.
    """
    paths = list_frames(frame_dir)
    labels0 = read_mask(first_mask) if isinstance(first_mask, str) \
        else np.asarray(first_mask, dtype=np.uint8)
    frames = ImageFrames(paths, size=labels0.shape,
                         size_reference=first_mask if isinstance(
                             first_mask, str) else 'the first mask')
    names = [osp.splitext(osp.basename(p))[0] for p in paths]
    with torch.no_grad():
        for name, labels in zip(names, model.segment_video(frames,
                                                           labels0)):
            yield name, labels


def segment_folder(model, frame_dir: str, first_mask: Union[str,
                                                            np.ndarray],
                   out_dir: str) -> List[str]:
    """Segment a folder of frames and write palette PNGs to ``out_dir``.

    Returns:
        list[str]: The written files, one per frame.
    """
    written = []
    for name, labels in iter_segment_folder(model, frame_dir, first_mask):
        path = osp.join(out_dir, f'{name}.png')
        write_mask(path, labels)
        written.append(path)
    return written
