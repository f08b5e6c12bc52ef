"""Speed and peak memory of inference: plain, flip TTA, flip + multi-scale
TTA and a 2-model ensemble, on the same generated video, against the
original STM's inference loop measured in the same run.

    python tools/analysis/benchmark_inference.py [--config CONFIG]
        [--size 480 854] [--frames 20] [--objects 2]
        [--members CONFIG CONFIG]
        [--modes original plain flip flip-ms ensemble]
        [--test-cfg KEY=VALUE ...] [--suite controls|precision]
        [--allocator tuned|stock] [--threads N] [--json FILE]

``--suite controls`` measures the speed and memory controls instead of the
modes, all with plain inference against a 480x854 (``--size``), 2-object
baseline run first: a 1080x1920 (``--large-size``) video at full size and
with ``max_size=480`` (the baseline's shorter side); 2, 6 and
12 objects with and without ``object_chunk_size=2``; ``top_k=30``. (Memory
against video length with and without ``max_memory_frames`` is
tools/analysis/benchmark_long_video.py.) ``--suite precision`` runs the
fp32 default against ``precision=bf16`` at ``--size`` with 2 objects.
``--test-cfg`` sets
``model.test_cfg`` entries for the modes.

Models have random weights (no checkpoint needed; speed and memory do not
depend on the weights). Each mode runs in a fresh subprocess, so its peak
RSS (``ru_maxrss`` of that process: Python, torch, the model and the
inference) is its own. Seconds per frame are the mean over frames 1..N-1
(frame 0 only starts the streams), after a 2-frame warm-up run; the frames
are generated before timing. ``CPU s/frame`` is the process's user +
system time per frame (all threads): less sensitive than wall time to
other jobs on the machine; ``load`` is the 1-minute load average when the
mode finished.

Modes: ``original`` (the baseline: the original STM's inference loop,
:class:`vosbench.testing.original_stm.OrigSTM`, a ResNet-50 STM with the
original's composition, run as the original runs it: the whole video as
one tensor, every object through the decoder's skip branches, the memory
concatenated at every step, glibc's allocator untouched; only meaningful
with the default ResNet-50 ``--config``), ``plain`` (the model),
``flip`` (identity + flip, 2 views), ``flip-ms`` (flip x scales 0.75 and
1.0, 4 views) and ``ensemble`` (``VOSEnsemble`` of ``--members``, by
default the config twice, each with its own random weights). vosbench's
modes run as ``tools/test.py`` runs them, with
:func:`vosbench.utils.keep_freed_memory` (``--allocator stock`` leaves
glibc's allocator alone, to see what that gains). The table also lists
the original code's figures as reported for this machine class (by the
project's reference measurements) when the size and object count match.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

DEFAULT_CONFIG = osp.join(REPO, 'configs', '_base_', 'models', 'stm_r50.py')
MODES = ('original', 'plain', 'flip', 'flip-ms', 'ensemble')
#: The original STM code as reported for this machine class, 2 objects,
#: memory every 5 frames: {(H, W): (seconds per frame, peak RSS in GB)}.
ORIGINAL = {(480, 854): (2.30, 2.9), (384, 384): (0.75, 1.3)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='seconds per frame and peak RSS of plain inference, '
        'TTA and an ensemble')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='model config (default: ResNet-50 STM)')
    parser.add_argument('--size', type=int, nargs=2, default=[480, 854],
                        metavar=('H', 'W'))
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--objects', type=int, default=2)
    parser.add_argument('--members', nargs='+',
                        help='ensemble member configs (default: --config '
                        'twice)')
    parser.add_argument('--modes', nargs='+', default=list(MODES),
                        choices=MODES)
    parser.add_argument('--allocator', choices=('tuned', 'stock'),
                        default='tuned',
                        help='tuned: keep freed memory for reuse, as the '
                        'tools do (vosbench.utils.keep_freed_memory); '
                        'stock: glibc defaults. The original mode always '
                        'runs with the stock allocator.')
    parser.add_argument('--threads', type=int,
                        help='torch threads (default: torch\'s default)')
    parser.add_argument('--test-cfg', nargs='+', default=[],
                        metavar='KEY=VALUE',
                        help='model.test_cfg entries, e.g. max_size=480 '
                        'object_chunk_size=2 top_k=30 precision=bf16')
    parser.add_argument('--suite', choices=sorted(SUITES),
                        help='run a suite of plain-inference settings '
                        'instead of --modes')
    parser.add_argument('--large-size', type=int, nargs=2,
                        default=[1080, 1920], metavar=('H', 'W'),
                        help='the large video of the controls suite')
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument('--child', choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error('--frames must be >= 2')
    if args.objects < 1:
        parser.error('--objects must be >= 1')
    if any('=' not in item for item in args.test_cfg):
        parser.error(f'--test-cfg takes KEY=VALUE items, got '
                     f'{args.test_cfg}')
    args.test_cfg = {k: _test_cfg_value(v) for k, v in
                     (item.split('=', 1) for item in args.test_cfg)}
    return args


def _test_cfg_value(text: str):
    """A ``--test-cfg`` value: an integer where it reads as one (sizes,
    counts), else the text (``precision=bf16``)."""
    try:
        return int(text)
    except ValueError:
        return text


def controls(size, large_size) -> list:
    """The controls suite: ``[(label, (H, W), objects, test_cfg)]``, at the
    baseline ``size`` (480x854 by default) and a ``large_size`` video
    (1080x1920) processed with ``max_size`` = the baseline's shorter
    side."""
    (h, w), (big_h, big_w) = size, large_size
    chunk = dict(object_chunk_size=2)
    return [
        (f'{h}x{w}, 2 objects (baseline)', (h, w), 2, {}),
        (f'{big_h}x{big_w} at full size', (big_h, big_w), 2, {}),
        (f'{big_h}x{big_w}, max_size={min(h, w)}', (big_h, big_w), 2,
         dict(max_size=min(h, w))),
        ('6 objects', (h, w), 6, {}),
        ('12 objects', (h, w), 12, {}),
        ('2 objects, object_chunk_size=2', (h, w), 2, chunk),
        ('6 objects, object_chunk_size=2', (h, w), 6, chunk),
        ('12 objects, object_chunk_size=2', (h, w), 12, chunk),
        ('top_k=30', (h, w), 2, dict(top_k=30)),
    ]


def make_video(num_frames, height, width, num_objects, seed=0):
    """Textured frames with ``num_objects`` moving ellipses; the first
    mask. Returns ``(frames, first_labels)``."""
    import numpy as np
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    background = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3))
    background = np.kron(background, np.ones((8, 8, 1)))[:height, :width]
    colours = rng.integers(0, 256, (num_objects, 3))
    frames, first = [], None
    for t in range(num_frames):
        frame = background.astype(np.uint8).copy()
        labels = np.zeros((height, width), np.uint8)
        for k in range(num_objects):
            cy = height * (0.3 + 0.4 * ((k + 0.5) / num_objects))
            cx = width * (0.2 + 0.6 * ((k * 0.37 + t * 0.02) % 1.0))
            inside = (((yy - cy) / (0.15 * height)) ** 2 +
                      ((xx - cx) / (0.1 * width)) ** 2) <= 1
            frame[inside] = colours[k]
            labels[inside] = k + 1
        frames.append(frame)
        if first is None:
            first = labels
    return frames, first


def build_model(mode, config, members, test_cfg=None):
    """The model of a mode, random weights, in eval mode (``test_cfg``
    entries set on the network's ``model.test_cfg``)."""
    import torch
    from mmengine.config import Config

    import vosbench.models  # noqa: F401  (registers the modules)
    from vosbench.models.tta import VOSTTAModel
    from vosbench.models.vos import VOSEnsemble
    from vosbench.registry import MODELS

    torch.manual_seed(0)
    if mode == 'ensemble':
        return VOSEnsemble([dict(config=m) for m in members]).eval()
    model_cfg = Config.fromfile(config).model
    model_cfg.setdefault('test_cfg', {}).update(test_cfg or {})
    model = MODELS.build(model_cfg)
    if mode == 'flip':
        model = VOSTTAModel(model, views=dict(type='FlipViews'))
    elif mode == 'flip-ms':
        model = VOSTTAModel(model)  # flip x scales (0.75, 1.0)
    return model.eval()


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_original(frames, first, threads) -> dict:
    """Time the original STM's inference loop (the baseline)."""
    import numpy as np
    import torch

    from vosbench.testing.original_stm import OrigSTM

    torch.manual_seed(0)
    model = OrigSTM().eval()
    model_rss = peak_rss_mb()
    num_objects = int(first.max())
    # as the original's data loader: the whole video, [0, 1] floats, and
    # one-hot masks of 11 channels (background + 10 objects)
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    video = video / 255
    masks = torch.zeros(11, *first.shape)
    masks.scatter_(0, torch.from_numpy(first).long()[None], 1)
    model.run_video(video[:2], masks, num_objects)  # warm-up
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    model.run_video(video, masks, num_objects)
    seconds = (time.perf_counter() - start) / (len(frames) - 1)
    cpu_seconds = (_cpu_seconds() - cpu_start) / (len(frames) - 1)
    return dict(mode='original', views=1, members=1,
                seconds_per_frame=seconds,
                cpu_seconds_per_frame=cpu_seconds,
                load_average=os.getloadavg()[0],
                peak_rss_mb=peak_rss_mb(), model_rss_mb=model_rss,
                threads=threads)


def run_child(args) -> dict:
    """Measure one mode in this process; returns its figures."""
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = args.size
    frames, first = make_video(args.frames, height, width, args.objects)
    if args.child == 'original':
        return run_original(frames, first, torch.get_num_threads())
    if args.allocator == 'tuned':
        from vosbench.utils import keep_freed_memory
        keep_freed_memory()
    members = args.members or [args.config, args.config]
    model = build_model(args.child, args.config, members, args.test_cfg)
    model_rss = peak_rss_mb()
    with torch.no_grad():  # warm-up: the first calls set up kernels
        for _ in model.segment_video(iter(frames[:2]), first):
            pass
    times = []
    start = time.perf_counter()
    cpu_start = None
    with torch.no_grad():
        for t, _ in enumerate(model.segment_video(iter(frames), first)):
            now = time.perf_counter()
            if t > 0:
                times.append(now - start)
            else:
                cpu_start = _cpu_seconds()
            start = now
    cpu_seconds = _cpu_seconds() - cpu_start
    views = len(getattr(model, 'views', [None]))
    inner = getattr(model, 'module', model)
    count = len(getattr(inner, 'members', [None]))
    return dict(mode=args.child, views=views, members=count,
                seconds_per_frame=sum(times) / len(times),
                cpu_seconds_per_frame=cpu_seconds / len(times),
                load_average=os.getloadavg()[0],
                peak_rss_mb=peak_rss_mb(), model_rss_mb=model_rss,
                threads=torch.get_num_threads())


def run_mode(args, mode) -> dict:
    """Run one mode in a fresh subprocess; returns its figures."""
    argv = [sys.executable, osp.abspath(__file__), '--child', mode,
            '--config', args.config, '--size', *map(str, args.size),
            '--frames', str(args.frames), '--objects', str(args.objects),
            '--allocator', args.allocator]
    if args.members:
        argv += ['--members', *args.members]
    if args.threads:
        argv += ['--threads', str(args.threads)]
    if args.test_cfg:
        argv += ['--test-cfg', *(f'{k}={v}' for k, v in
                                 args.test_cfg.items())]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f'mode {mode} failed:\n{done.stderr[-3000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def format_table(results, args, load_before, load_after) -> str:
    height, width = args.size
    baseline = next((r for r in results if r['mode'] == 'original'), None)
    plain = next((r for r in results if r['mode'] == 'plain'), None)
    reported = ORIGINAL.get(tuple(args.size)) if args.objects == 2 \
        else None

    def ratio(seconds, reference):
        return '-' if reference is None else \
            f'{seconds / reference["seconds_per_frame"]:.2f}'

    lines = [
        f'{osp.relpath(args.config, REPO)}, {height}x{width}, '
        f'{args.frames} frames, {args.objects} objects, random weights, '
        f'{results[0]["threads"]} torch threads, {args.allocator} allocator',
        f'load average before / after: {load_before:.2f} / {load_after:.2f}'
        f' ({os.cpu_count()} CPUs)', '',
        '| mode | streams (views x members) | s/frame | x original loop | '
        'x plain | CPU s/frame | peak RSS (GB) | RSS after build (GB) | '
        'load |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for r in results:
        seconds = r['seconds_per_frame']
        name = ('original STM inference loop (baseline)'
                if r['mode'] == 'original' else r['mode'])
        lines.append(
            f'| {name} | {r["views"]} x {r["members"]} | {seconds:.2f} | '
            f'{ratio(seconds, baseline)} | {ratio(seconds, plain)} | '
            f'{r["cpu_seconds_per_frame"]:.2f} | '
            f'{r["peak_rss_mb"] / 1024:.2f} | '
            f'{r["model_rss_mb"] / 1024:.2f} | {r["load_average"]:.1f} |')
    if reported:
        seconds, peak_gb = reported
        lines.append(
            f'| original STM code as reported | 1 x 1 | '
            f'{seconds:.2f} | {ratio(seconds, baseline)} | '
            f'{ratio(seconds, plain)} | - | '
            f'{peak_gb:.1f} | - | - |')
    else:
        lines.append('(the reported original-code figures are at 480x854 '
                     'and 384x384 with 2 objects: not comparable here)')
    return '\n'.join(lines)


def precision(size, large_size) -> list:
    """The precision suite: fp32 (the exact default, the baseline) and
    bf16 at ``size``, 2 objects."""
    h, w = size
    return [(f'{h}x{w}, 2 objects, fp32 (baseline)', (h, w), 2, {}),
            ('precision=bf16', (h, w), 2, dict(precision='bf16'))]


#: ``--suite`` name: function of ``(size, large_size)`` giving its runs.
SUITES = dict(controls=controls, precision=precision)


def run_suite(args) -> list:
    """A suite of :data:`SUITES` (see the module docstring); prints its
    table."""
    import copy
    results = []
    for label, size, objects, test_cfg in SUITES[args.suite](
            args.size, args.large_size):
        run = copy.copy(args)
        run.size, run.objects, run.test_cfg = list(size), objects, test_cfg
        result = run_mode(run, 'plain')
        result.update(label=label, size=list(size), objects=objects,
                      test_cfg=test_cfg)
        results.append(result)
        print(f'{label}: {result["seconds_per_frame"]:.3f} s/frame, peak '
              f'RSS {result["peak_rss_mb"] / 1024:.2f} GB', file=sys.stderr,
              flush=True)
    base = results[0]
    lines = [
        f'{osp.relpath(args.config, REPO)}, {args.frames} frames, random '
        f'weights, {base["threads"]} torch threads, plain inference', '',
        '| run | s/frame | x baseline | peak RSS (GB) | x baseline RSS | '
        'load |', '|---|---|---|---|---|---|']
    for r in results:
        lines.append(
            f'| {r["label"]} | {r["seconds_per_frame"]:.2f} | '
            f'{r["seconds_per_frame"] / base["seconds_per_frame"]:.2f} | '
            f'{r["peak_rss_mb"] / 1024:.2f} | '
            f'{r["peak_rss_mb"] / base["peak_rss_mb"]:.2f} | '
            f'{r["load_average"]:.1f} |')
    print('\n'.join(lines))
    return results


def main(argv=None):
    args = parse_args(argv)
    args.config = osp.abspath(args.config)
    if args.members:
        args.members = [osp.abspath(m) for m in args.members]
    if args.child:
        print(json.dumps(run_child(args)))
        return None
    if args.suite:
        results = run_suite(args)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(dict(suite=args.suite, results=results), f,
                          indent=2)
        return results
    load_before = os.getloadavg()[0]
    results = []
    for mode in args.modes:
        results.append(run_mode(args, mode))
        print(f'{mode}: {results[-1]["seconds_per_frame"]:.3f} s/frame, '
              f'peak RSS {results[-1]["peak_rss_mb"] / 1024:.2f} GB',
              file=sys.stderr, flush=True)
    load_after = os.getloadavg()[0]
    print(format_table(results, args, load_before, load_after))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(results=results, load_before=load_before,
                           load_after=load_after, size=args.size,
                           frames=args.frames, objects=args.objects,
                           config=args.config), f, indent=2)
    return results


if __name__ == '__main__':
    main()
