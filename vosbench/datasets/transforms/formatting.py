"""Packing samples for the model."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS


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
    """Pack a whole test video as file paths (the model streams frames).

    ``data_samples``: ``seq_name``, ``frame_names``, ``frame_paths``,
    ``first_mask_path`` and ``gt_mask_paths`` (None where a frame has no
    annotation).
    """

    def transform(self, results: dict) -> dict:
        data_sample = dict(
            seq_name=results['seq_name'],
            frame_names=list(results['frame_names']),
            frame_paths=list(results['frame_paths']),
            first_mask_path=results['mask_paths'][0],
            gt_mask_paths=list(results['mask_paths']))
        return dict(inputs=None, data_samples=data_sample)
