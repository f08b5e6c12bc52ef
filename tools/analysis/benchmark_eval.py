"""Speed and memory of the DAVIS evaluation on generated data.

    python tools/analysis/benchmark_eval.py [--data-dir DIR] [--sequences 30]
        [--frames 50] [--height 480] [--width 854] [--workers 2] [--seed 0]
        [--repeat 1]

Writes (deterministically, by ``--seed``) a DAVIS 2017 layout with
``--sequences`` sequences of ``--frames`` frames, 1-3 moving ellipses per
sequence (palette PNGs, with a thin void band around some objects), and a
results folder whose masks are the ground truth perturbed (shifted, eroded,
dilated, objects dropped, ids swapped, stray blobs). Then it measures, each
in a fresh process:

- decoding exactly the PNGs the evaluation reads, and nothing else (the
  floor: ``Image.open(path).load()``);
- reading them with the evaluation's reader (``read_label_png``) and with
  ``np.asarray(Image.open(path))``;
- the evaluation in one process (CPU and wall seconds), also with the
  reader's pixel access replaced by ``np.asarray`` (what a reader that
  uses only Pillow's array interface would cost);
- the evaluation with ``--workers`` processes (wall seconds);

and prints a table with peak resident memory. With ``--repeat N`` every
measurement runs N times, in interleaved rounds, and the run with the
least CPU time counts (on a machine shared with other jobs). Without
``--data-dir`` the data go to a temporary folder that is removed
afterwards; with it they are kept (and re-used if complete).
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, REPO)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Speed and memory of tools/eval_results.py on '
        'generated data')
    parser.add_argument('--data-dir', help='where to write (and keep) the '
                        'data; default: a temporary folder')
    parser.add_argument('--sequences', type=int, default=30)
    parser.add_argument('--frames', type=int, default=50)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=854)
    parser.add_argument('--workers', type=int, default=2,
                        help='processes for the parallel measurement')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeat', type=int, default=1,
                        help='run every measurement this many times and '
                        'keep the run with the least CPU time')
    parser.add_argument('--measure',
                        choices=['decode-floor', 'decode', 'decode-pil',
                                 'evaluate', 'evaluate-pil'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--measure-workers', type=int, default=1,
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------
def _draw_objects(shape, objects, t):
    """(H, W) uint8 labels of the ellipses at time t (later ids on top)."""
    import cv2
    import numpy as np
    labels = np.zeros(shape, np.uint8)
    for obj in objects:
        cx = obj['x'] + obj['vx'] * t
        cy = obj['y'] + obj['vy'] * t
        axes = (max(1, int(obj['a'] * (1 + 0.2 * np.sin(t / 7.0)))),
                max(1, int(obj['b'])))
        cv2.ellipse(labels, (int(cx), int(cy)), axes,
                    obj['angle'] + 2.0 * t, 0, 360, obj['id'], -1)
    return labels


def _perturb(gt, rng, num_objects):
    """A plausible prediction: the ground truth shifted, eroded or
    dilated, sometimes with an object dropped, ids swapped or a stray
    blob added."""
    import cv2
    import numpy as np
    from vosbench.utils.labels import VOID_LABEL
    pred = np.where(gt == VOID_LABEL, 0, gt).astype(np.uint8)
    dy, dx = (int(v) for v in rng.integers(-6, 7, size=2))
    pred = np.roll(pred, (dy, dx), axis=(0, 1))
    size = int(rng.integers(1, 6)) * 2 + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    op = rng.random()
    if op < 0.35:
        pred = cv2.erode(pred, kernel)
    elif op < 0.7:
        pred = cv2.dilate(pred, kernel)
    if num_objects > 1 and rng.random() < 0.05:
        a, b = rng.choice(np.arange(1, num_objects + 1), 2, replace=False)
        swapped = pred.copy()
        swapped[pred == a] = b
        swapped[pred == b] = a
        pred = swapped
    if rng.random() < 0.03:
        pred[pred == int(rng.integers(1, num_objects + 1))] = 0
    if rng.random() < 0.2:
        h, w = pred.shape
        cv2.circle(pred, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                   int(rng.integers(2, 15)), int(rng.integers(1,
                                                             num_objects + 1)),
                   -1)
    return pred


def generate(root, sequences=30, frames=50, height=480, width=854, seed=0):
    """Write ground truth and perturbed predictions under ``root``.

    Layout: ``root/gt/{Annotations/480p,ImageSets/2017}`` and
    ``root/results/<seq>/<frame>.png``. Skips the work if ``root/done.json``
    describes the same data.
    """
    import cv2
    import numpy as np
    from vosbench.utils.labels import VOID_LABEL
    from vosbench.utils.mask_io import write_mask
    spec = dict(sequences=sequences, frames=frames, height=height,
                width=width, seed=seed, version=1)
    done = osp.join(root, 'done.json')
    if osp.isfile(done):
        with open(done) as f:
            if json.load(f) == spec:
                return
    rng = np.random.default_rng(seed)
    names = [f'seq{i:03d}' for i in range(sequences)]
    gt_dir = osp.join(root, 'gt', 'Annotations', '480p')
    res_dir = osp.join(root, 'results')
    scale = min(height, width) / 480.0
    for name in names:
        num_objects = int(rng.integers(1, 4))
        objects = []
        for obj_id in range(1, num_objects + 1):
            objects.append(dict(
                id=obj_id,
                x=float(rng.uniform(0.2, 0.8) * width),
                y=float(rng.uniform(0.2, 0.8) * height),
                vx=float(rng.uniform(-3, 3) * scale),
                vy=float(rng.uniform(-2, 2) * scale),
                a=float(rng.uniform(20, 110) * scale),
                b=float(rng.uniform(15, 80) * scale),
                angle=float(rng.uniform(0, 180))))
        void_band = rng.random() < 0.5
        for t in range(frames):
            gt = _draw_objects((height, width), objects, t)
            if t == 0:  # every object is in the first frame
                for obj in objects:
                    if not (gt == obj['id']).any():
                        gt[obj['id'] - 1, 0] = obj['id']
            if void_band:
                fg = (gt > 0).astype(np.uint8)
                band = cv2.dilate(fg, np.ones((5, 5), np.uint8)) - fg
                gt[band > 0] = VOID_LABEL
            write_mask(osp.join(gt_dir, name, f'{t:05d}.png'), gt)
            write_mask(osp.join(res_dir, name, f'{t:05d}.png'),
                       _perturb(gt, rng, num_objects))
    os.makedirs(osp.join(root, 'gt', 'ImageSets', '2017'), exist_ok=True)
    with open(osp.join(root, 'gt', 'ImageSets', '2017', 'val.txt'),
              'w') as f:
        f.write('\n'.join(names) + '\n')
    with open(done, 'w') as f:
        json.dump(spec, f)


# ----------------------------------------------------------------------
# measurements (each runs in a fresh process: see main)
# ----------------------------------------------------------------------
def _decoded_files(gt_root, results_dir):
    """The PNGs the evaluation decodes: every ground-truth file and the
    prediction of every scored frame (all but the first and last)."""
    from vosbench.evaluation.davis_results import (list_annotated_frames,
                                                   read_sequence_list)
    paths = []
    for seq in read_sequence_list(gt_root, 'val'):
        names = list_annotated_frames(gt_root, seq)
        paths += [osp.join(gt_root, 'Annotations', '480p', seq, f'{n}.png')
                  for n in names]
        paths += [osp.join(results_dir, seq, f'{n}.png')
                  for n in names[1:-1]]
    return paths


def _usage():
    import resource
    self_ = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return dict(
        cpu=self_.ru_utime + self_.ru_stime + children.ru_utime +
        children.ru_stime,
        # ru_maxrss is in KiB on Linux
        rss_mb=max(self_.ru_maxrss, children.ru_maxrss) / 1024.0)


def measure(kind, data_dir, workers=1):
    """Run one measurement in this process; returns a dict of figures."""
    gt_root = osp.join(data_dir, 'gt')
    results_dir = osp.join(data_dir, 'results')
    from vosbench.evaluation import davis_results
    from vosbench.evaluation.davis_results import (evaluate_results_folder,
                                                   read_label_png)
    from PIL import Image
    import numpy as np
    if kind == 'evaluate-pil':  # one process: no worker sees the swap
        davis_results._pixels = davis_results._copied_pixels
        workers, kind = 1, 'evaluate'
    if kind == 'evaluate':
        # what the evaluation's import costs is not part of its figure
        before = _usage()
        start = time.perf_counter()
        out = evaluate_results_folder(gt_root, results_dir, workers=workers)
        wall = time.perf_counter() - start
        if workers > 1:
            # collect the worker processes' usage (reaped by the server)
            from multiprocessing import forkserver
            stop = getattr(forkserver._forkserver, '_stop', None)
            if stop is not None:
                stop()
        after = _usage()
        return dict(cpu=after['cpu'] - before['cpu'], wall=wall,
                    rss_mb=after['rss_mb'],
                    objects=len(out['object_stats']),
                    jf=out['global_stats']['J&F-Mean'])
    paths = _decoded_files(gt_root, results_dir)
    before = _usage()
    start = time.perf_counter()
    if kind == 'decode-floor':
        for path in paths:
            with Image.open(path) as img:
                img.load()
    elif kind == 'decode':
        for path in paths:
            read_label_png(path)
    else:  # 'decode-pil': what np.asarray(Image.open(path)) costs
        for path in paths:
            with Image.open(path) as img:
                np.asarray(img)
    wall = time.perf_counter() - start
    after = _usage()
    return dict(cpu=after['cpu'] - before['cpu'], wall=wall,
                rss_mb=after['rss_mb'], files=len(paths))


def _run_measurement(kind, data_dir, workers=1):
    cmd = [sys.executable, osp.abspath(__file__), '--data-dir', data_dir,
           '--measure', kind, '--measure-workers', str(workers)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'measurement {kind} failed:\n{out.stderr}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.data_dir,
                                 args.measure_workers)))
        return None
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix='vosbench_eval_bench_')
        data_dir = tmp
    try:
        start = time.perf_counter()
        generate(data_dir, args.sequences, args.frames, args.height,
                 args.width, args.seed)
        print(f'data: {args.sequences} sequences x {args.frames} frames at '
              f'{args.height}x{args.width} in {data_dir} '
              f'({time.perf_counter() - start:.1f} s)', file=sys.stderr)
        plan = dict(floor=('decode-floor', 1), decode=('decode', 1),
                    decode_pil=('decode-pil', 1), one=('evaluate', 1),
                    one_pil=('evaluate-pil', 1),
                    many=('evaluate', args.workers))
        rows = {}
        for _ in range(max(1, args.repeat)):  # interleaved rounds
            for key, (kind, workers) in plan.items():
                fig = _run_measurement(kind, data_dir, workers)
                if key not in rows or fig['cpu'] < rows[key]['cpu']:
                    rows[key] = fig
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(format_table(rows, args))
    return rows


def format_table(rows, args):
    from terminaltables import AsciiTable
    floor = rows['floor']['cpu']

    def row(name, key):
        fig = rows[key]
        return [name, f'{fig["cpu"]:.2f}', f'{fig["wall"]:.2f}',
                f'{fig["cpu"] / floor:.2f}', f'{fig["rss_mb"]:.0f}']

    one = rows['one']
    table = [
        ['measurement', 'CPU s', 'wall s', 'x decode floor', 'peak RSS MB'],
        row(f'PNG decode only ({rows["floor"]["files"]} PNGs, the floor)',
            'floor'),
        row('decode, our reader (read_label_png)', 'decode'),
        row('decode, PIL + np.asarray', 'decode_pil'),
        row('evaluation, 1 process', 'one'),
        row('evaluation, 1 process, np.asarray reader', 'one_pil'),
        row(f'evaluation, --workers {args.workers}', 'many'),
    ]
    title = (f'{args.sequences} sequences x {args.frames} frames, '
             f'{args.height}x{args.width}, {one["objects"]} objects, '
             f'J&F {one["jf"]:.3f}')
    return AsciiTable(table, title=title).table


if __name__ == '__main__':
    main()
