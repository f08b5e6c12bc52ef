"""Scoring a folder of DAVIS-format predictions (``tools/eval_results.py``).

Layout::

    GT_ROOT/Annotations/<resolution>/<seq>/<frame>.png   ground truth
    GT_ROOT/ImageSets/<year>/<split>.txt                 sequences, one a line
    RESULTS_DIR/<seq>/<frame>.png                        predictions

As the official DAVIS toolkit does, the frames of a sequence are its
ground-truth files (sorted names); the prediction of each scored frame is
read from ``RESULTS_DIR/<seq>/<frame>.png``; the sequences and their order
come from the split file. Where ``GT_ROOT/JPEGImages/<resolution>/<seq>``
exists, the frame-list rules of the datasets apply too
(:func:`vosbench.utils.frame_lists.sequence_frames`): a ground-truth frame
without its image is an error, as it is for ``tools/test.py``. The scoring
rules are those of :func:`vosbench.evaluation.functional.evaluate_sequence`,
the same code ``DAVISMetric`` (and so ``tools/test.py``) uses.

This module imports neither torch nor mmengine, so the command-line tool
starts fast and stays small.
"""
import ctypes
import multiprocessing
import os.path as osp
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np
from PIL import Image

from vosbench.utils.frame_lists import (IMAGE_EXTENSIONS, MASK_EXTENSION,
                                        FrameListError, SplitFileError,
                                        folder_frames, read_split_sequences,
                                        sequence_frames, split_file_candidates)
from vosbench.utils.mask_io import MaskReadError, read_mask
from .functional.davis_measures import (SequenceEvaluationError,
                                        evaluate_sequence)
from .functional.davis_summary import (global_statistics, object_statistics,
                                       unscored_objects)

__all__ = [
    'ResultsLayoutError', 'read_label_png', 'read_sequence_list',
    'list_annotated_frames', 'check_task', 'evaluate_results_folder',
    'MaskFileSequence'
]


class ResultsLayoutError(ValueError):
    """A ground-truth or results folder does not have the expected layout."""


# ----------------------------------------------------------------------
# reading label PNGs
# ----------------------------------------------------------------------
class _ArrowArray(ctypes.Structure):
    """The Arrow C data interface's ``struct ArrowArray``."""


_ArrowArray._fields_ = [
    ('length', ctypes.c_int64), ('null_count', ctypes.c_int64),
    ('offset', ctypes.c_int64), ('n_buffers', ctypes.c_int64),
    ('n_children', ctypes.c_int64),
    ('buffers', ctypes.POINTER(ctypes.c_void_p)),
    ('children', ctypes.c_void_p), ('dictionary', ctypes.c_void_p),
    ('release', ctypes.c_void_p), ('private_data', ctypes.c_void_p)
]

try:
    _capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    _capsule_pointer.restype = ctypes.c_void_p
    _capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
except AttributeError:  # not CPython
    _capsule_pointer = None


def _copied_pixels(img: Image.Image) -> np.ndarray:
    """``(H, W)`` uint8 array of an 8-bit single-channel image, through
    Pillow's array interface (``img.tobytes()``) and a copy, so that the
    array is writable."""
    width, height = img.size
    return np.asarray(img, dtype=np.uint8).reshape(height, width).copy()


