"""Plot and time training logs (mmengine's ``vis_data/scalars.json``).

    python tools/analysis/analyze_logs.py plot_curve LOG [LOG ...]
        --keys loss [davis/J&F-Mean ...] --out curve.png [--legend NAME ...]
        [--title T] [--xaxis step|iter|epoch] [--figsize W H] [--dpi 100]
    python tools/analysis/analyze_logs.py cal_train_time LOG [LOG ...]
        [--include-outliers]

LOG is a ``scalars.json`` (one JSON object a line, as mmengine's
``LocalVisBackend`` writes it), a run folder ``<work_dir>/<timestamp>/``
that holds ``vis_data/scalars.json``, or a work dir, whose newest
timestamped run folder is taken (the choice is printed).

``plot_curve`` draws one subplot per key (so a loss and a J&F do not share
a scale) and one curve per log in each, x = ``step`` (the iteration; every
line, training and validation, has it). A key that training lines have
(``time``, ``data_time``, which validation lines also have) is read from the
training lines only; repeated points (mmengine writes the validation scalars
twice) are drawn once. The default legend is ``<work dir>/<timestamp>`` of
each run. The figure is drawn with matplotlib's Agg canvas; nothing global
(no pyplot backend) is changed.

``cal_train_time`` reads the ``time`` of the training lines. mmengine logs,
every ``LoggerHook.interval`` iterations, the mean of the last
``log_processor.window_size`` (default 10) iteration times, so each logged
value stands for the iterations since the previous line. Printed per log:
the mean seconds per iteration (weighted by those iterations), the slowest
and fastest logged value with its iteration, their standard deviation, and
the estimated training time (the sum of value x iterations; validation and
checkpoint saving are not in it). The first logged value of a run (which
may hold the start-up: workers, first allocations) is left out of the mean,
slowest, fastest and deviation unless ``--include-outliers`` is given; the
total always counts it.

A missing or unreadable file, a line that is not JSON, or a key that a log
does not have stops the tool with a message naming the file (and, for a
key, the keys the file has).
"""
import argparse
import json
import math
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

PROG = 'tools/analysis/analyze_logs.py'
#: mmengine's run folders: ``<work_dir>/YYYYMMDD_HHMMSS``.
RUN_FOLDER = re.compile(r'^\d{8}_\d{6}$')
SCALARS = osp.join('vis_data', 'scalars.json')


class LogError(Exception):
    """A user-facing error; the message names the file concerned."""


# ----------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------
def find_scalars_file(path: str) -> Tuple[str, Optional[str]]:
    """``(scalars.json path, note)`` for a file, run folder or work dir;
    the note says which run of a work dir was taken (else None)."""
    if osp.isfile(path):
        return path, None
    if not osp.isdir(path):
        raise LogError(f'{path}: no such file or folder')
    direct = osp.join(path, SCALARS)
    if osp.isfile(direct):
        return direct, None
    runs = sorted(name for name in os.listdir(path)
                  if RUN_FOLDER.match(name)
                  and osp.isfile(osp.join(path, name, SCALARS)))
    if not runs:
        raise LogError(
            f'{path}: has no {SCALARS}, nor a run folder '
            f'(YYYYMMDD_HHMMSS/) that holds one')
    chosen = osp.join(path, runs[-1], SCALARS)
    note = None
    if len(runs) > 1:
        note = (f'{path}: {len(runs)} runs, using the newest: {runs[-1]} '
                f'(older: {", ".join(runs[:-1])})')
    return chosen, note


def load_scalars(path: str) -> List[dict]:
    """The log lines of a ``scalars.json``, in order. A truncated last
    line (a run still writing, or killed) is skipped with a warning; any
    other line that is not a JSON object is an error naming the line."""
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LogError(f'{path}: cannot be read ({exc})') from exc
    numbered = [(i, line) for i, line in enumerate(lines, 1) if line.strip()]
    records = []
    for pos, (lineno, line) in enumerate(numbered):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if pos == len(numbered) - 1 and records:
                print(f'warning: {path}: line {lineno} is incomplete, '
                      'skipped', file=sys.stderr)
                continue
            raise LogError(f'{path}: line {lineno} is not JSON ({exc})'
                           ) from exc
        if not isinstance(record, dict):
            raise LogError(f'{path}: line {lineno} is not a JSON object')
        records.append(record)
    if not records:
        raise LogError(f'{path}: holds no log lines')
    return records


def available_keys(records: Sequence[dict]) -> List[str]:
    """Every key of the log lines, sorted."""
    return sorted({key for record in records for key in record})


