"""What a results report shows (``tools/analysis/results_report.py``).

One or more folders of DAVIS-format predictions (one per *method*, e.g. a
plain run and a ``--tta`` run) are scored against one ground truth with
:func:`~vosbench.evaluation.davis_results.evaluate_results_folder`, the
code of ``tools/eval_results.py`` and ``DAVISMetric``: the global numbers,
the per-object statistics and the per-frame J and F are exactly the
evaluator's. On top of them this module only picks, for every sequence and
method, the worst frames (lowest J, averaged over the sequence's objects)
and the files a picture of them needs. Drawing and HTML are in
:mod:`vosbench.visualization.report_html`.

Like :mod:`~vosbench.evaluation.davis_results`, it imports neither torch
nor mmengine.
"""
import math
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from vosbench.utils.frame_lists import (IMAGE_EXTENSIONS, MASK_EXTENSION,
                                        folder_frames)
from .davis_results import (ResultsLayoutError, evaluate_results_folder,
                            read_sequence_list)

__all__ = [
    'ReportInputError', 'method_names', 'worst_frames', 'frame_image_path',
    'gather_results_report', 'object_jf'
]


class ReportInputError(ResultsLayoutError):
    """The folders or names given for a report do not fit together."""


def method_names(results_dirs: Sequence[str],
                 names: Optional[Sequence[str]] = None) -> List[str]:
    """One name per results folder: ``names`` if given, else each folder's
    base name (with as many parent folders as it takes to tell them apart,
    e.g. ``plain/results`` and ``tta/results``).

    Raises:
        ReportInputError: if ``names`` has another length than
            ``results_dirs`` or two names are equal.
    """
    if not results_dirs:
        raise ReportInputError('no results folder given')
    if names:
        names = [str(n) for n in names]
        if len(names) != len(results_dirs):
            raise ReportInputError(
                f'{len(names)} name(s) for {len(results_dirs)} results '
                f'folder(s): give one name per folder ({names})')
    else:
        parts = [osp.normpath(osp.abspath(d)).split(osp.sep)
                 for d in results_dirs]
        depth = 1
        while True:
            names = ['/'.join(p[-depth:]) for p in parts]
            if len(set(names)) == len(names) or \
                    depth >= max(len(p) for p in parts):
                break
            depth += 1
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ReportInputError(
            f'two methods have the name {repeated[0]!r} (the same results '
            'folder twice, or the same --names)')
    return names


def worst_frames(result: dict, num: int) -> List[dict]:
    """The ``num`` scored frames of a sequence with the lowest J.

    A frame's J is the mean over the objects scored in it (all objects in
    DAVIS mode; in sparse mode those already seen); frames where none is
    scored are left out. Ties go to the earlier frame.

    Args:
        result (dict): One ``evaluate_sequence`` result (``J``, ``F`` as
            ``(N, S)`` arrays, ``frame_names``).
        num (int): How many frames at most.

    Returns:
        list[dict]: Worst first, each with ``index`` (column of ``J``),
        ``frame`` (its name), ``J`` and ``F`` (the frame's means).
    """
    j_scores = np.asarray(result['J'], dtype=np.float64)
    f_scores = np.asarray(result['F'], dtype=np.float64)
    if num <= 0 or j_scores.size == 0:
        return []
    scored = ~np.isnan(j_scores)
    counts = scored.sum(axis=0)
    j_mean = np.where(scored, j_scores, 0).sum(axis=0) / np.maximum(counts, 1)
    f_mean = np.where(scored, f_scores, 0).sum(axis=0) / np.maximum(counts, 1)
    columns = [i for i in np.argsort(j_mean, kind='stable') if counts[i]]
    return [
        dict(index=int(i), frame=str(result['frame_names'][i]),
             J=float(j_mean[i]), F=float(f_mean[i]))
        for i in columns[:num]
    ]


def frame_image_path(gt_root: str, seq_name: str, frame: str,
                     resolution: str = '480p') -> Optional[str]:
    """``JPEGImages/<resolution>/<seq>/<frame>.<jpg|jpeg|png>`` of a frame,
    found by the datasets' and the evaluator's frame-list rule
    (:func:`~vosbench.utils.frame_lists.folder_frames`: any case of the
    extension, two files for one frame an error), or None if the
    ground-truth root has no image for it (the evaluator does not need
    images)."""
    folder = osp.join(gt_root, 'JPEGImages', resolution, seq_name)
    if not osp.isdir(folder):
        return None
    file = folder_frames(folder, IMAGE_EXTENSIONS, seq_name).get(frame)
    return None if file is None else osp.join(folder, file)


def _check_folders(results_dirs: Sequence[str], names: Sequence[str],
                   sequences: Sequence[str]) -> None:
    """Every results folder exists and has a folder per sequence, checked
    for all methods before the first is scored."""
    for name, folder in zip(names, results_dirs):
        if not osp.isdir(folder):
            raise ReportInputError(
                f'method {name!r}: results folder not found: {folder}')
        for seq in sequences:
            if not osp.isdir(osp.join(folder, seq)):
                raise ReportInputError(
                    f'method {name!r}: sequence {seq!r} has no predictions '
                    f'(folder not found: {osp.join(folder, seq)})')


