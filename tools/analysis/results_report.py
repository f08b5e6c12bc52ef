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
from vosbench.evaluation.scoring_cli import (  # noqa: E402
    add_scoring_arguments, progress_printer)
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
    add_scoring_arguments(parser)
    parser.add_argument('--worst-frames', type=int, default=3,
                        help='pictures per sequence and method, lowest J '
                        'first (default: 3; 0: none)')
    parser.add_argument('--thumb-width', type=int, default=320,
                        help='width of one side of a picture at most, in '
                        'pixels (default: 320)')
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


def _report_progress(quiet: bool):
    """gather_results_report's ``progress(method, done, total, seq)``."""
    progress = progress_printer(quiet)
    return lambda method, done, total, seq: progress(
        done, total, seq, prefix=f'{method}: ')


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        report = gather_results_report(
            args.gt_root, args.results_dirs, args.names,
            split=args.split, year=args.year, resolution=args.resolution,
            sequences=args.sequences, sparse=args.sparse,
            skip_last_frame=not args.score_last_frame,
            num_worst_frames=args.worst_frames, workers=args.workers,
            progress=_report_progress(args.quiet))
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
