"""Memory and time per frame over a long video, with and without a cap on
memory frames.

    python tools/analysis/benchmark_long_video.py [--config CONFIG]
        [--size H W] [--frames N] [--objects K] [--cap 10] [--json F]

Under the STM protocol every 5th frame is kept in memory, so the memory
read (and the keys and values held) grows with the video: time per frame
and resident memory grow linearly. ``test_cfg.max_memory_frames`` caps the
kept frames. Each setting runs in its own process on the same generated
video (moving ellipses on a texture, random weights: the cost does not
depend on the weights); the table gives, at a few frames, the mean time
per frame over the 10 frames before it and the resident memory (RSS)
there, and the growth of RSS per frame from frame 20 to the end (a linear
fit). The capped run is the baseline of the ratios.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

DEFAULT_CONFIG = osp.join(REPO, 'configs', '_base_', 'models',
                          'stm_r18-tiny.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='time per frame and RSS over a long video, with and '
        'without max_memory_frames')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='model config (default: the tiny STM)')
    parser.add_argument('--size', type=int, nargs=2, default=[240, 432],
                        metavar=('H', 'W'))
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--objects', type=int, default=2)
    parser.add_argument('--cap', type=int, default=10,
                        help='max_memory_frames of the capped run')
    parser.add_argument('--threads', type=int,
                        help='torch threads (default: torch\'s default)')
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument('--child', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.frames < 40:
        parser.error('--frames must be >= 40')
    return args


def rss_mb() -> float:
    """Current resident memory of this process."""
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def run_child(args) -> dict:
    """Segment the video with ``max_memory_frames=args.child`` (0: no
    cap); per-frame seconds and RSS."""
    import torch
    from mmengine.config import Config

    import vosbench.models  # noqa: F401  (registers the modules)
    from benchmark_inference import make_video
    from vosbench.registry import MODELS
    from vosbench.utils import keep_freed_memory

    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the tools run
    height, width = args.size
    frames, first = make_video(args.frames, height, width, args.objects)
    cfg = Config.fromfile(args.config)
    cfg.model.setdefault('test_cfg', {})
    cfg.model.test_cfg['max_memory_frames'] = args.child or None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    seconds, rss = [], []
    last = time.perf_counter()
    with torch.no_grad():
        for _ in model.segment_video(iter(frames), first):
            now = time.perf_counter()
            seconds.append(now - last)
            rss.append(rss_mb())
            last = now
    return dict(max_memory_frames=args.child or None, seconds=seconds,
                rss_mb=rss)


def summarise(run: dict, marks) -> dict:
    seconds, rss = run['seconds'], run['rss_mb']
    at = {t: dict(seconds=sum(seconds[t - 10:t]) / 10, rss_mb=rss[t - 1])
          for t in marks}
    xs = list(range(20, len(rss)))
    ys = rss[20:]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / \
        sum((x - mean_x) ** 2 for x in xs)
    return dict(max_memory_frames=run['max_memory_frames'], at=at,
                rss_mb_per_frame=slope,
                total_seconds=sum(seconds))


def main(argv=None):
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_child(args)))
        return
    marks = sorted({20, args.frames // 3, 2 * args.frames // 3,
                    args.frames})
    runs = []
    for cap in (0, args.cap):
        command = [sys.executable, osp.abspath(__file__), '--config',
                   args.config, '--size', *map(str, args.size), '--frames',
                   str(args.frames), '--objects', str(args.objects),
                   '--child', str(cap)]
        if args.threads:
            command += ['--threads', str(args.threads)]
        out = subprocess.run(command, check=True, capture_output=True,
                             text=True).stdout
        runs.append(summarise(json.loads(out.strip().splitlines()[-1]),
                              marks))
    capped = runs[1]
    print(f'{args.frames} frames at {args.size[0]}x{args.size[1]}, '
          f'{args.objects} objects, {osp.basename(args.config)}, load '
          f'average {os.getloadavg()[0]:.1f}')
    header = ' | '.join(f's/frame @{t} | RSS MB @{t}' for t in marks)
    print(f'| max_memory_frames | {header} | RSS MB/frame | time vs cap |')
    print('|---' * (2 * len(marks) + 3) + '|')
    for run in runs:
        cells = ' | '.join(
            f'{run["at"][t]["seconds"]:.3f} | {run["at"][t]["rss_mb"]:.0f}'
            for t in marks)
        print(f'| {run["max_memory_frames"] or "none (STM)"} | {cells} | '
              f'{run["rss_mb_per_frame"]:.2f} | '
              f'{run["total_seconds"] / capped["total_seconds"]:.2f}x |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(size=args.size, frames=args.frames,
                           objects=args.objects, runs=runs), f, indent=1)


if __name__ == '__main__':
    main()
