"""DAVIS region (J) and boundary (F) measures, semi-supervised protocol.

Everything here follows the semantics of the official DAVIS 2017 toolkit
(see ``REFERENCE.md`` section 2) to the last digit, without its faults:
no one-hot volume over all labels, no uint8 index overflow in Decay, no
phantom objects, and clear errors instead of silent exits. It also scores
what the official toolkit cannot: DAVIS 2016 masks and sparse ground truth
(see :func:`evaluate_sequence` for all the rules).

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

# VOID_LABEL ("void" pixels of the DAVIS ground truth, treated as
# background) stays importable from here
from vosbench.utils.labels import VOID_LABEL

__all__ = [
    'boundary_map', 'disk_kernel', 'boundary_radius', 'jaccard', 'f_measure',
    'sequence_statistics', 'evaluate_sequence', 'SequenceEvaluationError'
]


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


class SequenceEvaluationError(ValueError):
    """A sequence cannot be scored. The message names the sequence and,
    where one is to blame, the frame."""


def _where(seq_name: str, frame_name: str) -> str:
    return f'sequence {seq_name!r}, frame {frame_name!r}'


def _as_label_map(labels, kind: str, seq_name: str,
                  frame_name: str) -> np.ndarray:
    """``labels`` as an ``(H, W)`` uint8 array, or a clear error.

    Integer label maps with values in 0..255 are converted; bool masks
    become 0/1.
    """
    arr = np.asarray(labels)
    where = _where(seq_name, frame_name)
    if arr.ndim != 2:
        raise SequenceEvaluationError(
            f'{where}: the {kind} must be an (H, W) label map, got shape '
            f'{arr.shape}')
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind not in 'ui':
        raise SequenceEvaluationError(
            f'{where}: the {kind} must hold integer labels, got dtype '
            f'{arr.dtype}')
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < 0:
            raise SequenceEvaluationError(
                f'{where}: the {kind} has the negative label {low}')
        if high > 255:
            raise SequenceEvaluationError(
                f'{where}: the {kind} has the label {high}; labels are '
                '0..255 (255 is void in the ground truth)')
    return arr.astype(np.uint8)


def _nonzero_box(labels: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """``(y0, y1, x0, x1)`` of the non-zero pixels of a uint8 map."""
    x, y, w, h = cv2.boundingRect(labels)
    if w == 0 or h == 0:
        return None
    return y, y + h, x, x + w


def _label_set(labels: np.ndarray) -> List[int]:
    """Sorted non-zero labels of an ``(H, W)`` uint8 map.

    A 256-bin histogram over the bounding box of the non-zero pixels: no
    sort, no wide copy, and nothing proportional to the label values.
    """
    box = _nonzero_box(labels)
    if box is None:
        return []
    y0, y1, x0, x1 = box
    hist = cv2.calcHist([np.ascontiguousarray(labels[y0:y1, x0:x1])], [0],
                        None, [256], [0, 256]).ravel()
    hist[0] = 0
    return np.flatnonzero(hist).tolist()


def _frame_window(gt: np.ndarray, pred: np.ndarray,
                  pred_box) -> Optional[Tuple[slice, slice]]:
    """Window holding every non-zero pixel of both label maps, grown by one
    pixel on every side (clipped to the image); see :func:`_union_window`
    for why per-object work inside it is exact."""
    boxes = [box for box in (_nonzero_box(gt), pred_box) if box is not None]
    if not boxes:
        return None
    height, width = gt.shape
    return (slice(max(min(b[0] for b in boxes) - 1, 0),
                  min(max(b[1] for b in boxes) + 1, height)),
            slice(max(min(b[2] for b in boxes) - 1, 0),
                  min(max(b[3] for b in boxes) + 1, width)))


class _SequenceScorer:
    """Scores the frames of one sequence, one frame at a time.

    Holds the object set (``object_first``: id -> index of the annotated
    frame where it first appears) and the per-frame scores; see
    :func:`evaluate_sequence` for the rules.
    """

    def __init__(self, seq_name: str, pred_labels: Sequence[np.ndarray],
                 sparse: bool, binary: bool, bound_th: float):
        self.seq_name = seq_name
        self.pred_labels = pred_labels
        self.sparse = sparse
        self.binary = binary
        self.bound_th = bound_th
        self.object_first: Dict[int, int] = {}
        self.object_first_name: Dict[int, str] = {}
        self.columns: List[Tuple[str, Dict[int, Tuple[float, float]]]] = []
        # sparse mode: predicted labels not (yet) known as objects, with
        # the frame where each was first predicted
        self.unknown_labels: Dict[int, str] = {}

    def add_objects(self, gt: np.ndarray, index: int,
                    frame_name: str) -> None:
        """Register the objects of an annotated frame (void is none)."""
        for label in _label_set(gt):
            if label != VOID_LABEL and label not in self.object_first:
                self.object_first[label] = index
                self.object_first_name[label] = frame_name
                self.unknown_labels.pop(label, None)

    def _check_labels(self, pred: np.ndarray, pred_box,
                      frame_name: str) -> None:
        if pred_box is None:
            return
        y0, y1, x0, x1 = pred_box
        window = pred[y0:y1, x0:x1]
        ids = self.object_first
        top = int(window.max())
        if top in ids and len(ids) == max(ids):
            return  # ids are 1..max and no label is above max: all valid
        for label in _label_set(window):
            if label in ids:
                continue
            if self.sparse:
                # may still become an object in a later annotated frame
                self.unknown_labels.setdefault(label, frame_name)
                continue
            raise SequenceEvaluationError(_label_message(
                self.seq_name, frame_name, label, sorted(ids), False))

    def score(self, gt: np.ndarray, index: int, frame_name: str) -> None:
        """Score, in annotated frame ``index``, the objects that appeared
        before it (all objects in DAVIS mode); reads the prediction."""
        objects = [obj for obj, first in sorted(self.object_first.items())
                   if first < index]
        if not objects:
            return  # sparse mode: no object has appeared yet
        pred = _as_label_map(self.pred_labels[index], 'prediction',
                             self.seq_name, frame_name)
        if self.binary:
            pred = _binarize(pred)
        if pred.shape != gt.shape:
            raise SequenceEvaluationError(
                f'{_where(self.seq_name, frame_name)}: the prediction has '
                f'shape {pred.shape} (H, W) but the ground truth has shape '
                f'{gt.shape}')
        pred_box = _nonzero_box(pred)
        self._check_labels(pred, pred_box, frame_name)
        window = _frame_window(gt, pred, pred_box)
        scores = {}
        if window is None:
            scores = {obj: (1.0, 1.0) for obj in objects}
        else:
            kernel = _cached_disk(boundary_radius(*gt.shape, self.bound_th))
            gt_w, pred_w = gt[window], pred[window]
            for obj in objects:
                scores[obj] = _object_scores(
                    np.equal(gt_w, obj), np.equal(pred_w, obj), kernel)
        self.columns.append((frame_name, scores))

    def result(self) -> Dict[str, object]:
        if self.unknown_labels:
            label, frame_name = min(self.unknown_labels.items(),
                                    key=lambda item: item[0])
            raise SequenceEvaluationError(_label_message(
                self.seq_name, frame_name, label, sorted(self.object_first),
                True))
        object_ids = sorted(self.object_first)
        shape = (len(object_ids), len(self.columns))
        j_scores = np.full(shape, np.nan, dtype=np.float64)
        f_scores = np.full(shape, np.nan, dtype=np.float64)
        for col, (_, scores) in enumerate(self.columns):
            for row, obj in enumerate(object_ids):
                if obj in scores:
                    j_scores[row, col], f_scores[row, col] = scores[obj]
        return dict(
            seq_name=self.seq_name,
            object_ids=object_ids,
            J=j_scores,
            F=f_scores,
            frame_names=[name for name, _ in self.columns],
            first_frame_names=[self.object_first_name[obj]
                               for obj in object_ids])


def _label_message(seq_name: str, frame_name: str, label: int,
                   object_ids: List[int], sparse: bool) -> str:
    where = _where(seq_name, frame_name)
    source = ('no ground-truth frame of the sequence has it' if sparse else
              'the first ground-truth frame does not have it')
    text = (f'{where}: predicted label {label} is not an object of the '
            f'sequence ({source}; objects: {object_ids})')
    if object_ids and label > max(object_ids):
        text += (f'; it is above the largest object id ({max(object_ids)})')
    if label == VOID_LABEL and not sparse:
        text += ('. Masks with values 0/255 are DAVIS 2016 style: score '
                 'them as DAVIS 2016 (binary)')
    return text


def _binarize(labels: np.ndarray) -> np.ndarray:
    """DAVIS 2016: every non-zero value is the one object (id 1)."""
    return np.not_equal(labels, 0).view(np.uint8)


def evaluate_sequence(gt_labels: Sequence[Optional[np.ndarray]],
                      pred_labels: Sequence[np.ndarray],
                      seq_name: str,
                      frame_names: Sequence[str],
                      bound_th: float = 0.008,
                      *,
                      sparse: bool = False,
                      binary: bool = False,
                      skip_last_frame: bool = True) -> Dict[str, object]:
    """Per-object, per-frame J and F of one sequence (semi-supervised).

    Frames. The *annotated* frames are those whose ground truth is not None.
    The first annotated frame is the given annotation and is never scored;
    the last annotated frame is not scored either (``skip_last_frame``);
    every other annotated frame is scored; frames without ground truth are
    skipped. With every frame annotated this is the official DAVIS rule
    (frames 0 and T-1 are excluded); with missing annotations it is what the
    official toolkit does too, since it lists the ground-truth files and
    drops the first and last of those. A prediction is only read for a
    scored frame (so ``pred_labels`` may be a lazy sequence that reads files
    on access, and the predictions of unscored frames may be absent or
    unchecked, e.g. frame 0 may be the raw annotation, void included).

    Objects, DAVIS mode (default, the DAVIS 2017 protocol):

    - Objects are the labels present in the first annotated frame, except 0
      and void (255), in increasing order, each scored in every scored
      frame. Later ground-truth labels that are not objects count as
      background, and void is background (a prediction over void is a false
      positive).
    - Non-contiguous ids: an id between 1 and the largest object id that is
      absent from the first annotated frame is *not* an object (the official
      toolkit would score it as a phantom object, always 1.0).
    - Every non-zero predicted label of a scored frame must be an object id:
      a label above the largest id, a label in a gap of non-contiguous ids,
      or 255 raises :class:`SequenceEvaluationError` naming the sequence,
      frame and label (the official toolkit rejects labels above the object
      count too). A prediction that lacks an object counts as empty for it.

    Objects, sparse mode (``sparse=True``, ground truth as in YouTube-VOS,
    where objects may first appear after the first annotated frame):

    - Objects are the union of the labels (except 0 and 255) of all
      annotated frames. Each object is scored in the scored frames *after*
      the annotated frame where it first appears (the YouTube-VOS rule: the
      mask given for an object is never scored); it is NaN in earlier
      columns. An object that first appears in the last annotated frame has
      no score (a row of NaN).
    - Every non-zero predicted label must be an object of the sequence
      (checked when the sequence is done, reported at the first frame that
      predicted it). A frame where no object is scored yet is skipped and
      its prediction not read.

    DAVIS 2016 (``binary=True``): every non-zero value of the ground truth
    and of the prediction is the one object, id 1; there is no void (DAVIS
    2016 masks are 0/255).

    Memory stays small: masks are compared one object at a time inside the
    bounding box of the frame's labels, at most two ground-truth frames and
    one prediction are held at a time, and nothing is proportional to the
    label values (a stray label 255 allocates nothing).

    Args:
        gt_labels (Sequence[np.ndarray | None]): ``T`` ground-truth
            ``(H, W)`` integer label maps, None where a frame has no ground
            truth. Accessed once each, in order.
        pred_labels (Sequence[np.ndarray]): ``T`` predicted ``(H, W)``
            integer label maps (a ``(T, H, W)`` array works too). Only the
            scored frames are accessed, once each, in order.
        seq_name (str): Sequence name, used in error messages.
        frame_names (Sequence[str]): ``T`` frame names.
        bound_th (float): Boundary tolerance as a fraction of the image
            diagonal.
        sparse (bool): Sparse / YouTube-VOS objects (see above).
        binary (bool): DAVIS 2016 single-object masks.
        skip_last_frame (bool): Leave the last annotated frame unscored.
            Defaults to True (the DAVIS rule).

    Returns:
        dict: ``seq_name`` (str), ``object_ids`` (list[int], ``N`` ids),
        ``J`` and ``F`` (``(N, S)`` float64 for the ``S`` scored frames; NaN
        where an object is not scored, only in sparse mode),
        ``frame_names`` (list[str], the ``S`` scored frame names) and
        ``first_frame_names`` (list[str], the annotated frame where each
        object first appears).

    Raises:
        SequenceEvaluationError: for the cases above, for a prediction whose
            shape differs from the ground truth, for non-integer labels, or
            when there is no object.
    """
    num_frames = len(frame_names)
    if len(gt_labels) != num_frames or len(pred_labels) != num_frames:
        raise SequenceEvaluationError(
            f'sequence {seq_name!r}: {num_frames} frame names, '
            f'{len(gt_labels)} ground-truth frames and {len(pred_labels)} '
            'predicted frames; they must match')
    scorer = _SequenceScorer(seq_name, pred_labels, sparse, binary,
                             bound_th)
    pending = None  # an annotated frame that is scored unless it is last
    num_annotated = 0
    for index in range(num_frames):
        gt = gt_labels[index]
        if gt is None:
            continue
        name = str(frame_names[index])
        gt = _as_label_map(gt, 'ground truth', seq_name, name)
        if binary:
            gt = _binarize(gt)
        if pending is not None:
            scorer.score(*pending)
        if num_annotated == 0 or sparse:
            scorer.add_objects(gt, index, name)
            if num_annotated == 0 and not sparse and not scorer.object_first:
                raise SequenceEvaluationError(
                    f'{_where(seq_name, name)}: the first ground-truth frame '
                    'has no object (only background and void); masks with '
                    'values 0/255 (DAVIS 2016) must be scored as DAVIS 2016 '
                    '(binary)')
        if num_annotated > 0:
            pending = (gt, index, name)
        num_annotated += 1
    if num_annotated == 0:
        raise SequenceEvaluationError(
            f'sequence {seq_name!r} has no ground-truth frame')
    if not scorer.object_first:
        raise SequenceEvaluationError(
            f'sequence {seq_name!r}: no ground-truth frame has an object')
    if pending is not None and not skip_last_frame:
        scorer.score(*pending)
    return scorer.result()