def _same_objects(first: dict, other: dict, name: str) -> None:
    for a, b in zip(first['results'], other['results']):
        if list(a['object_ids']) != list(b['object_ids']) or \
                list(a['frame_names']) != list(b['frame_names']):
            raise ReportInputError(
                f'method {name!r}: sequence {a["seq_name"]!r} has other '
                'objects or scored frames than the first method')


def gather_results_report(
        gt_root: str,
        results_dirs: Sequence[str],
        names: Optional[Sequence[str]] = None,
        *,
        split: str = 'val',
        year: str = '2017',
        resolution: str = '480p',
        sequences: Optional[Sequence[str]] = None,
        sparse: bool = False,
        skip_last_frame: bool = True,
        num_worst_frames: int = 3,
        workers: int = 1,
        progress: Optional[Callable[[str, int, int, str], None]] = None
) -> dict:
    """Score every results folder and collect what the report shows.

    The split (or ``sequences``) and every folder of every method are
    checked before the first method is scored, so that a missing folder is
    found in a second, not after the other methods were scored.

    Args:
        gt_root (str): Ground-truth root (``Annotations/``, ``ImageSets/``,
            and ``JPEGImages/`` for the pictures, optional).
        results_dirs (Sequence[str]): One folder of ``<seq>/<frame>.png``
            predictions per method.
        names (Sequence[str], optional): Method names (default: see
            :func:`method_names`).
        split, year, resolution, sequences, sparse, skip_last_frame,
            workers: As for :func:`~vosbench.evaluation.davis_results.
            evaluate_results_folder` (the numbers do not depend on
            ``workers``).
        num_worst_frames (int): Worst frames per sequence and method.
        progress (callable, optional): ``progress(method, done, total,
            seq_name)`` after each scored sequence.

    Returns:
        dict: ``settings`` (the arguments), ``sequences`` (names in order),
        ``objects`` (per object, in the evaluator's order: ``name``
        (``<seq>_<id>``), ``seq_name``, ``object_id``) and ``methods``: per
        method ``name``, ``results_dir``, ``global_stats``,
        ``object_stats``, ``results`` (per sequence, with the per-frame
        ``J`` and ``F``), ``unscored`` (as returned by
        ``evaluate_results_folder``) and ``worst_frames`` (``{seq:
        [{index, frame, J, F, image, ground_truth, prediction}]}``, worst
        first; ``image`` is None without ``JPEGImages``).

    Raises:
        ReportInputError, ResultsLayoutError, SequenceEvaluationError:
            naming the method, sequence (and frame) at fault; all are
            ``ValueError``.
    """
    results_dirs = [str(d) for d in results_dirs]
    names = method_names(results_dirs, names)
    if not osp.isdir(gt_root):
        raise ResultsLayoutError(f'ground-truth root not found: {gt_root}')
    if sequences:
        seq_names = list(dict.fromkeys(str(s) for s in sequences))
    else:
        seq_names = read_sequence_list(gt_root, split, str(year), resolution)
    _check_folders(results_dirs, names, seq_names)
    methods = []
    for name, folder in zip(names, results_dirs):
        def method_progress(done, total, seq, _name=name):
            if progress is not None:
                progress(_name, done, total, seq)

        try:
            out = evaluate_results_folder(
                gt_root, folder, split, year=str(year), sparse=sparse,
                resolution=resolution, sequences=seq_names, workers=workers,
                skip_last_frame=skip_last_frame, progress=method_progress)
        except ValueError as exc:
            raise type(exc)(f'method {name!r} ({folder}): {exc}') from None
        method = dict(name=name, results_dir=folder, **out)
        if methods:
            _same_objects(methods[0], method, name)
        method['worst_frames'] = {}
        for res in out['results']:
            seq = res['seq_name']
            picks = worst_frames(res, num_worst_frames)
            for pick in picks:
                pick['image'] = frame_image_path(gt_root, seq, pick['frame'],
                                                 resolution)
                pick['ground_truth'] = osp.join(
                    gt_root, 'Annotations', resolution, seq,
                    pick['frame'] + MASK_EXTENSION)
                pick['prediction'] = osp.join(folder, seq,
                                              pick['frame'] + MASK_EXTENSION)
            method['worst_frames'][seq] = picks
        methods.append(method)
    objects = [
        dict(name=s['name'], seq_name=s['seq_name'], object_id=s['object_id'])
        for s in methods[0]['object_stats']
    ]
    return dict(
        settings=dict(gt_root=gt_root, split=split, year=str(year),
                      resolution=resolution, sparse=sparse,
                      skip_last_frame=skip_last_frame,
                      num_worst_frames=num_worst_frames),
        sequences=seq_names,
        objects=objects,
        methods=methods)


def object_jf(stat: Dict[str, float]) -> float:
    """J&F of one object: the mean of its J-Mean and F-Mean (NaN for an
    object scored in no frame), as the global J&F is of the global
    means."""
    j_mean, f_mean = stat['J-Mean'], stat['F-Mean']
    if math.isnan(j_mean) or math.isnan(f_mean):
        return math.nan
    return (j_mean + f_mean) / 2.
