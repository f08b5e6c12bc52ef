"""Score a folder of DAVIS-format predictions (semi-supervised protocol).

    python tools/eval_results.py GT_ROOT RESULTS_DIR [--split val]
        [--year 2017|2016] [--sparse] [--workers N] [--out-dir DIR]
        [--resolution 480p] [--sequences SEQ ...] [--score-last-frame]

GT_ROOT has ``Annotations/<resolution>/<seq>/<frame>.png`` and
``ImageSets/<year>/<split>.txt``; RESULTS_DIR has ``<seq>/<frame>.png``
(palette, grey or DAVIS-palette RGB PNGs). Writes
``global_results-<split>.csv``, ``per-sequence_results-<split>.csv`` (the
official layout) and ``results-<split>.json`` (full precision, per frame)
to ``--out-dir`` (default RESULTS_DIR), replacing those of an earlier run,
and prints the tables. Exits with status 1 and a message naming the
sequence and frame when something is wrong (missing or unreadable
prediction, label that is no object, size mismatch, ...).
"""
import argparse
import os.path as osp
import sys
import time
from concurrent.futures.process import BrokenProcessPool

try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from vosbench.evaluation.davis_results import \
    evaluate_results_folder  # noqa: E402
from vosbench.evaluation.functional.davis_summary import (  # noqa: E402
    format_tables, remove_result_files, write_davis_results)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score DAVIS-format predictions with the DAVIS '
        'semi-supervised protocol (J, F, J&F).')
    parser.add_argument('gt_root', help='dataset root with Annotations/ and '
                        'ImageSets/')
    parser.add_argument('results_dir', help='folder with <seq>/<frame>.png '
                        'predictions')
    parser.add_argument('--split', default='val',
                        help='split file ImageSets/<year>/<split>.txt '
                        '(default: val)')
    parser.add_argument('--year', default='2017', choices=['2017', '2016'],
                        help='2017: multi-object labels, 255 is void; 2016: '
                        'one object, any non-zero value (0/255 masks)')
    parser.add_argument('--sparse', action='store_true',
                        help='objects may first appear after the first '
                        'annotated frame (YouTube-VOS rule): each is scored '
                        'from the next annotated frame on')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes (the numbers do not depend on it)')
    parser.add_argument('--out-dir', help='where to write the CSV and JSON '
                        'files (default: RESULTS_DIR)')
    parser.add_argument('--resolution', default='480p',
                        help='Annotations sub-folder (default: 480p)')
    parser.add_argument('--sequences', nargs='+', metavar='SEQ',
                        help='score these sequences instead of those of the '
                        'split file')
    parser.add_argument('--score-last-frame', action='store_true',
                        help='also score the last annotated frame (DAVIS '
                        'never does)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress lines on stderr')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error('--workers must be >= 1')
    return args


def _progress_printer(quiet: bool):
    start = time.monotonic()
    state = dict(last=start)

    def progress(done: int, total: int, seq_name: str) -> None:
        now = time.monotonic()
        if quiet or (done < total and now - state['last'] < 2.0):
            return
        state['last'] = now
        print(f'[{done}/{total}] sequences scored ({seq_name}), '
              f'{now - start:.1f} s', file=sys.stderr, flush=True)

    return progress


def main(argv=None) -> dict:
    args = parse_args(argv)
    out_dir = args.out_dir or args.results_dir
    try:
        removed = remove_result_files(out_dir, args.split) \
            if osp.isdir(out_dir) else []
        for path in removed:
            print(f'removed the result file of an earlier run: {path}',
                  file=sys.stderr)
        out = evaluate_results_folder(
            args.gt_root,
            args.results_dir,
            args.split,
            year=args.year,
            sparse=args.sparse,
            resolution=args.resolution,
            sequences=args.sequences,
            workers=args.workers,
            skip_last_frame=not args.score_last_frame,
            progress=_progress_printer(args.quiet))
        settings = dict(
            gt_root=osp.abspath(args.gt_root),
            results_dir=osp.abspath(args.results_dir),
            split=args.split,
            year=args.year,
            sparse=args.sparse,
            resolution=args.resolution,
            score_last_frame=args.score_last_frame,
            sequences=out['sequences'])
        paths = write_davis_results(out_dir, args.split, out['results'],
                                    out['object_stats'], out['global_stats'],
                                    settings)
    except (ValueError, OSError, BrokenProcessPool) as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(1)
    print(format_tables(out['global_stats'], out['object_stats']))
    if out['unscored']:
        print(f'warning: {len(out["unscored"])} object(s) scored in no '
              'frame (fewer than 3 annotated frames, or first seen in the '
              'last one), left out of the global numbers: '
              f'{", ".join(out["unscored"])}', file=sys.stderr)
    print(f'\nwritten: {paths["global_csv"]}, {paths["per_sequence_csv"]}, '
          f'{paths["json"]}')
    return out


if __name__ == '__main__':
    main()
