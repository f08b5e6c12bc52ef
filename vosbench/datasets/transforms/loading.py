"""Loading frames and masks of clips and videos."""
import numpy as np
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS
from vosbench.utils.image_io import read_frame
from vosbench.utils.mask_io import read_mask


@TRANSFORMS.register_module()
class LoadClipFrames(BaseTransform):
    """Read the frames at ``clip_indices``.

    Adds ``frames``: list of ``(H, W, 3)`` uint8 RGB. All frames of a clip
    must have the same size; a mismatch raises naming the file.
    """

    def transform(self, results: dict) -> dict:
        frames = []
        for index in results['clip_indices']:
            path = results['frame_paths'][index]
            frame = read_frame(path)
            if frames and frame.shape != frames[0].shape:
                raise ValueError(
                    f'{path}: size {frame.shape[:2]} differs from '
                    f'{frames[0].shape[:2]} of the clip\'s first frame '
                    f'(sequence {results.get("seq_name")})')
            frames.append(frame)
        results['frames'] = frames
        return results


@TRANSFORMS.register_module()
class LoadClipMasks(BaseTransform):
    """Read the label masks at ``clip_indices``.

    Adds ``masks``: list of ``(H, W)`` uint8 labels. A mask whose size
    differs from its frame raises naming the file.
    """

    def transform(self, results: dict) -> dict:
        masks = []
        for i, index in enumerate(results['clip_indices']):
            path = results['mask_paths'][index]
            if path is None:
                raise FileNotFoundError(
                    f'sequence {results.get("seq_name")}: frame '
                    f'{results["frame_names"][index]} has no annotation')
            mask = read_mask(path)
            frame = results['frames'][i] if 'frames' in results else None
            if frame is not None and mask.shape != frame.shape[:2]:
                raise ValueError(
                    f'{path}: mask size {mask.shape} differs from its frame '
                    f'{results["frame_paths"][index]} {frame.shape[:2]}')
            masks.append(mask)
        results['masks'] = masks
        return results
