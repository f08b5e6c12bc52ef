"""Reading video frames, and writing RGB images."""
import os
import os.path as osp

import cv2
import numpy as np


class FrameReadError(ValueError):
    """A frame file is missing or cannot be decoded."""


def read_frame(path: str) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path (str): Image file (JPEG, PNG, ...).

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.

    Raises:
        FrameReadError: naming the file, when it is missing or unreadable.
    """
    if not osp.isfile(path):
        raise FrameReadError(f'frame file not found: {path}')
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise FrameReadError(f'cannot decode frame {path} (corrupt or not '
                             'an image)')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_rgb_image(path: str, image: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB image (format from the extension)."""
    folder = osp.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write the image {path}')
