"""Aggregating per-object DAVIS scores into the published numbers and files.

Input everywhere is a list of *sequence results* as returned by
:func:`vosbench.evaluation.functional.evaluate_sequence`: dicts with
``seq_name``, ``object_ids`` (``N`` ids), ``J`` and ``F`` (``(N, S)``
float64, NaN where an object is not scored) and ``frame_names`` (``S``
names), optionally ``first_frame_names`` (``N`` names). Used by
``DAVISMetric`` and by ``tools/eval_results.py``.
"""
import csv
import io
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from terminaltables import AsciiTable

from .davis_measures import sequence_statistics

__all__ = [
    'GLOBAL_MEASURES', 'PER_SEQUENCE_MEASURES', 'sort_sequence_results',
    'object_statistics', 'unscored_objects', 'global_statistics',
    'global_table_rows', 'per_object_table_rows', 'format_tables',
    'write_global_csv', 'write_per_sequence_csv', 'write_results_json',
    'result_file_paths', 'remove_result_files', 'write_davis_results',
    'FAILED_MARK', 'FAILED_COLUMN', 'nan_global_statistics'
]

#: Columns of ``global_results-<split>.csv``, in the official order.
GLOBAL_MEASURES = ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean',
                   'F-Recall', 'F-Decay')
#: Columns of ``per-sequence_results-<split>.csv``.
PER_SEQUENCE_MEASURES = ('Sequence', 'J-Mean', 'F-Mean')


def sort_sequence_results(results: Sequence[dict],
                          what: str = 'sequence') -> List[dict]:
    """Sort sequence results by ``seq_name``, so gathering order does not
    matter.

    Args:
        results (Sequence[dict]): Dicts with ``seq_name``.
        what (str): What a sequence is called in the error message (e.g.
            ``'video'``). Defaults to 'sequence'.

    Raises:
        ValueError: if a sequence appears twice (it would be counted twice).
    """
    ordered = sorted(results, key=lambda res: res['seq_name'])
    for prev, cur in zip(ordered, ordered[1:]):
        if prev['seq_name'] == cur['seq_name']:
            raise ValueError(
                f'{what} {cur["seq_name"]!r} was evaluated twice')
    return ordered


def object_statistics(results: Sequence[dict]) -> List[dict]:
    """Mean / Recall / Decay of J and F for every object, in input order.

    Each object's statistics are taken over the frames where it is scored:
    NaN entries of ``J`` / ``F`` mark frames where it is not (sparse mode,
    before it first appears) and are left out. An object with no scored
    frame gets NaN statistics.

    Args:
        results (Sequence[dict]): Sequence results (see module docstring).

    Returns:
        list[dict]: One dict per object with ``name`` (``<seq>_<id>``),
        ``seq_name``, ``object_id``, ``num_frames`` (scored frames) and the
        keys ``J-Mean``, ``J-Recall``, ``J-Decay``, ``F-Mean``,
        ``F-Recall``, ``F-Decay`` (floats).
    """
    stats = []
    for res in results:
        j_scores = np.asarray(res['J'], dtype=np.float64)
        f_scores = np.asarray(res['F'], dtype=np.float64)
        for row, obj_id in enumerate(res['object_ids']):
            entry = dict(
                name=f'{res["seq_name"]}_{obj_id}',
                seq_name=res['seq_name'],
                object_id=int(obj_id))
            scored = ~np.isnan(j_scores[row])
            entry['num_frames'] = int(np.count_nonzero(scored))
            for measure, scores in (('J', j_scores), ('F', f_scores)):
                values = scores[row]
                if not scored.all():
                    values = values[scored]
                mean, recall, decay = sequence_statistics(values)
                entry[f'{measure}-Mean'] = mean
                entry[f'{measure}-Recall'] = recall
                entry[f'{measure}-Decay'] = decay
            stats.append(entry)
    return stats


def unscored_objects(object_stats: Sequence[dict]) -> List[str]:
    """Names (``<seq>_<id>``) of the objects scored in no frame.

    They are left out of the global numbers (the official toolkit would
    make every global number NaN): a DAVIS sequence with fewer than three
    annotated frames, or, in sparse mode, an object first appearing in the
    last annotated frame.
    """
    return [stat['name'] for stat in object_stats if stat['num_frames'] == 0]


