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

The arguments are validated first (the split, each sequence's ground truth
by the frame-list rules the datasets use, its prediction folder) and
``--out-dir`` proven writable; the earlier run's result files are deleted
only then, so a wrong argument leaves them as they were (a problem found
while scoring, such as a missing or unreadable prediction, comes after: the
earlier files, which no longer describe the folder, are gone). A RESULTS_DIR
written by ``tools/test.py --out`` has a manifest (``vosbench_run.json``): a
warning is printed when it says that the run did not complete (killed,
stopped, failed videos) or that the folder may mix runs.
"""
import argparse
import os
import os.path as osp
import sys
from concurrent.futures.process import BrokenProcessPool

try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from vosbench.evaluation.davis_results import \
    evaluate_results_folder  # noqa: E402
from vosbench.evaluation.functional.davis_summary import (  # noqa: E402
    format_tables, remove_result_files, result_file_paths,
    write_davis_results)
from vosbench.evaluation.results_manifest import (  # noqa: E402
    TEMPORARY_FILE, ensure_writable_folder, manifest_warnings)
from vosbench.evaluation.scoring_cli import (  # noqa: E402
    add_scoring_arguments, progress_printer)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score DAVIS-format predictions with the DAVIS '
        'semi-supervised protocol (J, F, J&F).')
    parser.add_argument('gt_root', help='dataset root with Annotations/ and '
                        'ImageSets/')
    parser.add_argument('results_dir', help='folder with <seq>/<frame>.png '
                        'predictions')
    add_scoring_arguments(parser)
    parser.add_argument('--out-dir', help='where to write the CSV and JSON '
                        'files (default: RESULTS_DIR)')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error('--workers must be >= 1')
    return args


def _remove_temporary_result_files(out_dir: str, split: str) -> None:
    """Temporary files of this split's result files that a killed run left
    (``<result file>.tmp<pid>``)."""
    names = {osp.basename(p) for p in result_file_paths(out_dir,
                                                        split).values()}
    for entry in os.listdir(out_dir):
        base, dot, _ = entry.rpartition('.tmp')
        if dot and base in names and TEMPORARY_FILE.search(entry):
            os.remove(osp.join(out_dir, entry))


def main(argv=None) -> dict:
    args = parse_args(argv)
    out_dir = args.out_dir or args.results_dir
    if osp.isdir(args.results_dir):
        for warning in manifest_warnings(args.results_dir):
            print(f'warning: {warning}', file=sys.stderr)

    def before_scoring() -> None:
        # every input is valid: now the earlier results may go
        ensure_writable_folder(out_dir, '--out-dir')
        _remove_temporary_result_files(out_dir, args.split)
        for path in remove_result_files(out_dir, args.split):
            print(f'removed the result file of an earlier run: {path}',
                  file=sys.stderr)

    try:
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
            progress=progress_printer(args.quiet),
            before_scoring=before_scoring)
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
