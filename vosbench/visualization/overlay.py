"""Overlay of label masks on frames."""
import cv2
import numpy as np

from vosbench.utils.mask_io import DAVIS_PALETTE


def overlay_masks(frame: np.ndarray, labels: np.ndarray,
                  alpha: float = 0.5, contour: bool = True) -> np.ndarray:
    """Blend object colours (DAVIS palette) onto a frame.

    Args:
        frame (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        labels (np.ndarray): ``(H, W)`` uint8 labels (0 background).
        alpha (float): Opacity of the colours. Defaults to 0.5.
        contour (bool): Draw each object's outline. Defaults to True.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    colours = DAVIS_PALETTE[labels]
    foreground = (labels > 0)[..., None]
    blended = np.where(
        foreground, (1 - alpha) * frame + alpha * colours, frame)
    out = blended.astype(np.uint8)
    if contour:
        for label in np.unique(labels):
            if label == 0:
                continue
            contours, _ = cv2.findContours(
                (labels == label).astype(np.uint8), cv2.RETR_EXTERNAL,
                cv2.CHAIN_APPROX_SIMPLE)
            colour = tuple(int(c) for c in DAVIS_PALETTE[label])
            cv2.drawContours(out, contours, -1, colour, 1)
    return out