def _pixels(img: Image.Image) -> np.ndarray:
    """``(H, W)`` uint8 array of a decoded 8-bit single-channel image.

    ``np.asarray(img)`` goes through ``img.tobytes()``, which costs half as
    much again as decoding the PNG. Pillow's Arrow export (Pillow >= 11.2)
    hands over the pixel block itself: the array is a view of it and keeps
    the export (and so the block) alive. Falls back to
    :func:`_copied_pixels` whenever the export is missing or is not one
    plain uint8 block.

    Why not a supported API only (``np.asarray``, ``img.tobytes()``;
    ``cv2.imdecode`` is no option: it expands palette PNGs to colours and
    drops the indices): ``python tools/analysis/benchmark_eval.py
    --sequences 10 --repeat 5`` (980 PNGs at 480x854, 2 CPU cores shared
    with other jobs), CPU seconds and multiples of the PNG decode alone::

        PNG decode only (Image.open + load)   1.19 s   1.00
        this reader                           1.22 s   1.03
        PIL + np.asarray                      1.80 s   1.51
        evaluation, 1 process                 2.56 s   2.15
        evaluation, np.asarray reader         2.98 s   2.51

    (a second run under heavier load: 1.26 / 1.38 / 1.96 / 2.85 / 3.00 s).
    ``np.asarray`` alone costs half the decode again, so with it the
    evaluation cannot stay within 1.6x of the decode floor (1.58x on the
    reference machine, ``docs/benchmarks.md``); this path keeps the
    evaluation's cost at the decode plus the measures. Returning
    :func:`_copied_pixels` here is the whole switch to the supported path;
    ``test_read_label_png_takes_the_arrow_path`` notices a Pillow on which
    this path falls back.
    """
    width, height = img.size
    if _capsule_pointer is not None and hasattr(img, '__arrow_c_array__'):
        try:
            _, capsule = img.__arrow_c_array__()
            array = _ArrowArray.from_address(
                _capsule_pointer(capsule, b'arrow_array'))
            if (array.length == width * height and array.offset == 0
                    and array.n_buffers == 2 and array.n_children == 0
                    and array.buffers[1]):
                block = (ctypes.c_uint8 * array.length).from_address(
                    array.buffers[1])
                block.owner = capsule  # the block lives as long as this
                return np.frombuffer(block, np.uint8).reshape(height, width)
        except Exception:  # noqa: BLE001 - any surprise: the slow path
            pass
    return _copied_pixels(img)


def read_label_png(path: str, binary: bool = False) -> np.ndarray:
    """Read a label mask quickly, as :func:`vosbench.utils.mask_io.read_mask`
    would (palette index, grey value, or RGB in the DAVIS palette).

    Args:
        path (str): PNG file.
        binary (bool): DAVIS 2016 masks: every non-zero value (for RGB
            images, every non-black colour) becomes 1.

    Returns:
        np.ndarray: ``(H, W)`` uint8 labels.

    Raises:
        MaskReadError: naming the file, when it is missing or unreadable.
    """
    if not osp.isfile(path):
        raise MaskReadError(f'mask file not found: {path}')
    labels = None
    try:
        with Image.open(path) as img:
            if img.mode in ('P', 'L'):
                img.load()
                labels = _pixels(img)
            elif binary and img.mode in ('RGB', 'RGBA'):
                labels = np.asarray(img.convert('RGB')).any(axis=2).view(
                    np.uint8)
    except Exception as exc:  # PIL raises many types for corrupt files
        raise MaskReadError(f'cannot read mask {path}: {exc}') from exc
    if labels is None:  # RGB in the palette, 16-bit, 1-bit: the slow path
        labels = read_mask(path)
    if binary:
        labels = np.not_equal(labels, 0).view(np.uint8)
    return labels


class MaskFileSequence(Sequence):
    """A lazy sequence of label masks: item ``t`` is read on access.

    ``None`` paths give ``None`` (a frame without ground truth). A file
    that cannot be read raises :class:`SequenceEvaluationError` naming the
    sequence, the frame and the file.

    Args:
        paths (Sequence[str | None]): One path per frame.
        seq_name (str): Sequence name for error messages.
        frame_names (Sequence[str]): One name per frame.
        kind (str): What the files are ('ground truth', 'prediction').
        binary (bool): Read DAVIS 2016 masks (see :func:`read_label_png`).
    """

    def __init__(self, paths: Sequence[Optional[str]], seq_name: str,
                 frame_names: Sequence[str], kind: str,
                 binary: bool = False):
        self.paths = list(paths)
        self.seq_name = seq_name
        self.frame_names = list(frame_names)
        self.kind = kind
        self.binary = binary

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        path = self.paths[index]
        if path is None:
            return None
        try:
            return read_label_png(path, self.binary)
        except MaskReadError as exc:
            raise SequenceEvaluationError(
                f'sequence {self.seq_name!r}, frame '
                f'{self.frame_names[index]!r}: {self.kind}: {exc}') from None


# ----------------------------------------------------------------------
# folders
# ----------------------------------------------------------------------
def _unique(names: Sequence[str]) -> List[str]:
    """Names in order, each once (the official toolkit collapses repeated
    lines of a split file, too)."""
    seen = set()
    return [n for n in names if not (n in seen or seen.add(n))]


