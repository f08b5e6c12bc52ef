"""Overlay of label masks on frames."""
import cv2
import numpy as np

from vosbench.utils.mask_io import DAVIS_PALETTE


def overlay_masks(frame: np.ndarray, labels: np.ndarray,
                  alpha: float = 0.5, contour: bool = True,
                  object_ids: bool = False) -> np.ndarray:
    """Blend object colours (DAVIS palette) onto a frame.

    Args:
        frame (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        labels (np.ndarray): ``(H, W)`` uint8 labels (0 background).
        alpha (float): Opacity of the colours. Defaults to 0.5.
        contour (bool): Draw each object's outline. Defaults to True.
        object_ids (bool): Write each object's id at the centre of its
            largest part. Defaults to False.

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
    if object_ids:
        for label in np.unique(labels):
            if label != 0:
                _draw_id(out, labels == label, int(label))
    return out


def _draw_id(image: np.ndarray, mask: np.ndarray, label: int) -> None:
    """Write ``label`` (white on black) at the centre of the largest part
    of ``mask``."""
    count, parts, stats, centres = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8))
    if count < 2:
        return
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y = (int(round(v)) for v in centres[largest])
    scale = max(0.4, image.shape[0] / 600)
    text = str(label)
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX,
                                         scale, 1)
    put_outlined_text(image, text, (x - width // 2, y + height // 2), scale)


def put_outlined_text(image: np.ndarray, text: str, origin: tuple,
                      scale: float) -> None:
    """Write ``text`` in white with a black outline, readable on any
    colour; ``origin`` is the bottom left corner ``(x, y)``."""
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two ``(H, W, 3)`` images of one height next to each other."""
    if left.shape[0] != right.shape[0]:
        raise ValueError(f'side_by_side: heights differ ({left.shape[0]} '
                         f'and {right.shape[0]})')
    return np.concatenate([left, right], axis=1)
