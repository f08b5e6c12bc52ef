"""Loading frames and masks of clips and videos."""
from collections import Counter
from typing import List, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS
from vosbench.utils.image_io import read_frame
from vosbench.utils.mask_io import read_mask_as
from ..frame_sources import mask_size


@TRANSFORMS.register_module()
class LoadClipFrames(BaseTransform):
    """Read the frames at ``clip_indices``.

    Adds ``frames``: list of ``(H, W, 3)`` uint8 RGB. All frames of a clip
    must have the same size; a mismatch raises naming the odd frame's file
    (the one whose size differs from most frames of the clip or, when
    there is no majority, from its own annotation).
    """

    def transform(self, results: dict) -> dict:
        indices = list(results['clip_indices'])
        frames = [read_frame(results['frame_paths'][i]) for i in indices]
        sizes = [tuple(f.shape[:2]) for f in frames]
        if len(set(sizes)) > 1:
            odd, expected = _odd_frames(results, indices, sizes)
            names = ', '.join(f'{results["frame_paths"][i]} {size}'
                              for i, size in odd)
            raise ValueError(
                f'sequence {results.get("seq_name")}: frames of another '
                f'size than the video\'s {expected}: {names}')
        results['frames'] = frames
        return results


def _odd_frames(results: dict, indices: List[int],
                sizes: List[Tuple[int, int]]):
    """``([(frame index, size), ...], expected size)``: the frames of a clip
    whose size is not the video's. The video's size is the one most frames
    of the clip share; without a majority, a frame is odd when its size
    differs from its annotation's (read from the file header)."""
    counts = Counter(sizes).most_common()
    if len(counts) == 1 or counts[0][1] > counts[1][1]:
        expected = counts[0][0]
        return [(i, s) for i, s in zip(indices, sizes) if s != expected], \
            expected
    mask_paths = results.get('mask_paths') or [None] * (max(indices) + 1)
    odd, expected = [], None
    for i, size in zip(indices, sizes):
        if mask_paths[i] is None:
            continue
        annotated = mask_size(mask_paths[i])
        if annotated != size:
            odd.append((i, size))
            expected = annotated
    if not odd:  # nothing tells which one: name them all
        return list(zip(indices, sizes)), 'size (not known)'
    return odd, expected


@TRANSFORMS.register_module()
class LoadClipMasks(BaseTransform):
    """Read the label masks at ``clip_indices``.

    Adds ``masks``: list of ``(H, W)`` uint8 labels, read as the sample's
    ``mask_format`` ('labels' unless the dataset says 'binary', DAVIS 2016).
    A mask whose size differs from its frame raises naming the file.
    """

    def transform(self, results: dict) -> dict:
        masks = []
        for i, index in enumerate(results['clip_indices']):
            path = results['mask_paths'][index]
            if path is None:
                raise FileNotFoundError(
                    f'sequence {results.get("seq_name")}: frame '
                    f'{results["frame_names"][index]} has no annotation')
            mask = read_mask_as(path, results.get('mask_format', 'labels'))
            frame = results['frames'][i] if 'frames' in results else None
            if frame is not None and mask.shape != frame.shape[:2]:
                raise ValueError(
                    f'{path}: mask size {mask.shape} differs from its frame '
                    f'{results["frame_paths"][index]} {frame.shape[:2]}')
            masks.append(mask)
        results['masks'] = masks
        return results