def read_sequence_list(gt_root: str,
                       split: str = 'val',
                       year: str = '2017',
                       resolution: str = '480p') -> List[str]:
    """Sequences of a split, in the order of the split file.

    Reads ``ImageSets/<year>/<split>.txt`` (one name a line). For
    ``year='2016'``, if that file is missing, the DAVIS 2016 release's
    ``ImageSets/<resolution>/<split>.txt`` is used (lines of frame paths
    such as ``/JPEGImages/480p/bear/00000.jpg /Annotations/...``; the
    sequences are the folders of those paths, in order of appearance).

    Raises:
        ResultsLayoutError: if no split file exists or it lists nothing.
    """
    candidates = split_file_candidates(gt_root, split, year, resolution)
    for path in candidates:
        if not osp.isfile(path):
            continue
        try:
            return read_split_sequences(path)
        except SplitFileError as exc:
            raise ResultsLayoutError(str(exc)) from None
    raise ResultsLayoutError(
        f'split file not found: {" or ".join(candidates)} (check GT_ROOT, '
        '--split and --year, or name the sequences with --sequences)')


def list_annotated_frames(gt_root: str, seq_name: str,
                          resolution: str = '480p',
                          sparse: bool = False) -> List[str]:
    """Sorted names (without ``.png``) of a sequence's ground-truth files,
    by the frame-list rules (:func:`vosbench.utils.frame_lists.
    sequence_frames`): where the sequence has images
    (``JPEGImages/<resolution>/<seq>``), each ground-truth file must have
    its image and (unless ``sparse``) the first image its ground truth.

    Raises:
        ResultsLayoutError: if the folder is missing, has no PNG file, or a
            rule is broken (naming the sequence and the frame).
    """
    folder = osp.join(gt_root, 'Annotations', resolution, seq_name)
    if not osp.isdir(folder):
        raise ResultsLayoutError(
            f'sequence {seq_name!r}: ground-truth folder not found: {folder}')
    image_dir = osp.join(gt_root, 'JPEGImages', resolution, seq_name)
    try:
        masks = folder_frames(folder, (MASK_EXTENSION,), seq_name)
        if not masks:
            raise ResultsLayoutError(
                f'sequence {seq_name!r}: no ground-truth PNG in {folder}')
        images = folder_frames(image_dir, IMAGE_EXTENSIONS, seq_name) \
            if osp.isdir(image_dir) else None
        frames = sequence_frames(
            seq_name, None if images is None else list(images),
            list(masks), require='any' if sparse else 'first',
            image_dir=image_dir, mask_dir=folder)
    except FrameListError as exc:
        raise ResultsLayoutError(str(exc)) from None
    return frames.annotated_names


def check_task(task: dict) -> dict:
    """Validate the layout of one sequence without decoding anything: its
    frames (:func:`list_annotated_frames`: its ground-truth folder and the
    frame-list rules) and its prediction folder. (What the prediction files
    hold, or whether one is missing, is found when the sequence is scored.)

    Returns:
        dict: ``task`` with ``frame_names`` (the annotated frames) added.

    Raises:
        ResultsLayoutError: naming the sequence (and frame).
    """
    seq = task['seq_name']
    names = list_annotated_frames(task['gt_root'], seq, task['resolution'],
                                  task['sparse'])
    pred_dir = osp.join(task['results_dir'], seq)
    if not osp.isdir(pred_dir):
        raise ResultsLayoutError(
            f'sequence {seq!r}: no predictions (folder not found: '
            f'{pred_dir})')
    return dict(task, frame_names=names)


def _evaluate_task(task: dict) -> dict:
    """Evaluate one sequence (runs in worker processes too)."""
    seq = task['seq_name']
    if 'frame_names' not in task:
        task = check_task(task)
    names = task['frame_names']
    pred_dir = osp.join(task['results_dir'], seq)
    gt_dir = osp.join(task['gt_root'], 'Annotations', task['resolution'],
                      seq)
    gt = MaskFileSequence([osp.join(gt_dir, f'{n}.png') for n in names],
                          seq, names, 'ground truth', task['binary'])
    pred = MaskFileSequence([osp.join(pred_dir, f'{n}.png') for n in names],
                            seq, names, 'prediction', task['binary'])
    return evaluate_sequence(
        gt, pred, seq, names,
        sparse=task['sparse'],
        binary=task['binary'],
        skip_last_frame=task['skip_last_frame'])


def _pool_context():
    """Processes started from a clean server (``forkserver``) where the
    platform has it, else spawned. Never plain ``fork``: forking a process
    whose OpenCV thread pool has run can deadlock the children."""
    if 'forkserver' in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context('forkserver')
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context('spawn')


