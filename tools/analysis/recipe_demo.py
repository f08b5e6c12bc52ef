"""Demo of the training recipe on the synthetic data (REFERENCE.md section 5).

Trains the narrow STM (configs/_base_/models/stm_r18-tiny.py) three ways and
prints the J&F of each on the synthetic val videos:

* pre-training only: ``--pretrain-iters`` iterations on the static images
  (``<data-root>/static``) turned into clips
  (configs/stm/stm_r18-tiny_1xb4-300iter_synthetic-static-pretrain.py);
* main only: ``--main-iters`` iterations on the synthetic videos
  (configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py);
* full: the same main training started from the pre-trained checkpoint
  (``load_from`` set to the pre-training's last checkpoint; configs/stm/
  stm_r18-tiny_1xb4-700iter_synthetic-static-pretrain-synthetic.py).

    python tools/analysis/recipe_demo.py [--pretrain-iters 300]
        [--main-iters 700] [--work-dir work_dirs/recipe_demo]
        [--data-root data/synthetic]

Each stage runs tools/train.py in a subprocess with validation at its last
iteration; the J&F is read from the stage's ``vis_data/scalars.json``. The
data are generated first when missing (tools/data/make_synthetic.py
defaults). A summary is written to ``<work-dir>/recipe_demo.json``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

CONFIGS = dict(
    pretrain='configs/stm/stm_r18-tiny_1xb4-300iter_synthetic-static-pretrain'
    '.py',
    main='configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py',
    full='configs/stm/stm_r18-tiny_1xb4-700iter_synthetic-static-pretrain-'
    'synthetic.py')
METRIC = 'davis/J&F-Mean'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Pre-training + main training vs main training alone '
        'on the synthetic data (J&F of each).')
    parser.add_argument('--pretrain-iters', type=int, default=300)
    parser.add_argument('--main-iters', type=int, default=700)
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--work-dir', default='work_dirs/recipe_demo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--main-lr', type=float,
                        help='learning rate of both main trainings (default: '
                        'the configs\')')
    parser.add_argument('--skip-existing', action='store_true',
                        help='reuse a stage whose work dir has a J&F')
    return parser.parse_args(argv)


def ensure_data(data_root: str) -> None:
    """Generate the synthetic videos and/or static images when missing."""
    from vosbench.datasets.synthetic import (generate_synthetic_davis,
                                             generate_synthetic_static)
    if not osp.isfile(osp.join(data_root, 'ImageSets', '2017', 'val.txt')):
        print(f'generating the synthetic videos in {data_root}', flush=True)
        generate_synthetic_davis(data_root, progress=False)
    static = osp.join(data_root, 'static')
    if not osp.isfile(osp.join(static, 'annotations.json')):
        height, width = 128, 224
        meta = osp.join(data_root, 'synthetic_config.json')
        if osp.isfile(meta):
            with open(meta) as f:
                info = json.load(f)
            height, width = info.get('height', 128), info.get('width', 224)
        print(f'generating the synthetic static images in {static}',
              flush=True)
        generate_synthetic_static(static, height=height, width=width,
                                  progress=False)


def read_metric(work_dir: str):
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


def train(stage: str, config: str, iters: int, work_dir: str,
          options: list, skip_existing: bool) -> float:
    if skip_existing and read_metric(work_dir) is not None:
        print(f'[{stage}] reusing {work_dir}', flush=True)
        return read_metric(work_dir)
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), config,
           '--work-dir', work_dir, '--cfg-options',
           f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
           f'param_scheduler.0.T_max={iters}',
           f'param_scheduler.0.end={iters}',
           f'default_hooks.checkpoint.interval={iters}',
           f'default_hooks.logger.interval={max(1, min(50, iters // 4))}',
           *options]
    print(f'[{stage}] {" ".join(cmd[1:])}', flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO)
    value = read_metric(work_dir)
    if value is None:
        raise SystemExit(f'[{stage}] no {METRIC} found under {work_dir}')
    print(f'[{stage}] J&F {value:.4f} ({time.perf_counter() - start:.0f}s)',
          flush=True)
    return value


def main(argv=None) -> dict:
    args = parse_args(argv)
    data_root = osp.abspath(args.data_root)
    work_dir = osp.abspath(args.work_dir)
    ensure_data(data_root)
    val = [f'val_dataloader.dataset.data_root={data_root}',
           f'test_dataloader.dataset.data_root={data_root}',
           f'randomness.seed={args.seed}']
    videos = [f'train_dataloader.dataset.data_root={data_root}', *val]
    if args.main_lr is not None:
        videos.append(f'optim_wrapper.optimizer.lr={args.main_lr}')
    results = dict(pretrain_iters=args.pretrain_iters,
                   main_iters=args.main_iters, seed=args.seed)
    pre_dir = osp.join(work_dir, 'pretrain')
    results['pretrain_only'] = train(
        'pretrain', CONFIGS['pretrain'], args.pretrain_iters, pre_dir,
        [f'train_dataloader.dataset.data_root={data_root}/static', *val],
        args.skip_existing)
    results['main_only'] = train(
        'main only', CONFIGS['main'], args.main_iters,
        osp.join(work_dir, 'main_only'), videos, args.skip_existing)
    ckpt = osp.join(pre_dir, f'iter_{args.pretrain_iters}.pth')
    results['full'] = train(
        'full', CONFIGS['full'], args.main_iters, osp.join(work_dir, 'full'),
        [*videos, f'load_from={ckpt}'], args.skip_existing)
    print()
    print(f'J&F on the synthetic val videos (tiny STM, seed {args.seed})')
    rows = [(f'pre-training only ({args.pretrain_iters} it)',
             results['pretrain_only']),
            (f'main training only ({args.main_iters} it)',
             results['main_only']),
            (f'full: pre-training + main ({args.pretrain_iters} + '
             f'{args.main_iters} it)', results['full'])]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f'  {name:<{width}}  {value:.4f}')
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'recipe_demo.json'), 'w') as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
