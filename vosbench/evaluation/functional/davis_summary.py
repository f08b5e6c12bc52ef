"""Aggregating per-object DAVIS scores into the published numbers and files.

Input everywhere is a list of *sequence results* as returned by
:func:`vosbench.evaluation.functional.evaluate_sequence`: dicts with
``seq_name``, ``object_ids`` (``N`` ids), ``J`` and ``F`` (``(N, S)``
float64) and ``frame_names`` (``S`` names). Used by ``DAVISMetric`` and by
``tools/eval_results.py``.
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
    'object_statistics', 'global_statistics', 'global_table_rows',
    'per_object_table_rows', 'format_tables', 'write_global_csv',
    'write_per_sequence_csv', 'write_results_json', 'write_davis_results'
]

#: Columns of ``global_results-<split>.csv``, in the official order.
GLOBAL_MEASURES = ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean',
                   'F-Recall', 'F-Decay')
#: Columns of ``per-sequence_results-<split>.csv``.
PER_SEQUENCE_MEASURES = ('Sequence', 'J-Mean', 'F-Mean')


def sort_sequence_results(results: Sequence[dict]) -> List[dict]:
    """Sort sequence results by name, so gathering order does not matter.

    Raises:
        ValueError: if a sequence appears twice (it would be counted twice).
    """
    ordered = sorted(results, key=lambda res: res['seq_name'])
    for prev, cur in zip(ordered, ordered[1:]):
        if prev['seq_name'] == cur['seq_name']:
            raise ValueError(
                f'sequence {cur["seq_name"]!r} was evaluated twice')
    return ordered


def object_statistics(results: Sequence[dict]) -> List[dict]:
    """Mean / Recall / Decay of J and F for every object, in input order.

    Args:
        results (Sequence[dict]): Sequence results (see module docstring).

    Returns:
        list[dict]: One dict per object with ``name`` (``<seq>_<id>``),
        ``seq_name``, ``object_id`` and the keys ``J-Mean``, ``J-Recall``,
        ``J-Decay``, ``F-Mean``, ``F-Recall``, ``F-Decay`` (floats).
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
            for measure, scores in (('J', j_scores), ('F', f_scores)):
                mean, recall, decay = sequence_statistics(scores[row])
                entry[f'{measure}-Mean'] = mean
                entry[f'{measure}-Recall'] = recall
                entry[f'{measure}-Decay'] = decay
            stats.append(entry)
    return stats


def global_statistics(object_stats: Sequence[dict]) -> Dict[str, float]:
    """Global DAVIS numbers: plain means over all objects.

    Each object weighs the same, whatever its sequence; values are summed in
    object order over a 1-D float64 array (as the official toolkit does, so
    the last digit matches). ``J&F-Mean = (J-Mean + F-Mean) / 2``.

    Returns:
        dict[str, float]: The keys of :data:`GLOBAL_MEASURES`.
    """
    if not object_stats:
        raise ValueError('no object was evaluated')
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


def global_table_rows(global_stats: Dict[str, float]) -> List[List[str]]:
    """Header and value row of the global results (3 decimals)."""
    return [list(GLOBAL_MEASURES),
            [_fmt(global_stats[key]) for key in GLOBAL_MEASURES]]


def per_object_table_rows(object_stats: Sequence[dict]) -> List[List[str]]:
    """Header and one row per object: ``<seq>_<id>``, J-Mean, F-Mean."""
    rows = [list(PER_SEQUENCE_MEASURES)]
    for stat in object_stats:
        rows.append([stat['name'], _fmt(stat['J-Mean']),
                     _fmt(stat['F-Mean'])])
    return rows


def format_tables(global_stats: Dict[str, float],
                  object_stats: Sequence[dict]) -> str:
    """The global and per-object tables as ASCII text."""
    global_table = AsciiTable(global_table_rows(global_stats),
                              title='Global results')
    object_table = AsciiTable(per_object_table_rows(object_stats),
                              title='Per-object results')
    return f'\n{global_table.table}\n{object_table.table}'


def _atomic_write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
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
    _atomic_write(path, _csv_text(global_table_rows(global_stats)))


def write_per_sequence_csv(path: str, object_stats: Sequence[dict]) -> None:
    """Write ``per-sequence_results-<split>.csv`` in the official layout.

    Header ``Sequence,J-Mean,F-Mean``, one row per object named
    ``<seq>_<id>``, values with 3 decimals.
    """
    _atomic_write(path, _csv_text(per_object_table_rows(object_stats)))


def _json_float(value: float) -> Optional[float]:
    value = float(value)
    return None if math.isnan(value) else value


def write_results_json(path: str, results: Sequence[dict],
                       object_stats: Sequence[dict],
                       global_stats: Dict[str, float]) -> None:
    """Write full-precision results: global numbers, per-object statistics
    and per-frame J and F (NaN is written as null).

    Layout: ``{"global": {...}, "sequences": {seq: {"frame_names": [...],
    "objects": {id: {"J-Mean": .., ..., "J": [...], "F": [...]}}}}}``.
    """
    stats_by_name = {stat['name']: stat for stat in object_stats}
    sequences = {}
    for res in results:
        objects = {}
        for row, obj_id in enumerate(res['object_ids']):
            stat = stats_by_name[f'{res["seq_name"]}_{obj_id}']
            entry = {
                key: _json_float(stat[key])
                for key in GLOBAL_MEASURES[1:]
            }
            entry['J'] = [_json_float(v) for v in np.asarray(res['J'])[row]]
            entry['F'] = [_json_float(v) for v in np.asarray(res['F'])[row]]
            objects[str(obj_id)] = entry
        sequences[res['seq_name']] = dict(
            frame_names=list(res['frame_names']), objects=objects)
    payload = {
        'global': {k: _json_float(v) for k, v in global_stats.items()},
        'sequences': sequences
    }
    _atomic_write(path, json.dumps(payload, indent=1))


def write_davis_results(output_dir: str, split: str, results: Sequence[dict],
                        object_stats: Sequence[dict],
                        global_stats: Dict[str, float]) -> Dict[str, str]:
    """Write the two official CSV files and the JSON file to ``output_dir``.

    Returns:
        dict[str, str]: Paths under the keys ``global_csv``,
        ``per_sequence_csv`` and ``json``.
    """
    paths = dict(
        global_csv=osp.join(output_dir, f'global_results-{split}.csv'),
        per_sequence_csv=osp.join(output_dir,
                                  f'per-sequence_results-{split}.csv'),
        json=osp.join(output_dir, f'results-{split}.json'))
    write_global_csv(paths['global_csv'], global_stats)
    write_per_sequence_csv(paths['per_sequence_csv'], object_stats)
    write_results_json(paths['json'], results, object_stats, global_stats)
    return paths
