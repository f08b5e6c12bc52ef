"""Demo of the technical reports' training recipe on the synthetic data.

Trains the narrow STM (configs/_base_/models/stm_r18-tiny.py) three ways per
seed and prints the J&F of each on the synthetic val videos:

* pre-training only: ``--pretrain-iters`` iterations on the static images
  (``<data-root>/static``) turned into clips
  (configs/stm/stm_r18-tiny_1xb4-1000iter_synthetic-static-pretrain.py);
* main only: ``--main-iters`` iterations on the synthetic videos
  (configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py);
* full: the same main training started from the pre-trained checkpoint
  (configs/stm/stm_r18-tiny_1xb4-700iter_synthetic-static-pretrain-
  synthetic.py with ``load_from`` set to the pre-training's last checkpoint).

    python tools/analysis/recipe_demo.py [--seeds 0 1 2] [--jobs 2]
        [--pretrain-iters 1000] [--main-iters 700]
        [--train-videos 2] [--val-videos 24] [--static-images 1000]
        [--data-root data/synthetic_recipe] [--work-dir work_dirs/recipe_demo]

The data are generated first (tools/data/make_synthetic.py's generator; an
existing data root is completed, not rewritten). By default the main
trainings see only 2 training videos while pre-training sees 1000 still
images: the situation static pre-training is for, where annotated videos
are scarce and still images are many (README, "Training recipe", has the
figures with 8 videos too).

Each stage runs tools/train.py in a subprocess, with validation at its last
iteration, and logs to ``<work-dir>/seed_<s>/<stage>.log``; the J&F is read
from the stage's ``vis_data/scalars.json``. ``--jobs N`` runs N stages at a
time with ``cpu_count // N`` threads each (on 2 cores, 2 jobs of 1 thread
train about 1.4x faster in total than one job of 2 threads). The run
resumes: a finished stage whose settings are unchanged is reused, an
interrupted one continues from its last checkpoint (``--restart`` trains
everything again). A summary is written to ``<work-dir>/recipe_demo.json``.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

CONFIGS = dict(
    pretrain='configs/stm/stm_r18-tiny_1xb4-1000iter_synthetic-static-'
    'pretrain.py',
    main_only='configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py',
    full='configs/stm/stm_r18-tiny_1xb4-700iter_synthetic-static-pretrain-'
    'synthetic.py')
STAGE_NAMES = dict(pretrain='pre-training only', main_only='main only',
                   full='full', demo='synthetic demo model')
METRIC = 'davis/J&F-Mean'
STAGE_FILE = 'stage.json'   # settings of a stage and, once done, its J&F
_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        print(message, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Pre-training + main training vs main training alone '
        'on the synthetic data (J&F of each, several seeds).')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--pretrain-iters', type=int, default=1000)
    parser.add_argument('--main-iters', type=int, default=700)
    parser.add_argument('--train-videos', type=int, default=2,
                        help='synthetic training videos the main trainings '
                        'see (default: 2)')
    parser.add_argument('--val-videos', type=int, default=24)
    parser.add_argument('--static-images', type=int, default=1000,
                        help='synthetic still images for pre-training')
    parser.add_argument('--data-root', default='data/synthetic_recipe')
    parser.add_argument('--work-dir', default='work_dirs/recipe_demo')
    parser.add_argument('--main-lr', type=float,
                        help='learning rate of both main trainings (default: '
                        'the configs\')')
    parser.add_argument('--jobs', type=int, default=2,
                        help='stages trained at the same time (default: 2)')
    parser.add_argument('--restart', action='store_true',
                        help='train every stage again instead of reusing or '
                        'resuming it')
    args = parser.parse_args(argv)
    for key in ('pretrain_iters', 'main_iters', 'train_videos', 'val_videos',
                'static_images', 'jobs'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    return args


def ensure_data(data_root: str, train_videos: int, val_videos: int,
                static_images: int) -> None:
    """Generate (or complete) the synthetic videos and still images.

    Frame count, size and seed are taken from an existing data root's
    ``synthetic_config.json`` (the generators' defaults otherwise); complete
    videos are not rewritten, and the still images only when their number
    differs.
    """
    from vosbench.datasets.synthetic import (generate_synthetic_davis,
                                             generate_synthetic_static)
    settings = {}
    meta = osp.join(data_root, 'synthetic_config.json')
    if osp.isfile(meta):
        with open(meta) as f:
            info = json.load(f)
        settings = {k: info[k] for k in ('num_frames', 'height', 'width',
                                         'seed') if k in info}
    log(f'synthetic data in {data_root}: {train_videos} train / '
        f'{val_videos} val videos, {static_images} still images')
    generate_synthetic_davis(data_root, num_train=train_videos,
                             num_val=val_videos, progress=False, **settings)
    static = osp.join(data_root, 'static')
    ann_file = osp.join(static, 'annotations.json')
    if osp.isfile(ann_file):
        with open(ann_file) as f:
            if len(json.load(f)['images']) == static_images:
                return
    settings.pop('num_frames', None)
    generate_synthetic_static(static, num_images=static_images,
                              progress=False, **settings)


def read_metric(work_dir: str) -> Optional[float]:
    """The last J&F logged under ``work_dir`` (None if there is none)."""
    value = None
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if METRIC in record:
                    value = float(record[METRIC])
    return value


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in ``work_dir/last_checkpoint``, if it exists."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        ckpt = f.read().strip()
    return ckpt if osp.isfile(ckpt) else None


def config_digest(config: str) -> str:
    """sha256 of the resolved config (its ``_base_`` files included), so
    that a stage whose config file was edited is trained again."""
    text = Config.fromfile(config).pretty_text
    return hashlib.sha256(text.encode()).hexdigest()


def train_stage(name: str, seed: int, config: str, iters: int,
                work_dir: str, options: List[str], threads: int,
                restart: bool, load_from: Optional[str] = None,
                train_args: Sequence[str] = ()) -> float:
    """Train one stage in a subprocess (or reuse / resume it); its J&F.

    The stage's settings (the config's path and resolved content, options,
    iterations) are kept in ``work_dir/stage.json``: a stage whose settings
    match and that has a J&F is reused; one with other settings is
    trained again from scratch; an interrupted one resumes from its last
    checkpoint. ``train_args`` are extra tools/train.py arguments (such
    as ``--amp``). Once done, the file also has the J&F and the seconds of the
    run that finished the stage (a resumed stage's earlier, interrupted runs
    are not counted; :func:`stage_record` reads it).
    """
    tag = f'[seed {seed} {STAGE_NAMES[name]}]'
    settings = dict(config=config, config_sha256=config_digest(config),
                    iters=iters, options=options, load_from=load_from)
    if train_args:
        settings['train_args'] = list(train_args)
    record_path = osp.join(work_dir, STAGE_FILE)
    record = None
    if osp.isfile(record_path):
        with open(record_path) as f:
            record = json.load(f)
    if restart or (record is not None and record['settings'] != settings):
        shutil.rmtree(work_dir, ignore_errors=True)
        record = None
    if record is not None and record.get('jf') is not None:
        log(f'{tag} reusing {work_dir}: J&F {record["jf"]:.4f}')
        return record['jf']
    os.makedirs(work_dir, exist_ok=True)
    with open(record_path, 'w') as f:
        json.dump(dict(settings=settings, jf=None), f, indent=2)

    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), config,
           '--work-dir', work_dir, *train_args, '--cfg-options',
           f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
           f'param_scheduler.0.T_max={iters}',
           f'param_scheduler.0.end={iters}',
           f'randomness.seed={seed}',
           # a checkpoint every 100 iterations so that an interrupted
           # stage resumes; only the newest is kept
           f'default_hooks.checkpoint.interval={min(100, iters)}',
           'default_hooks.checkpoint.max_keep_ckpts=1',
           f'default_hooks.logger.interval={max(1, min(50, iters // 4))}',
           *options]
    resumed = last_checkpoint(work_dir) is not None
    if resumed:
        # mmengine resumes from load_from when both are given, so drop it:
        # the stage's own checkpoint holds the loaded weights already
        cmd += ['load_from=None', '--resume']
    elif load_from is not None:
        cmd += [f'load_from={load_from}']
    log_file = osp.join(osp.dirname(work_dir),
                        f'{osp.basename(work_dir)}.log')
    log(f'{tag} {"resuming" if resumed else "training"} {iters} iterations '
        f'({threads} thread{"s" if threads > 1 else ""}), log: {log_file}')
    start = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    with open(log_file, 'a' if resumed else 'w') as out:
        out.write(' '.join(cmd) + '\n')
        out.flush()
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'{tag} tools/train.py exited with '
                           f'{proc.returncode}; see {log_file}')
    seconds = time.perf_counter() - start
    value = read_metric(work_dir)
    if value is None:
        raise RuntimeError(f'{tag} no {METRIC} found under {work_dir}; see '
                           f'{log_file}')
    with open(record_path, 'w') as f:
        json.dump(dict(settings=settings, jf=value, seconds=seconds,
                       resumed=resumed), f, indent=2)
    log(f'{tag} J&F {value:.4f} ({seconds:.0f} s)')
    return value


def stage_record(work_dir: str) -> dict:
    """``stage.json`` of a trained stage: its settings, J&F and seconds."""
    with open(osp.join(work_dir, STAGE_FILE)) as f:
        return json.load(f)


def run_seed_chains(args, data_root: str, work_dir: str) -> Dict[int, dict]:
    """Train every stage of every seed; ``{seed: {stage: J&F}}``.

    A seed has two independent chains (pre-training -> full, and main
    only); up to ``--jobs`` chains run at once.
    """
    val = [f'val_dataloader.dataset.data_root={data_root}',
           f'test_dataloader.dataset.data_root={data_root}']
    videos = [f'train_dataloader.dataset.data_root={data_root}', *val]
    if args.main_lr is not None:
        videos.append(f'optim_wrapper.optimizer.lr={args.main_lr}')
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    results: Dict[int, dict] = {seed: {} for seed in args.seeds}

    def stage_dir(seed, name):
        return osp.join(work_dir, f'seed_{seed}', name)

    def stage(seed, name, iters, options, load_from=None):
        results[seed][name] = train_stage(
            name, seed, CONFIGS[name], iters, stage_dir(seed, name), options,
            threads, args.restart, load_from)

    def pretrain_then_full(seed):
        stage(seed, 'pretrain', args.pretrain_iters,
              [f'train_dataloader.dataset.data_root={data_root}/static',
               *val])
        ckpt = last_checkpoint(stage_dir(seed, 'pretrain'))
        if ckpt is None:
            raise RuntimeError(f'[seed {seed}] the pre-training left no '
                               'checkpoint')
        stage(seed, 'full', args.main_iters, videos, load_from=ckpt)

    def main_only(seed):
        stage(seed, 'main_only', args.main_iters, videos)

    # the long chains first, so that the pool ends about together
    chains = [(pretrain_then_full, seed) for seed in args.seeds]
    chains += [(main_only, seed) for seed in args.seeds]
    errors = []

    def run_chain(fn, seed):
        try:
            fn(seed)
        except Exception as exc:  # reported now, raised when all are done
            log(f'[seed {seed}] failed: {exc}')
            errors.append(str(exc))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for fn, seed in chains:
            pool.submit(run_chain, fn, seed)
    if errors:
        raise SystemExit('recipe demo failed:\n' + '\n'.join(errors))
    return results


def summarize(results: Dict[int, dict], args) -> dict:
    """Mean of each stage and the seeds where full beats main only."""
    summary = {}
    for name in ('pretrain', 'main_only', 'full'):
        values = [results[seed][name] for seed in args.seeds]
        summary[name] = dict(
            mean=statistics.fmean(values),
            std=statistics.stdev(values) if len(values) > 1 else 0.0)
    gains = [results[s]['full'] - results[s]['main_only'] for s in args.seeds]
    summary['full_minus_main'] = dict(mean=statistics.fmean(gains),
                                      min=min(gains), max=max(gains))
    summary['seeds_full_better'] = sum(g > 0 for g in gains)
    return summary


def print_table(results: Dict[int, dict], summary: dict, args) -> None:
    print()
    print(f'J&F on {args.val_videos} synthetic val videos (tiny STM; '
          f'pre-training {args.pretrain_iters} it on {args.static_images} '
          f'still images, main training {args.main_iters} it on '
          f'{args.train_videos} videos)')
    header = ('seed', 'pre-training only', 'main only', 'full',
              'full - main')
    rows = [(str(seed), *(f'{results[seed][k]:.3f}' for k in
                          ('pretrain', 'main_only', 'full')),
             f'{results[seed]["full"] - results[seed]["main_only"]:+.3f}')
            for seed in args.seeds]
    rows.append(('mean', *(f'{summary[k]["mean"]:.3f}' for k in
                           ('pretrain', 'main_only', 'full')),
                 f'{summary["full_minus_main"]["mean"]:+.3f}'))
    widths = [max(len(r[i]) for r in [header, *rows])
              for i in range(len(header))]
    for row in [header, *rows]:
        print('  '.join(cell.rjust(w) for cell, w in zip(row, widths)))
    print(f'full beats main only in {summary["seeds_full_better"]} of '
          f'{len(args.seeds)} seeds')


def main(argv=None) -> dict:
    args = parse_args(argv)
    data_root = osp.abspath(args.data_root)
    work_dir = osp.abspath(args.work_dir)
    ensure_data(data_root, args.train_videos, args.val_videos,
                args.static_images)
    results = run_seed_chains(args, data_root, work_dir)
    summary = summarize(results, args)
    print_table(results, summary, args)
    out = dict(settings={k: v for k, v in vars(args).items()
                         if k not in ('restart', 'jobs')},
               per_seed={str(s): results[s] for s in args.seeds},
               summary=summary)
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'recipe_demo.json'), 'w') as f:
        json.dump(out, f, indent=2)
    return out


if __name__ == '__main__':
    main()