def _is_train_line(record: dict) -> bool:
    # mmengine's training lines carry the iteration (``iter``) besides the
    # ``step`` that every line has
    return 'iter' in record


def series(records: Sequence[dict], key: str, xaxis: str = 'step',
           path: str = '') -> Tuple[List[float], List[float]]:
    """``(xs, ys)`` of ``key`` against ``xaxis``: from the training lines
    if they have the key, else from every line that has it; repeated
    points dropped."""
    having = [r for r in records if key in r and xaxis in r]
    if not having:
        what = key if any(key in r for r in records) else None
        if what is None:
            raise LogError(
                f'{path}: no key {key!r}; the log has: '
                f'{", ".join(available_keys(records))}')
        raise LogError(f'{path}: no line has both {key!r} and the x axis '
                       f'{xaxis!r}')
    if any(_is_train_line(r) for r in having):
        having = [r for r in having if _is_train_line(r)]
    xs, ys, seen = [], [], set()
    for record in having:
        point = (record[xaxis], record[key])
        if point in seen:
            continue
        seen.add(point)
        xs.append(point[0])
        ys.append(point[1])
    return xs, ys


def default_label(path: str) -> str:
    """``<work dir>/<timestamp>`` for ``<work dir>/<timestamp>/vis_data/
    scalars.json``, else the path."""
    parts = osp.normpath(osp.abspath(path)).split(os.sep)
    if (len(parts) >= 4 and parts[-2] == 'vis_data'
            and RUN_FOLDER.match(parts[-3])):
        return f'{parts[-4]}/{parts[-3]}'
    return path


def _resolve(logs: Sequence[str]) -> List[Tuple[str, List[dict]]]:
    resolved = []
    for log in logs:
        path, note = find_scalars_file(log)
        if note:
            print(note, file=sys.stderr)
        resolved.append((path, load_scalars(path)))
    return resolved