def global_statistics(object_stats: Sequence[dict]) -> Dict[str, float]:
    """Global DAVIS numbers: plain means over all objects.

    Each object weighs the same, whatever its sequence; values are summed in
    object order over a 1-D float64 array (as the official toolkit does, so
    the last digit matches). ``J&F-Mean = (J-Mean + F-Mean) / 2``. Objects
    scored in no frame (see :func:`unscored_objects`) are left out.

    Returns:
        dict[str, float]: The keys of :data:`GLOBAL_MEASURES`.
    """
    object_stats = [s for s in object_stats if s.get('num_frames', 1) > 0]
    if not object_stats:
        raise ValueError('no object was scored in any frame')
    out = {}
    for key in GLOBAL_MEASURES[1:]:
        out[key] = float(
            np.mean(np.array([s[key] for s in object_stats],
                             dtype=np.float64)))
    out['J&F-Mean'] = (out['J-Mean'] + out['F-Mean']) / 2.
    return {key: out[key] for key in GLOBAL_MEASURES}


def _fmt(value: float) -> str:
    """3-decimal text; NaN is empty, as in pandas' ``to_csv``."""
    return '' if math.isnan(value) else '%.3f' % value


#: Value of the per-sequence rows of a sequence that failed (its video
#: could not be segmented or scored).
FAILED_MARK = 'FAILED'
#: Extra column of the global results when sequences failed: how many.
FAILED_COLUMN = 'Failed-Sequences'


def global_table_rows(global_stats: Dict[str, float],
                      num_failed: int = 0) -> List[List[str]]:
    """Header and value row of the global results (3 decimals). When
    ``num_failed`` sequences failed, a last column
    :data:`FAILED_COLUMN` holds their number (the numbers are those of the
    other sequences); otherwise the layout is the official one."""
    rows = [list(GLOBAL_MEASURES),
            [_fmt(global_stats[key]) for key in GLOBAL_MEASURES]]
    if num_failed:
        rows[0].append(FAILED_COLUMN)
        rows[1].append(str(num_failed))
    return rows


def per_object_table_rows(object_stats: Sequence[dict],
                          failed: Optional[Dict[str, str]] = None
                          ) -> List[List[str]]:
    """Header and one row per object: ``<seq>_<id>``, J-Mean, F-Mean; then
    one row ``<seq>, FAILED, FAILED`` per failed sequence (``failed``:
    ``{sequence: reason}``)."""
    rows = [list(PER_SEQUENCE_MEASURES)]
    for stat in object_stats:
        rows.append([stat['name'], _fmt(stat['J-Mean']),
                     _fmt(stat['F-Mean'])])
    for seq_name in sorted(failed or {}):
        rows.append([seq_name, FAILED_MARK, FAILED_MARK])
    return rows


def nan_global_statistics() -> Dict[str, float]:
    """Global numbers of a run where nothing was scored (all NaN)."""
    return {key: math.nan for key in GLOBAL_MEASURES}


