"""DAVIS region (J) and boundary (F) measures, semi-supervised protocol.

Everything here follows the semantics of the official DAVIS 2017 toolkit
(see ``REFERENCE.md`` section 2) to the last digit, without its faults:
no one-hot volume over all labels, no uint8 index overflow in Decay, no
phantom objects, and clear errors instead of silent exits.

Speed: the per-object work is done inside the bounding box of the union of
the ground-truth and predicted masks (plus one pixel), which gives exactly
the same counts as full-image work because no boundary pixel can lie
outside it (see :func:`_union_window`).
"""
import math
import warnings
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

__all__ = [
    'boundary_map', 'disk_kernel', 'boundary_radius', 'jaccard', 'f_measure',
    'sequence_statistics', 'evaluate_sequence'
]

#: Label of "void" pixels in DAVIS ground truth (treated as background).
VOID_LABEL = 255


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a binary mask, the DAVIS way.

    A pixel is on the boundary if its value differs from its east, south or
    south-east neighbour. Pixels of the last row only look east, pixels of
    the last column only look south, and the bottom-right pixel is never on
    the boundary: nothing outside the image is compared, so a mask touching
    the image border has no boundary along that border.

    Args:
        mask (np.ndarray): ``(H, W)`` mask; any non-zero value is foreground.

    Returns:
        np.ndarray: ``(H, W)`` bool boundary map.
    """
    seg = np.asarray(mask).astype(bool, copy=False)
    if seg.ndim != 2:
        raise ValueError(f'boundary_map expects an (H, W) mask, got shape '
                         f'{seg.shape}')
    bmap = np.zeros(seg.shape, dtype=bool)
    core = seg[:-1, :-1]
    bmap[:-1, :-1] = ((core != seg[:-1, 1:]) | (core != seg[1:, :-1])
                      | (core != seg[1:, 1:]))
    # Last row: east neighbour only; last column: south neighbour only.
    bmap[-1:, :-1] = seg[-1:, :-1] != seg[-1:, 1:]
    bmap[:-1, -1:] = seg[:-1, -1:] != seg[1:, -1:]
    return bmap


def disk_kernel(radius: int) -> np.ndarray:
    """Disk structuring element: offsets ``(x, y)`` with ``x^2 + y^2 <= r^2``.

    This is not OpenCV's ``MORPH_ELLIPSE`` (which has 213 pixels instead of
    197 for radius 8).

    Args:
        radius (int): Radius ``r >= 0`` in pixels.

    Returns:
        np.ndarray: ``(2r+1, 2r+1)`` uint8 array of 0/1.
    """
    return _cached_disk(int(radius)).copy()


@lru_cache(maxsize=16)
def _cached_disk(radius: int) -> np.ndarray:
    if radius < 0:
        raise ValueError(f'disk radius must be >= 0, got {radius}')
    offsets = np.arange(-radius, radius + 1)
    kernel = (offsets[:, None]**2 + offsets[None, :]**2
              <= radius * radius).astype(np.uint8)
    kernel.setflags(write=False)
    return kernel


@lru_cache(maxsize=16)
def boundary_radius(height: int, width: int, bound_th: float = 0.008) -> int:
    """Boundary tolerance in pixels: ``ceil(bound_th * sqrt(H^2 + W^2))``.

    Returns:
        int: The radius (8 for 480x854 with the default ``bound_th``).
    """
    return int(math.ceil(bound_th * math.sqrt(height * height +
                                              width * width)))


def jaccard(gt: np.ndarray,
            pred: np.ndarray) -> Union[float, np.ndarray]:
    """Region similarity J = |P and G| / |P or G| (1 when both are empty).

    Args:
        gt (np.ndarray): ``(..., H, W)`` ground-truth masks (non-zero is
            foreground).
        pred (np.ndarray): Predicted masks of the same shape.

    Returns:
        float | np.ndarray: A float for ``(H, W)`` inputs, else a float64
        array of shape ``(...)``.
    """
    gt = np.asarray(gt).astype(bool, copy=False)
    pred = np.asarray(pred).astype(bool, copy=False)
    if gt.shape != pred.shape or gt.ndim < 2:
        raise ValueError(f'jaccard needs masks of equal shape (..., H, W), '
                         f'got {gt.shape} and {pred.shape}')
    inter = np.count_nonzero(gt & pred, axis=(-2, -1))
    union = np.count_nonzero(gt | pred, axis=(-2, -1))
    if gt.ndim == 2:
        return 1.0 if union == 0 else int(inter) / int(union)
    inter = np.asarray(inter, dtype=np.float64)
    union = np.asarray(union, dtype=np.float64)
    return np.divide(inter, union, out=np.ones_like(inter), where=union > 0)


def _union_window(gt: np.ndarray,
                  pred: np.ndarray) -> Optional[Tuple[slice, slice]]:
    """Window holding every foreground and every boundary pixel of both masks.

    Boundary pixels lie in the foreground bounding box grown by one pixel up
    and left (a background pixel is on the boundary only if a neighbour to
    its east/south/south-east is foreground). Growing the box by one pixel on
    every side (clipped to the image) also makes the in-window boundary rule
    exact at window edges that are not image edges: the pixels there are
    background with background neighbours, so they are no boundary either way.
    Dilation inside the window is exact too, since no boundary pixel lies
    outside it.

    Args:
        gt, pred (np.ndarray): ``(H, W)`` C-contiguous bool masks.

    Returns:
        tuple | None: ``(rows, cols)`` slices, or None if both are empty.
    """
    x0 = y0 = None
    x1 = y1 = 0
    for mask in (gt, pred):
        x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
        if w == 0 or h == 0:
            continue
        x0 = x if x0 is None else min(x0, x)
        y0 = y if y0 is None else min(y0, y)
        x1, y1 = max(x1, x + w), max(y1, y + h)
    if x0 is None:
        return None
    height, width = gt.shape
    return (slice(max(y0 - 1, 0), min(y1 + 1, height)),
            slice(max(x0 - 1, 0), min(x1 + 1, width)))


def _boundary_f(gt_bound: np.ndarray, pred_bound: np.ndarray,
                kernel: np.ndarray) -> float:
    """F from two ``(h, w)`` bool boundary maps and a uint8 disk kernel."""
    n_pred = int(np.count_nonzero(pred_bound))
    n_gt = int(np.count_nonzero(gt_bound))
    if n_pred == 0 or n_gt == 0:
        # both empty -> 1; only one of them empty -> 0
        return 1.0 if n_pred == n_gt else 0.0
    gt_dil = cv2.dilate(gt_bound.view(np.uint8), kernel).view(bool)
    pred_dil = cv2.dilate(pred_bound.view(np.uint8), kernel).view(bool)
    precision = int(np.count_nonzero(pred_bound & gt_dil)) / n_pred
    recall = int(np.count_nonzero(gt_bound & pred_dil)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _object_scores(gt: np.ndarray, pred: np.ndarray,
                   kernel: np.ndarray) -> Tuple[float, float]:
    """J and F of one object in one frame.

    Args:
        gt, pred (np.ndarray): ``(H, W)`` C-contiguous bool masks.
        kernel (np.ndarray): uint8 disk kernel for the boundary tolerance.

    Returns:
        tuple[float, float]: ``(J, F)``.
    """
    window = _union_window(gt, pred)
    if window is None:
        return 1.0, 1.0
    gt_w, pred_w = gt[window], pred[window]
    inter = int(np.count_nonzero(gt_w & pred_w))
    union = int(np.count_nonzero(gt_w | pred_w))
    j = inter / union  # union > 0: the window is not empty
    f = _boundary_f(boundary_map(gt_w), boundary_map(pred_w), kernel)
    return j, f


def f_measure(gt: np.ndarray,
              pred: np.ndarray,
              bound_th: float = 0.008) -> float:
    """Boundary measure F of one frame.

    Boundaries are taken with :func:`boundary_map` and matched within
    ``r = ceil(bound_th * sqrt(H^2 + W^2))`` pixels (a disk of radius r);
    precision = |Bp and dil(Bg)| / |Bp|, recall = |Bg and dil(Bp)| / |Bg|,
    F = 2PR / (P + R) (0 when P + R = 0). By boundary-pixel counts: both
    empty gives 1, exactly one of them empty gives 0.

    Args:
        gt (np.ndarray): ``(H, W)`` ground-truth mask (non-zero is
            foreground).
        pred (np.ndarray): ``(H, W)`` predicted mask.
        bound_th (float): Tolerance as a fraction of the image diagonal.

    Returns:
        float: F in [0, 1].
    """
    gt = np.ascontiguousarray(np.asarray(gt).astype(bool, copy=False))
    pred = np.ascontiguousarray(np.asarray(pred).astype(bool, copy=False))
    if gt.shape != pred.shape or gt.ndim != 2:
        raise ValueError(f'f_measure needs two (H, W) masks of equal shape, '
                         f'got {gt.shape} and {pred.shape}')
    window = _union_window(gt, pred)
    if window is None:
        return 1.0
    kernel = _cached_disk(boundary_radius(*gt.shape, bound_th))
    return _boundary_f(
        boundary_map(gt[window]), boundary_map(pred[window]), kernel)


def sequence_statistics(values: np.ndarray) -> Tuple[float, float, float]:
    """Mean, Recall and Decay of one object's per-frame values.

    - Mean: ``nanmean(values)``.
    - Recall: fraction of frames with value ``> 0.5`` (strict).
    - Decay: with ``n`` frames, bin edges
      ``e = round(linspace(1, n, 5) + 1e-10) - 1`` (the ``1e-10`` rounds .5
      up), bin ``i = values[e[i] : e[i+1] + 1]`` (neighbouring bins share
      their edge element), Decay = ``nanmean(bin 0) - nanmean(bin 3)``.
      The edges are int64, so any number of frames works.

    Args:
        values (np.ndarray): ``(n,)`` per-frame J or F of one object.

    Returns:
        tuple[float, float, float]: ``(mean, recall, decay)``; all NaN for
        ``n = 0``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f'sequence_statistics expects a 1-D array, got '
                         f'shape {values.shape}')
    n = values.shape[0]
    if n == 0:
        return math.nan, math.nan, math.nan
    edges = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        mean = np.nanmean(values)
        recall = np.mean(values > 0.5)
        decay = (np.nanmean(values[edges[0]:edges[1] + 1]) -
                 np.nanmean(values[edges[3]:edges[4] + 1]))
    return float(mean), float(recall), float(decay)