# ----------------------------------------------------------------------
# plot_curve
# ----------------------------------------------------------------------
def plot_curve(logs: Sequence[str], keys: Sequence[str],
               legend: Optional[Sequence[str]] = None,
               title: Optional[str] = None, xaxis: str = 'step',
               figsize: Optional[Sequence[float]] = None):
    """A matplotlib ``Figure`` with one subplot per key (side by side) and
    one curve per log in each; the legend (given names, else
    :func:`default_label`) is on the first subplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not keys:
        raise LogError('no --keys given')
    resolved = _resolve(logs)
    if legend is None:
        legend = [default_label(path) for path, _ in resolved]
    elif len(legend) != len(resolved):
        raise LogError(f'{len(legend)} legend name(s) for {len(resolved)} '
                       'log(s)')
    curves = {key: [series(records, key, xaxis, path)
                    for path, records in resolved] for key in keys}
    if figsize is None:
        figsize = (4 + 4 * len(keys), 3.5)
    fig = Figure(figsize=tuple(figsize))
    FigureCanvasAgg(fig)
    # one x range for all: a value validated once sits at its iteration
    axes = fig.subplots(1, len(keys), sharex=True, squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for label, (xs, ys) in zip(legend, curves[key]):
            ax.plot(xs, ys, label=label, linewidth=1.2,
                    marker='o' if len(xs) < 20 else None, markersize=4)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel('epoch' if xaxis == 'epoch' else 'iteration')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, out: str, dpi: int) -> None:
    """Write ``fig`` to ``out`` (format from the extension, PNG if none)
    through a temporary file renamed into place."""
    from vosbench.engine.atomic_files import (replace_into_place,
                                              temporary_name)
    fmt = osp.splitext(out)[1].lstrip('.').lower() or 'png'
    folder = osp.dirname(osp.abspath(out))
    tmp = temporary_name(osp.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
        fig.savefig(tmp, format=fmt, dpi=dpi)
        replace_into_place(tmp, out)
    except (OSError, ValueError) as exc:
        if osp.exists(tmp):
            os.remove(tmp)
        raise LogError(f'{out}: cannot be written ({exc})') from exc


# ----------------------------------------------------------------------
# cal_train_time
# ----------------------------------------------------------------------
def train_time_stats(records: Sequence[dict], path: str = '',
                     include_outliers: bool = False) -> Dict[str, float]:
    """Seconds per iteration of the training lines of one log (see the
    module docstring): ``mean``, ``slowest``/``slowest_iter``,
    ``fastest``/``fastest_iter``, ``std``, ``total`` (seconds),
    ``last_iter``, ``num_logged`` and ``num_used`` (logged values the
    statistics count)."""
    by_iter = {}
    for record in records:
        if _is_train_line(record) and 'time' in record:
            by_iter[record['iter']] = float(record['time'])
    if not by_iter:
        raise LogError(
            f'{path}: no training line with "iter" and "time"; the log '
            f'has: {", ".join(available_keys(records))}')
    iters = sorted(by_iter)
    times = [by_iter[i] for i in iters]
    # iterations each logged value stands for; a resumed run's first line
    # covers one interval, not everything since iteration 0
    gaps = [b - a for a, b in zip(iters, iters[1:])]
    gaps.insert(0, min([iters[0]] + gaps[:1]) if iters[0] > 0 else 1)
    used = list(range(len(iters)))
    if not include_outliers and len(used) > 1:
        used = used[1:]
    weight = sum(gaps[i] for i in used)
    mean = sum(times[i] * gaps[i] for i in used) / weight
    slow = max(used, key=lambda i: times[i])
    fast = min(used, key=lambda i: times[i])
    values = [times[i] for i in used]
    plain_mean = sum(values) / len(values)
    std = math.sqrt(sum((v - plain_mean)**2 for v in values) / len(values))
    return dict(mean=mean, slowest=times[slow], slowest_iter=iters[slow],
                fastest=times[fast], fastest_iter=iters[fast], std=std,
                total=sum(t * g for t, g in zip(times, gaps)),
                last_iter=iters[-1], num_logged=len(iters),
                num_used=len(used))


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


def format_time_table(rows: Sequence[Tuple[str, Dict[str, float]]]) -> str:
    from terminaltables import AsciiTable
    table = [['log', 'iters', 's/iter', 'slowest (iter)', 'fastest (iter)',
              'std', 'train time']]
    for name, s in rows:
        table.append([
            name, str(s['last_iter']), f'{s["mean"]:.4f}',
            f'{s["slowest"]:.4f} ({s["slowest_iter"]})',
            f'{s["fastest"]:.4f} ({s["fastest_iter"]})', f'{s["std"]:.4f}',
            _hms(s['total'])
        ])
    return AsciiTable(table).table


def cal_train_time(logs: Sequence[str], include_outliers: bool = False
                   ) -> List[Tuple[str, Dict[str, float]]]:
    """``[(label, train_time_stats), ...]`` of the logs."""
    return [(default_label(path),
             train_time_stats(records, path, include_outliers))
            for path, records in _resolve(logs)]


# ----------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot and time mmengine training logs '
        '(vis_data/scalars.json)')
    sub = parser.add_subparsers(dest='command', required=True)
    log_help = ('a scalars.json, a run folder holding vis_data/'
                'scalars.json, or a work dir (its newest run)')

    plot = sub.add_parser('plot_curve', help='curves of logged values')
    plot.add_argument('logs', nargs='+', metavar='LOG', help=log_help)
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='logged values, one subplot each (default: '
                      'loss), e.g. loss davis/J&F-Mean')
    plot.add_argument('--out', required=True,
                      help='image file to write (PNG, or .pdf/.svg)')
    plot.add_argument('--legend', nargs='+', metavar='NAME',
                      help='one name per log (default: <work dir>/'
                      '<timestamp> of each)')
    plot.add_argument('--title', help='title of the figure')
    plot.add_argument('--xaxis', default='step',
                      choices=['step', 'iter', 'epoch'],
                      help='x values (default: step, which every line has)')
    plot.add_argument('--figsize', type=float, nargs=2, metavar=('W', 'H'),
                      help='inches (default: 4 + 4 per key, 3.5)')
    plot.add_argument('--dpi', type=int, default=100)

    timing = sub.add_parser('cal_train_time',
                            help='seconds per training iteration')
    timing.add_argument('logs', nargs='+', metavar='LOG', help=log_help)
    timing.add_argument('--include-outliers', action='store_true',
                        help='count the first logged value of each run '
                        '(start-up) in the mean, slowest, fastest and std')
    return parser.parse_args(argv)


def main(argv=None):
    """Returns the ``Figure`` (plot_curve) or the rows of
    :func:`cal_train_time`."""
    args = parse_args(argv)
    try:
        if args.command == 'plot_curve':
            fig = plot_curve(args.logs, args.keys, legend=args.legend,
                             title=args.title, xaxis=args.xaxis,
                             figsize=args.figsize)
            save_figure(fig, args.out, args.dpi)
            print(f'written: {args.out}')
            return fig
        rows = cal_train_time(args.logs, args.include_outliers)
    except LogError as exc:
        raise SystemExit(f'{PROG}: error: {exc}') from None
    print(format_time_table(rows))
    if not args.include_outliers:
        print('(the first logged value of each run is left out of s/iter, '
              'slowest, fastest and std; --include-outliers counts it)')
    return rows


if __name__ == '__main__':
    main()
