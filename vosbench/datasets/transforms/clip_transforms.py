"""Augmentations applied identically to every frame of a clip."""
from typing import Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS
from vosbench.utils.labels import VOID_LABEL, is_object_label


@TRANSFORMS.register_module()
class ClipRandomResizedCrop(BaseTransform):
    """Rescale a clip by a random factor and crop it to ``crop_size``.

    The same scale and crop are used for all frames. Frames are padded (with
    0, masks with background) when smaller than the crop. Up to
    ``max_attempts`` crops are tried to keep at least ``min_object_pixels``
    of some object visible in the first frame.

    Args:
        crop_size (tuple[int, int]): ``(height, width)``.
        scale_range (tuple[float, float]): Range of the random scale applied
            relative to the size that makes the shorter side equal to the
            crop's longer side. Defaults to (0.8, 1.2).
        min_object_pixels (int): Defaults to 100.
        max_attempts (int): Defaults to 10.
    """

    def __init__(self, crop_size: Tuple[int, int],
                 scale_range: Tuple[float, float] = (0.8, 1.2),
                 min_object_pixels: int = 100, max_attempts: int = 10):
        self.crop_size = tuple(crop_size)
        self.scale_range = scale_range
        self.min_object_pixels = min_object_pixels
        self.max_attempts = max_attempts

    def transform(self, results: dict) -> dict:
        frames, masks = results['frames'], results['masks']
        height, width = frames[0].shape[:2]
        crop_h, crop_w = self.crop_size
        base = max(crop_h, crop_w) / min(height, width)
        scale = base * np.random.uniform(*self.scale_range)
        new_h = max(crop_h, int(round(height * scale)))
        new_w = max(crop_w, int(round(width * scale)))
        frames = [cv2.resize(f, (new_w, new_h),
                             interpolation=cv2.INTER_LINEAR) for f in frames]
        masks = [cv2.resize(m, (new_w, new_h),
                            interpolation=cv2.INTER_NEAREST_EXACT)
                 for m in masks]
        first = masks[0]
        for _ in range(self.max_attempts):
            top = np.random.randint(0, new_h - crop_h + 1)
            left = np.random.randint(0, new_w - crop_w + 1)
            window = first[top:top + crop_h, left:left + crop_w]
            fg = np.count_nonzero((window > 0) & (window != VOID_LABEL))
            if fg >= self.min_object_pixels:
                break
        results['frames'] = [f[top:top + crop_h, left:left + crop_w]
                             for f in frames]
        results['masks'] = [m[top:top + crop_h, left:left + crop_w]
                            for m in masks]
        return results


@TRANSFORMS.register_module()
class ClipRandomFlip(BaseTransform):
    """Flip all frames of a clip horizontally with probability ``prob``."""

    def __init__(self, prob: float = 0.5):
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results['frames'] = [np.ascontiguousarray(f[:, ::-1])
                                 for f in results['frames']]
            results['masks'] = [np.ascontiguousarray(m[:, ::-1])
                                for m in results['masks']]
        return results


@TRANSFORMS.register_module()
class SelectObjects(BaseTransform):
    """Choose up to ``max_objects`` objects visible in the first frame and
    relabel them ``1..K`` in random order (everything else background, void
    kept as 255).

    Returns None (the dataset then draws another sample) when the clip
    cannot be trained on:

    - no object has ``min_pixels`` in the first frame;
    - a frame after the first has no labelled pixel (all void): its loss
      is undefined (NaN for a batch of such clips);
    - the chosen objects have fewer than ``min_later_pixels`` pixels in
      all the frames after the first together (they are gone: the clip is
      all background and void after its first frame).

    Args:
        max_objects (int): Defaults to 3.
        min_pixels (int): Defaults to 50.
        min_later_pixels (int): Defaults to 1; 0 keeps clips whose objects
            leave after the first frame.
    """

    def __init__(self, max_objects: int = 3, min_pixels: int = 50,
                 min_later_pixels: int = 1):
        self.max_objects = max_objects
        self.min_pixels = min_pixels
        self.min_later_pixels = min_later_pixels

    def transform(self, results: dict) -> Optional[dict]:
        masks = results['masks']
        ids, counts = np.unique(masks[0], return_counts=True)
        candidates = [int(i) for i, c in zip(ids, counts)
                      if is_object_label(int(i)) and c >= self.min_pixels]
        if not candidates:
            return None
        np.random.shuffle(candidates)
        chosen = candidates[:self.max_objects]
        lut = np.zeros(256, dtype=np.uint8)
        lut[VOID_LABEL] = VOID_LABEL
        for new_id, old_id in enumerate(chosen, start=1):
            lut[old_id] = new_id
        masks = [lut[m] for m in masks]
        later = masks[1:]
        if any(not np.any(m != VOID_LABEL) for m in later):
            return None
        if later and self.min_later_pixels > 0:
            object_pixels = sum(
                int(np.count_nonzero((m != 0) & (m != VOID_LABEL)))
                for m in later)
            if object_pixels < self.min_later_pixels:
                return None
        results['masks'] = masks
        results['object_ids'] = chosen
        results['num_objects'] = len(chosen)
        return results