def _check_prediction(pred: np.ndarray, gt: np.ndarray, max_id: int,
                      seq_name: str, frame_name: str) -> None:
    """Raise ``ValueError`` naming the frame if a prediction is unusable."""
    where = f'sequence {seq_name!r}, frame {frame_name!r}'
    if pred.shape != gt.shape:
        raise ValueError(f'{where}: prediction has shape {pred.shape} but '
                         f'the ground truth has shape {gt.shape}')
    if pred.dtype.kind not in 'ui':
        raise ValueError(f'{where}: prediction must hold integer labels, '
                         f'got dtype {pred.dtype}')
    if pred.size == 0:
        return
    top = int(pred.max())
    if top > max_id:
        raise ValueError(
            f'{where}: predicted label {top} is above the largest object id '
            f'({max_id}) of the first ground-truth frame')
    if pred.dtype.kind == 'i' and int(pred.min()) < 0:
        raise ValueError(f'{where}: prediction has negative labels')


def _present_labels(labels: np.ndarray) -> List[int]:
    """Sorted labels present in an ``(H, W)`` integer label map."""
    if labels.dtype == np.uint8:
        # a 256-bin histogram: no sort, no int64 copy of the frame
        hist = cv2.calcHist([np.ascontiguousarray(labels)], [0], None, [256],
                            [0, 256])
        return np.flatnonzero(hist.ravel()).tolist()
    return np.unique(labels).tolist()


