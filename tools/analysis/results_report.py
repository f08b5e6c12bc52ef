"""One HTML page that shows where a method fails (and how methods compare).

    python tools/analysis/results_report.py GT_ROOT RESULTS_DIR
        [RESULTS_DIR ...] --out report.html [--names NAME ...] [--year 2017|2016] [--split val]
        [--resolution 480p] [--sequences SEQ ...] [--worst-frames 3]
        [--sparse] [--score-last-frame] [--workers N] [--thumb-width 320]

Each RESULTS_DIR (``<seq>/<frame>.png``, as ``tools/test.py --out`` or
another method writes them) is one method, scored against GT_ROOT with the
code of ``tools/eval_results.py`` (the numbers are those of its CSV files).
The page, one self-contained file (no network, scripts or fonts from
elsewhere), has the global table (a row per method), the per-object table
(a J&F, J-Mean and F-Mean column per method; click a header to sort, the
lowest J&F first), per-frame J and F curves of every object (a colour per
method) and, per sequence and method, the ``--worst-frames`` frames with
the lowest J: ground truth and prediction overlaid side by side.

Every folder is checked before the first method is scored; a missing
folder or sequence ends with status 1 and a message naming it.
"""
import argparse
import os.path as osp
import sys
import time
from concurrent.futures.process import BrokenProcessPool

try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(
        0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vosbench.evaluation.functional.davis_summary import \
    GLOBAL_MEASURES  # noqa: E402
from vosbench.evaluation.results_report import \
    gather_results_report  # noqa: E402
from vosbench.visualization.report_html import \
    write_report_html  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write an HTML report of DAVIS-format predictions: '
        'global and per-object numbers, per-frame curves and the worst '
        'frames, one column per results folder.')
    parser.add_argument('gt_root', help='dataset root with Annotations/, '
                        'ImageSets/ (and JPEGImages/ for the pictures)')
    parser.add_argument('results_dirs', nargs='+', metavar='RESULTS_DIR',
                        help='folders with <seq>/<frame>.png predictions, '
                        'one per method')
    parser.add_argument('--out', required=True, help='the HTML file')
    parser.add_argument('--names', nargs='+', metavar='NAME',
                        help='method names, one per RESULTS_DIR (default: '
                        'the folder names)')
    parser.add_argument('--split', default='val',
                        help='split file ImageSets/<year>/<split>.txt '
                        '(default: val)')
    parser.add_argument('--year', default='2017', choices=['2017', '2016'],
                        help='2017: multi-object labels, 255 is void; 2016: '
                        'one object, any non-zero value')
    parser.add_argument('--resolution', default='480p',
                        help='Annotations / JPEGImages sub-folder (default: '
                        '480p)')
    parser.add_argument('--sequences', nargs='+', metavar='SEQ',
                        help='these sequences instead of the split file\'s')
    parser.add_argument('--worst-frames', type=int, default=3,
                        help='pictures per sequence and method, lowest J '
                        'first (default: 3; 0: none)')
    parser.add_argument('--thumb-width', type=int, default=320,
                        help='width of one side of a picture at most, in '
                        'pixels (default: 320)')
    parser.add_argument('--sparse', action='store_true',
                        help='objects may first appear after the first '
                        'annotated frame (as tools/eval_results.py)')
    parser.add_argument('--score-last-frame', action='store_true',
                        help='also score the last annotated frame')
    parser.add_argument('--workers', type=int, default=1,
                        help='scoring processes (the numbers do not depend '
                        'on it)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress lines on stderr')
    args = parser.parse_args(argv)
    if args.worst_frames < 0:
        parser.error('--worst-frames must be >= 0')
    if args.thumb_width < 16:
        parser.error('--thumb-width must be >= 16')
    if args.workers < 1:
        parser.error('--workers must be >= 1')
    if args.names and len(args.names) != len(args.results_dirs):
        parser.error(f'--names has {len(args.names)} name(s) for '
                     f'{len(args.results_dirs)} RESULTS_DIR(s)')
    return args


def _progress_printer(quiet: bool):
    start = time.monotonic()
    state = dict(last=start)

    def progress(method: str, done: int, total: int, seq: str) -> None:
        now = time.monotonic()
        if quiet or (done < total and now - state['last'] < 2.0):
            return
        state['last'] = now
        print(f'{method}: [{done}/{total}] sequences scored ({seq}), '
              f'{now - start:.1f} s', file=sys.stderr, flush=True)

    return progress


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        report = gather_results_report(
            args.gt_root, args.results_dirs, args.names,
            split=args.split, year=args.year, resolution=args.resolution,
            sequences=args.sequences, sparse=args.sparse,
            skip_last_frame=not args.score_last_frame,
            num_worst_frames=args.worst_frames, workers=args.workers,
            progress=_progress_printer(args.quiet))
        write_report_html(report, args.out, max_width=args.thumb_width)
    except (ValueError, OSError, BrokenProcessPool) as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(1)
    for method in report['methods']:
        stats = method['global_stats']
        print(f'{method["name"]}: ' + ', '.join(
            f'{key} {stats[key]:.3f}' for key in GLOBAL_MEASURES[:2]))
    print(f'written: {args.out} ({osp.getsize(args.out) / 1024:.0f} KiB)')
    return report


if __name__ == '__main__':
    main()
