"""Packing samples for the model."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS
from ..frame_sources import GivenMasks, ImageFrames


@TRANSFORMS.register_module()
class PackClipInputs(BaseTransform):
    """Pack a training clip.

    Returns ``inputs``: ``(T, 3, H, W)`` uint8 tensor, and ``data_samples``:
    dict with ``masks`` ``(T, H, W)`` long, ``num_objects``, ``seq_name``
    and ``clip_indices``.
    """

    def transform(self, results: dict) -> dict:
        frames = np.stack(results['frames']).transpose(0, 3, 1, 2)
        masks = np.stack(results['masks']).astype(np.int64)
        data_sample = dict(
            masks=torch.from_numpy(masks),
            num_objects=int(results['num_objects']),
            seq_name=results.get('seq_name'),
            clip_indices=list(results.get('clip_indices', [])))
        return dict(inputs=torch.from_numpy(np.ascontiguousarray(frames)),
                    data_samples=data_sample)


@TRANSFORMS.register_module()
class PackVideoInputs(BaseTransform):
    """Pack a whole test video as lazy sources (the model streams frames).

    ``data_samples``: ``frames`` (an :class:`ImageFrames`: frame ``i`` is
    decoded on access and must have the size of the first given mask),
    ``given_masks`` (a :class:`GivenMasks` over ``given_mask_paths``),
    ``seq_name``, ``frame_names``, ``frame_paths``,
    ``first_mask_path`` (the annotation of frame 0, None if it has none),
    ``gt_mask_paths`` (None where a frame has no annotation) and
    ``given_mask_paths``: per frame, the mask that gives the objects first
    appearing there, None elsewhere (the dataset's ``given_mask_paths``;
    without them, frame 0's annotation: ``[first, None, None, ...]``).
    YouTube-VOS samples also carry ``output_frame_names`` (the frames to
    write), ``object_first_frames`` and ``object_categories``.
    """

    #: Keys passed through when the dataset provides them.
    OPTIONAL_KEYS = ('output_frame_names', 'object_first_frames',
                     'object_categories')

    def transform(self, results: dict) -> dict:
        mask_paths = list(results['mask_paths'])
        given = results.get('given_mask_paths')
        if given is None:
            given = [mask_paths[0]] + [None] * (len(mask_paths) - 1)
        given_masks = GivenMasks(given, results.get('mask_format', 'labels'))
        frames = ImageFrames(results['frame_paths'],
                             size=given_masks.size,
                             size_reference=given_masks.first_path)
        data_sample = dict(
            frames=frames,
            given_masks=given_masks,
            seq_name=results['seq_name'],
            frame_names=list(results['frame_names']),
            frame_paths=list(results['frame_paths']),
            first_mask_path=mask_paths[0],
            gt_mask_paths=mask_paths,
            given_mask_paths=list(given))
        for key in self.OPTIONAL_KEYS:
            if results.get(key) is not None:
                data_sample[key] = results[key]
        return dict(inputs=None, data_samples=data_sample)