def evaluate_sequence(gt_labels: Sequence[Optional[np.ndarray]],
                      pred_labels: Sequence[np.ndarray],
                      seq_name: str,
                      frame_names: Sequence[str],
                      bound_th: float = 0.008) -> Dict[str, object]:
    """Per-object, per-frame J and F of one sequence (semi-supervised).

    Rules (DAVIS 2017 semi-supervised protocol):

    - Void (255) in the ground truth is background; a prediction over void
      is therefore a false positive.
    - Objects are the labels present in the first ground-truth frame (after
      void is removed), in increasing order. An id between 1 and the largest
      one that is absent from the first frame is *not* an object (the
      official toolkit would score such a phantom object as 1.0); a
      prediction with that label is simply not scored. Labels in later
      ground-truth frames that are not objects count as background.
    - The first and last frame of the sequence are never scored; other
      frames whose ground truth is None (sparse ground truth) are skipped.
    - A prediction that lacks an object counts as empty for it.
    - In a scored frame, a predicted label above the largest object id, or a
      prediction whose shape differs from the ground truth, raises a
      ``ValueError`` naming the sequence and frame. Unscored frames are not
      checked (frame 0 may be the raw annotation, void included).

    Memory stays small: masks are compared one object at a time and the
    per-object work is done inside the objects' bounding box.

    Args:
        gt_labels (Sequence[np.ndarray | None]): ``T`` ground-truth
            ``(H, W)`` uint8 label maps, None where a frame has no ground
            truth.
        pred_labels (Sequence[np.ndarray]): ``T`` predicted ``(H, W)``
            integer label maps (a ``(T, H, W)`` array works too).
        seq_name (str): Sequence name, used in error messages.
        frame_names (Sequence[str]): ``T`` frame names.
        bound_th (float): Boundary tolerance as a fraction of the image
            diagonal.

    Returns:
        dict: ``seq_name`` (str), ``object_ids`` (list[int], ``N`` ids),
        ``J`` and ``F`` (``(N, S)`` float64 for the ``S`` scored frames),
        ``frame_names`` (list[str], the ``S`` scored frame names).
    """
    num_frames = len(frame_names)
    if len(gt_labels) != num_frames or len(pred_labels) != num_frames:
        raise ValueError(
            f'sequence {seq_name!r}: {num_frames} frame names, '
            f'{len(gt_labels)} ground-truth frames and {len(pred_labels)} '
            'predicted frames; they must match')
    first = next((gt for gt in gt_labels if gt is not None), None)
    if first is None:
        raise ValueError(f'sequence {seq_name!r} has no ground-truth frame')
    first = np.asarray(first)
    if first.ndim != 2 or first.dtype.kind not in 'ui':
        raise ValueError(f'sequence {seq_name!r}: ground truth must be '
                         f'(H, W) integer labels, got shape {first.shape} '
                         f'and dtype {first.dtype}')
    object_ids = [
        label for label in _present_labels(first)
        if label not in (0, VOID_LABEL)
    ]
    if not object_ids:
        raise ValueError(
            f'sequence {seq_name!r}: the first ground-truth frame has no '
            'object (only background and void); masks with values 0/255 '
            '(DAVIS 2016) must be converted to 0/1 first')
    max_id = object_ids[-1]

    scored = [t for t in range(1, num_frames - 1) if gt_labels[t] is not None]
    j_scores = np.empty((len(object_ids), len(scored)), dtype=np.float64)
    f_scores = np.empty((len(object_ids), len(scored)), dtype=np.float64)
    for col, t in enumerate(scored):
        gt = np.asarray(gt_labels[t])
        pred = np.asarray(pred_labels[t])
        _check_prediction(pred, gt, max_id, seq_name, str(frame_names[t]))
        kernel = _cached_disk(boundary_radius(*gt.shape, bound_th))
        for row, obj_id in enumerate(object_ids):
            j_scores[row, col], f_scores[row, col] = _object_scores(
                np.ascontiguousarray(gt == obj_id),
                np.ascontiguousarray(pred == obj_id), kernel)
    return dict(
        seq_name=seq_name,
        object_ids=object_ids,
        J=j_scores,
        F=f_scores,
        frame_names=[str(frame_names[t]) for t in scored])