def format_tables(global_stats: Dict[str, float],
                  object_stats: Sequence[dict],
                  failed: Optional[Dict[str, str]] = None) -> str:
    """The global and per-object tables as ASCII text (failed sequences,
    ``{sequence: reason}``, marked in both)."""
    failed = failed or {}
    title = 'Global results'
    if failed:
        title += (f' ({len(failed)} sequence(s) FAILED, left out: '
                  f'{", ".join(sorted(failed))})')
    global_table = AsciiTable(global_table_rows(global_stats, len(failed)),
                              title=title)
    object_table = AsciiTable(per_object_table_rows(object_stats, failed),
                              title='Per-object results')
    return f'\n{global_table.table}\n{object_table.table}'


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (folders made) through a temporary file
    and a rename, so that a failure leaves no partial file. Torch-free,
    for the evaluation and visualisation layers (the runner's checkpoints
    use :mod:`vosbench.engine.atomic_files`)."""
    dirname = osp.dirname(path)
    if dirname:
        os.makedirs(dirname, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        with open(tmp, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _csv_text(rows: List[List[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator='\n').writerows(rows)
    return buf.getvalue()


def write_global_csv(path: str, global_stats: Dict[str, float]) -> None:
    """Write ``global_results-<split>.csv`` in the official layout.

    One header line ``J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,
    F-Decay`` and one line of values with 3 decimals.
    """
    write_text_atomically(path, _csv_text(global_table_rows(global_stats)))


def write_per_sequence_csv(path: str, object_stats: Sequence[dict]) -> None:
    """Write ``per-sequence_results-<split>.csv`` in the official layout.

    Header ``Sequence,J-Mean,F-Mean``, one row per object named
    ``<seq>_<id>``, values with 3 decimals (empty for an object scored in
    no frame).
    """
    write_text_atomically(path, _csv_text(per_object_table_rows(object_stats)))


def _json_float(value: float) -> Optional[float]:
    value = float(value)
    return None if math.isnan(value) else value


def _results_json_text(results: Sequence[dict],
                       object_stats: Sequence[dict],
                       global_stats: Dict[str, float],
                       settings: Optional[dict] = None,
                       failed: Optional[Dict[str, str]] = None) -> str:
    stats_by_name = {stat['name']: stat for stat in object_stats}
    sequences = {}
    for res in results:
        objects = {}
        first_names = res.get('first_frame_names')
        for row, obj_id in enumerate(res['object_ids']):
            stat = stats_by_name[f'{res["seq_name"]}_{obj_id}']
            entry = {
                key: _json_float(stat[key])
                for key in GLOBAL_MEASURES[1:]
            }
            entry['num_frames'] = stat['num_frames']
            if first_names is not None:
                entry['first_frame'] = first_names[row]
            entry['J'] = [_json_float(v) for v in np.asarray(res['J'])[row]]
            entry['F'] = [_json_float(v) for v in np.asarray(res['F'])[row]]
            objects[str(obj_id)] = entry
        sequences[res['seq_name']] = dict(
            frame_names=list(res['frame_names']), objects=objects)
    payload = {}
    if settings is not None:
        payload['settings'] = dict(settings)
    payload['global'] = {
        k: _json_float(v)
        for k, v in global_stats.items()
    }
    payload['unscored_objects'] = unscored_objects(object_stats)
    if failed:
        payload['failed_sequences'] = {k: failed[k] for k in sorted(failed)}
    payload['sequences'] = sequences
    return json.dumps(payload, indent=1)


def write_results_json(path: str,
                       results: Sequence[dict],
                       object_stats: Sequence[dict],
                       global_stats: Dict[str, float],
                       settings: Optional[dict] = None) -> None:
    """Write full-precision results: global numbers, per-object statistics
    and per-frame J and F (NaN, i.e. not scored, is written as null).

    Layout: ``{"settings": {...} (if given), "global": {...},
    "unscored_objects": [...], "sequences": {seq: {"frame_names": [...],
    "objects": {id: {"J-Mean": .., ..., "num_frames": n, "first_frame":
    name, "J": [...], "F": [...]}}}}}``.
    """
    write_text_atomically(
        path, _results_json_text(results, object_stats, global_stats,
                                 settings))


def result_file_paths(output_dir: str, split: str) -> Dict[str, str]:
    """Paths of the result files of a split, under the keys ``global_csv``
    (``global_results-<split>.csv``), ``per_sequence_csv``
    (``per-sequence_results-<split>.csv``) and ``json``
    (``results-<split>.json``)."""
    return dict(
        global_csv=osp.join(output_dir, f'global_results-{split}.csv'),
        per_sequence_csv=osp.join(output_dir,
                                  f'per-sequence_results-{split}.csv'),
        json=osp.join(output_dir, f'results-{split}.json'))


def remove_result_files(output_dir: str, split: str) -> List[str]:
    """Delete the result files of a split left by an earlier run, so that a
    run that fails leaves nothing that looks current. Returns the deleted
    paths."""
    removed = []
    for path in result_file_paths(output_dir, split).values():
        if osp.lexists(path):
            os.remove(path)
            removed.append(path)
    return removed


def write_davis_results(output_dir: str,
                        split: str,
                        results: Sequence[dict],
                        object_stats: Sequence[dict],
                        global_stats: Dict[str, float],
                        settings: Optional[dict] = None,
                        failed: Optional[Dict[str, str]] = None
                        ) -> Dict[str, str]:
    """Write the two official CSV files and the JSON file to ``output_dir``.

    All three are written to temporary names first and renamed only when
    all are complete, so a failure never leaves a partial or mixed set.

    Args:
        settings (dict, optional): Recorded as ``"settings"`` in the JSON
            (e.g. the folders and options of the run).
        failed (dict, optional): ``{sequence: reason}`` of the sequences
            that failed: marked ``FAILED`` in the per-sequence CSV, counted
            in a last global column (:data:`FAILED_COLUMN`) and listed with
            their reasons as ``"failed_sequences"`` in the JSON.

    Returns:
        dict[str, str]: Paths under the keys of :func:`result_file_paths`.
    """
    paths = result_file_paths(output_dir, split)
    failed = failed or {}
    texts = dict(
        global_csv=_csv_text(global_table_rows(global_stats, len(failed))),
        per_sequence_csv=_csv_text(per_object_table_rows(object_stats,
                                                         failed)),
        json=_results_json_text(results, object_stats, global_stats,
                                settings, failed))
    os.makedirs(output_dir or '.', exist_ok=True)
    tmp_paths = {}
    try:
        for key, text in texts.items():
            tmp_paths[key] = f'{paths[key]}.tmp{os.getpid()}'
            with open(tmp_paths[key], 'w', encoding='utf-8',
                      newline='') as f:
                f.write(text)
        for key in texts:
            os.replace(tmp_paths[key], paths[key])
    finally:
        for tmp in tmp_paths.values():
            if osp.exists(tmp):
                os.remove(tmp)
    return paths
