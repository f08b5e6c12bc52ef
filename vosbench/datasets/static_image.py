"""Base class of the still-image datasets used to pre-train on synthetic clips.

A static dataset describes images with instance (or saliency) masks. For each
index it loads one *static sample*::

    dict(image=(H, W, 3) uint8 RGB,
         mask=(H, W) uint8 labels (0 background, 1..N objects, 255 ignore),
         img_path=str, source=str (dataset name), seq_name=str,
         sample_idx=int,
         sample_loader=callable(index) -> static sample of this dataset,
         num_samples=int)

and runs its pipeline on it; the clip-synthesis transforms
(:mod:`vosbench.datasets.transforms.clip_synthesis`) turn it into the
``frames``/``masks`` clip that ``SelectObjects`` and ``PackClipInputs`` finish,
exactly as for videos. ``sample_loader`` lets ``PasteObjects`` take objects
from other images of the same dataset; it draws their indices from
``np.random``, so a seeded run is reproducible.

The pipeline is random: when it returns None (objects too small after
augmentation), it is run again on the same image, up to ``augment_attempts``
times, before the dataset moves on to another, random image (mmengine's
refetch).
"""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from vosbench.registry import TRANSFORMS
from vosbench.utils.image_io import read_frame
from vosbench.utils.labels import VOID_LABEL, object_ids

from .davis import DatasetLayoutError


class StaticImageDataset(BaseDataset):
    """Still images with label maps, for clip synthesis.

    Subclasses implement :meth:`load_data_list` (entries with at least
    ``img_path``) and :meth:`load_mask`.

    Args:
        pipeline (list): Transforms, from the static sample to the packed
            clip.
        augment_attempts (int): Times the pipeline is tried on one image
            before another image is drawn. Defaults to 3.
        Other arguments are those of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(dataset_name='static')

    def __init__(self, pipeline: Sequence = (), augment_attempts: int = 3,
                 **kwargs):
        if augment_attempts < 1:
            raise ValueError(f'augment_attempts must be >= 1, got '
                             f'{augment_attempts}')
        self.augment_attempts = augment_attempts
        # built from vosbench's registry, so that a dataset made outside a
        # runner (no default scope) finds vosbench's transforms too
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                    for t in pipeline]
        super().__init__(pipeline=pipeline, **kwargs)

    @property
    def source(self) -> str:
        """Name of this data source, recorded in every sample."""
        return self.metainfo.get('dataset_name', type(self).__name__)

    def load_mask(self, info: dict, height: int, width: int) -> np.ndarray:
        """The ``(height, width)`` uint8 label map of one entry."""
        raise NotImplementedError

    def load_sample(self, idx: int) -> dict:
        """Read image and label map of entry ``idx`` (no transforms).

        Raises:
            FrameReadError / MaskReadError / DatasetLayoutError: naming the
                file, when it is missing or unreadable, or when the mask's
                size differs from the image's.
        """
        info = self.get_data_info(idx)
        image = read_frame(info['img_path'])
        height, width = image.shape[:2]
        mask = self.load_mask(info, height, width)
        if mask.shape != (height, width):
            raise DatasetLayoutError(
                f'mask of {info["img_path"]} has size {mask.shape}, the image '
                f'{(height, width)} ({info.get("seg_path", "annotation")})')
        info.update(
            image=image,
            mask=mask.astype(np.uint8, copy=False),
            source=self.source,
            seq_name=info.get('seq_name') or osp.splitext(
                osp.basename(info['img_path']))[0])
        return info

    def prepare_data(self, idx: int) -> Optional[dict]:
        sample = self.load_sample(idx)
        sample['sample_loader'] = self.load_sample
        sample['num_samples'] = len(self)
        for _ in range(self.augment_attempts):
            results = dict(sample)
            results['image'] = sample['image'].copy()
            results['mask'] = sample['mask'].copy()
            results = self.pipeline(results)
            if results is not None:
                return results
        return None


def check_file(path: str, what: str) -> str:
    """``path`` if it is a file, else :class:`DatasetLayoutError` naming it."""
    if not osp.isfile(path):
        raise DatasetLayoutError(f'{what} not found: {path}')
    return path


def read_split_file(path: str) -> list:
    """Names listed one a line (blank lines skipped)."""
    check_file(path, 'split file')
    with open(path) as f:
        names = [line.strip().split()[0] for line in f if line.strip()]
    if not names:
        raise DatasetLayoutError(f'split file {path} lists no images')
    return names


def relabel_consecutive(mask: np.ndarray) -> np.ndarray:
    """Map the object labels of ``mask`` (all but 0 and 255) to ``1..N`` in
    increasing order of their old value."""
    ids = object_ids(mask)
    if ids == list(range(1, len(ids) + 1)):
        return mask
    lut = np.zeros(256, np.uint8)
    lut[VOID_LABEL] = VOID_LABEL
    for new, old in enumerate(ids, start=1):
        lut[old] = new
    return lut[mask]


__all__ = ['StaticImageDataset', 'check_file', 'read_split_file',
           'relabel_consecutive']
