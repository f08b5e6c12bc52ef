"""The one place where uint8 frames become float tensors in [0, 1]: the
data preprocessor (training clips), the video stream and the TTA views all
call :func:`frames_to_tensor`."""
from typing import Union

import numpy as np
import torch
from torch import Tensor


def frames_to_tensor(frames: Union[np.ndarray, Tensor]) -> Tensor:
    """uint8 RGB frames -> float32 in [0, 1].

    Args:
        frames (np.ndarray | Tensor): An ``(H, W, 3)`` uint8 array (a
            decoded frame), or a tensor with channels before height and
            width (``(3, H, W)``, ``(B, T, 3, H, W)``, ...): uint8 is divided
            by 255, floating point is taken as already in [0, 1].

    Returns:
        Tensor: float32; ``(3, H, W)`` for an array, the tensor's own shape
        otherwise.
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim != 3 or frames.shape[2] != 3:
            raise ValueError(f'a frame array must be (H, W, 3) RGB, got '
                             f'shape {frames.shape}')
        frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(
            2, 0, 1)
    if frames.is_floating_point():
        return frames.float()
    return frames.float().div_(255)