def _init_worker() -> None:
    # one OpenCV thread per worker process: the processes are the
    # parallelism
    cv2.setNumThreads(1)


def evaluate_results_folder(
        gt_root: str,
        results_dir: str,
        split: str = 'val',
        *,
        year: str = '2017',
        sparse: bool = False,
        resolution: str = '480p',
        sequences: Optional[Sequence[str]] = None,
        workers: int = 1,
        skip_last_frame: bool = True,
        progress: Optional[Callable[[int, int, str], None]] = None,
        before_scoring: Optional[Callable[[], None]] = None) -> dict:
    """Score every sequence of a split (DAVIS semi-supervised protocol).

    The layout is validated first, without decoding a file: the split and,
    for every sequence, its ground truth by the frame-list rules and its
    prediction folder (:func:`check_task`); only then is ``before_scoring``
    called and the scoring begun, so a wrong argument (root, split,
    resolution, sequence names, results folder) fails before anything is
    scored or changed.

    Args:
        gt_root (str): Dataset root (``Annotations/``, ``ImageSets/``).
        results_dir (str): Folder with ``<seq>/<frame>.png`` predictions.
        split (str): Split file name. Defaults to 'val'.
        year (str): '2017' (multi-object labels, void 255) or '2016'
            (single object: every non-zero value of ground truth and
            prediction is the object). Also the ``ImageSets`` sub-folder.
        sparse (bool): Sparse / YouTube-VOS objects (see
            :func:`~vosbench.evaluation.functional.evaluate_sequence`).
        resolution (str): ``Annotations`` sub-folder. Defaults to '480p'.
        sequences (Sequence[str], optional): Score these sequences instead
            of those of the split file.
        workers (int): Processes; the results do not depend on it.
        skip_last_frame (bool): Leave the last annotated frame unscored
            (the DAVIS rule). Defaults to True.
        progress (callable, optional): Called as ``progress(done, total,
            seq_name)`` after each sequence, in order.
        before_scoring (callable, optional): Called once every input has
            been validated, before the first sequence is scored
            (``tools/eval_results.py`` deletes an earlier run's result
            files there).

    Returns:
        dict: ``sequences`` (names in order), ``results`` (one
        ``evaluate_sequence`` result per sequence, in that order),
        ``object_stats`` (per object), ``global_stats`` (the global
        numbers) and ``unscored`` (names of objects scored in no frame,
        left out of the global numbers).

    Raises:
        ResultsLayoutError, SequenceEvaluationError: naming the sequence
            (and frame) at fault. Both are ``ValueError``.
    """
    year = str(year)
    if year not in ('2016', '2017'):
        raise ValueError(f'year must be 2016 or 2017, got {year!r}')
    if not osp.isdir(gt_root):
        raise ResultsLayoutError(f'ground-truth root not found: {gt_root}')
    if not osp.isdir(results_dir):
        raise ResultsLayoutError(f'results folder not found: {results_dir}')
    if sequences:
        names = _unique([str(s) for s in sequences])
    else:
        names = read_sequence_list(gt_root, split, year, resolution)
    tasks = [
        check_task(
            dict(seq_name=name, gt_root=gt_root, results_dir=results_dir,
                 resolution=resolution, sparse=sparse, binary=year == '2016',
                 skip_last_frame=skip_last_frame)) for name in names
    ]
    if before_scoring is not None:
        before_scoring()
    results = []

    def collect(iterator):
        for res in iterator:
            results.append(res)
            if progress is not None:
                progress(len(results), len(tasks), res['seq_name'])

    workers = max(1, min(int(workers), len(tasks)))
    if workers == 1:
        collect(_evaluate_task(task) for task in tasks)
    else:
        with ProcessPoolExecutor(
                workers, mp_context=_pool_context(),
                initializer=_init_worker) as pool:
            futures = [pool.submit(_evaluate_task, task) for task in tasks]
            try:
                # in task order, so the numbers are the same for any number
                # of workers; a worker that dies raises BrokenProcessPool
                collect(future.result() for future in futures)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    object_stats = object_statistics(results)
    return dict(
        sequences=names,
        results=results,
        object_stats=object_stats,
        global_stats=global_statistics(object_stats),
        unscored=unscored_objects(object_stats))
