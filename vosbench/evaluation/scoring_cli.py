"""Command-line pieces of the tools that score DAVIS-format predictions
(``tools/eval_results.py``, ``tools/analysis/results_report.py``).

Torch-free, like the evaluator, so that those tools start fast.
"""
import argparse
import sys
import time
from typing import Callable


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """``--split``, ``--year``, ``--resolution``, ``--sequences``,
    ``--sparse``, ``--score-last-frame``, ``--workers`` and ``--quiet``."""
    parser.add_argument('--split', default='val',
                        help='split file ImageSets/<year>/<split>.txt '
                        '(default: val)')
    parser.add_argument('--year', default='2017', choices=['2017', '2016'],
                        help='2017: multi-object labels, 255 is void; 2016: '
                        'one object, any non-zero value (0/255 masks)')
    parser.add_argument('--resolution', default='480p',
                        help='Annotations (and JPEGImages) sub-folder '
                        '(default: 480p)')
    parser.add_argument('--sequences', nargs='+', metavar='SEQ',
                        help='these sequences instead of those of the split '
                        'file')
    parser.add_argument('--sparse', action='store_true',
                        help='objects may first appear after the first '
                        'annotated frame (YouTube-VOS rule): each is scored '
                        'from the next annotated frame on')
    parser.add_argument('--score-last-frame', action='store_true',
                        help='also score the last annotated frame (DAVIS '
                        'never does)')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes (the numbers do not depend on it)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress lines on stderr')


def progress_printer(quiet: bool, every: float = 2.0) -> Callable:
    """A ``progress(done, total, seq_name, prefix='')`` callback printing
    ``[done/total] sequences scored`` to stderr at most every ``every``
    seconds (and at the end); silent when ``quiet``."""
    start = time.monotonic()
    state = dict(last=start)

    def progress(done: int, total: int, seq_name: str,
                 prefix: str = '') -> None:
        now = time.monotonic()
        if quiet or (done < total and now - state['last'] < every):
            return
        state['last'] = now
        print(f'{prefix}[{done}/{total}] sequences scored ({seq_name}), '
              f'{now - start:.1f} s', file=sys.stderr, flush=True)

    return progress
