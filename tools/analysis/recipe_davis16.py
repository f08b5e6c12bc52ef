"""The reports' training recipe on real video: DAVIS 2016 on a CPU.

Trains the narrow STM of the demo on the DAVIS 2016 train videos two ways
and prints the J&F of each, beside two baselines scored by the same
evaluator on the same videos:

* main only: ``--main-iters`` iterations on the train videos
  (configs/stm/stm_r18-tiny_1xb4-3000iter_davis16-240p.py);
* full: ``--pretrain-iters`` iterations of static-image pre-training on
  synthetic stills and on frames of the train videos used as still images
  (configs/stm/stm_r18-tiny_1xb4-1500iter_synthetic-davis16-frames-static-
  pretrain.py), then the same main training from its last checkpoint
  (configs/stm/stm_r18-tiny_1xb4-3000iter_static-pretrain-davis16-240p.py);
* baselines: copying the first mask to every frame, and the synthetic demo
  model (``make demo``'s config, trained here unless ``--demo-checkpoint``
  names one) run on the real videos.

    python tools/analysis/recipe_davis16.py [--davis16 data/DAVIS2016]
        [--resolution 240p] [--validate-on auto|holdout|val]
        [--pretrain-iters 1500] [--main-iters 3000] [--seeds 0] [--jobs 2]
        [--synthetic-root data/synthetic] [--demo-checkpoint CKPT]
        [--work-dir work_dirs/recipe_davis16] [--amp [auto|on|off]]
        [--restart]

``--validate-on holdout`` trains on the train split without the six videos
of ``holdout_sequences`` (configs/_base_/datasets/davis16.py) and validates
on those six; ``val`` trains on all of ``train.txt`` and validates on
``val.txt`` (the official protocol). ``auto`` (default) takes ``val`` where
the split file ``ImageSets/<resolution>/val.txt`` exists, else ``holdout``.

The stages run tools/train.py in subprocesses (``--jobs`` at a time, as in
tools/analysis/recipe_demo.py, whose stage runner this uses): a rerun
reuses finished stages, and an interrupted one resumes from its last
checkpoint. Each stage writes the official per-sequence CSV of its
validation under ``<stage>/val_results``. A summary with the training
times is written to ``<work-dir>/recipe_davis16.json``.

``--amp on`` trains the three recipe stages with ``tools/train.py --amp``
(bf16 autocast on a CPU; 1.5x faster per iteration on an AMX Xeon,
docs/benchmarks.md); ``auto`` (default) does so without a GPU on a CPU that
runs bf16 natively, ``off`` trains in fp32. The demo baseline stays the
fp32 model of ``make demo``.
"""
import argparse
import csv
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from recipe_demo import (REPO, last_checkpoint, log,  # noqa: E402
                         stage_record, train_stage)

CONFIGS = dict(
    pretrain='configs/stm/stm_r18-tiny_1xb4-1500iter_synthetic-davis16-'
    'frames-static-pretrain.py',
    main_only='configs/stm/stm_r18-tiny_1xb4-3000iter_davis16-240p.py',
    full='configs/stm/stm_r18-tiny_1xb4-3000iter_static-pretrain-davis16-'
    '240p.py',
    demo='configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py')
DATASET_CONFIG = 'configs/_base_/datasets/davis16.py'
SUMMARY_FILE = 'recipe_davis16.json'
ROWS = (('copy_first_mask', 'copy the first mask'),
        ('demo', 'synthetic demo model'),
        ('pretrain', 'static pre-training only'),
        ('main_only', 'main training only'),
        ('full', 'full (pre-training + main)'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Static pre-training + main training vs main training '
        'alone on DAVIS 2016 (real video), on a CPU.')
    parser.add_argument('--davis16', default='data/DAVIS2016',
                        help='the DAVIS 2016 folder (release layout)')
    parser.add_argument('--resolution', default='240p',
                        help='JPEGImages/Annotations/ImageSets sub-folder')
    parser.add_argument('--validate-on', default='auto',
                        choices=['auto', 'holdout', 'val'])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--pretrain-iters', type=int,
                        help="default: the pre-training config's max_iters")
    parser.add_argument('--main-iters', type=int,
                        help="default: the main training config's max_iters")
    parser.add_argument('--demo-iters', type=int, default=700,
                        help='iterations of the synthetic demo model, when '
                        'it is trained here')
    parser.add_argument('--synthetic-root', default='data/synthetic',
                        help='synthetic data (still images under static/); '
                        'made when missing')
    parser.add_argument('--static-images', type=int, default=1000)
    parser.add_argument('--demo-checkpoint',
                        help='a checkpoint of the synthetic demo model '
                        '(default: train it)')
    parser.add_argument('--work-dir', default='work_dirs/recipe_davis16')
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('--amp', nargs='?', const='on', default='auto',
                        choices=['auto', 'on', 'off'],
                        help='train the recipe stages with tools/train.py '
                        '--amp (bf16 autocast on a CPU); auto (default): on '
                        'a CPU-only machine whose CPU runs bf16 natively')
    parser.add_argument('--restart', action='store_true')
    args = parser.parse_args(argv)
    args.amp = resolve_amp(args.amp)
    if args.pretrain_iters is None:
        args.pretrain_iters = config_max_iters('pretrain')
    if args.main_iters is None:
        args.main_iters = config_max_iters('main_only')
    for key in ('pretrain_iters', 'main_iters', 'demo_iters', 'jobs',
                'static_images'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    return args


def config_max_iters(name: str) -> int:
    """``train_cfg.max_iters`` of the recipe stage ``name``'s config."""
    from mmengine.config import Config
    return int(Config.fromfile(osp.join(REPO, CONFIGS[name]))
               .train_cfg.max_iters)


def resolve_amp(choice: str) -> bool:
    """``--amp auto``: bf16 autocast training where it is faster, that is
    without a GPU on a CPU with native bf16 (AMX or AVX-512 BF16: 1.5x
    per iteration, docs/benchmarks.md); on an AVX2-only CPU bf16 training
    is 11x slower than fp32."""
    if choice != 'auto':
        return choice == 'on'
    import torch
    from vosbench.inference.precision import native_cpu_bf16
    return not torch.cuda.is_available() and native_cpu_bf16()


def holdout_sequences() -> List[str]:
    """The held-out train videos named in the DAVIS 2016 dataset config."""
    from mmengine.config import Config
    return list(Config.fromfile(osp.join(REPO, DATASET_CONFIG))
                .holdout_sequences)


def validation_protocol(args) -> dict:
    """What to train on and validate on: ``dict(mode, split, sequences,
    exclude)``."""
    mode = args.validate_on
    if mode == 'auto':
        val_file = osp.join(args.davis16, 'ImageSets', args.resolution,
                            'val.txt')
        mode = 'val' if osp.isfile(val_file) else 'holdout'
    if mode == 'val':
        return dict(mode='val', split='val', sequences=None, exclude=[])
    held = holdout_sequences()
    return dict(mode='holdout', split='train', sequences=held, exclude=held)


def list_option(values: List[str]) -> str:
    return '[' + ','.join(f"'{v}'" for v in values) + ']'


def data_options(args, protocol: dict) -> Dict[str, List[str]]:
    """``--cfg-options`` of each stage for the data roots and protocol."""
    root = osp.abspath(args.davis16)
    val = [f'{loader}.dataset.{key}' for loader in ('val_dataloader',
                                                    'test_dataloader')
           for key in (f'data_root={root}',
                       f'resolution={args.resolution}',
                       f'split={protocol["split"]}')]
    if protocol['sequences'] is not None:
        val += [f'{loader}.dataset.sequences='
                f'{list_option(protocol["sequences"])}'
                for loader in ('val_dataloader', 'test_dataloader')]
    videos = [f'train_dataloader.dataset.data_root={root}',
              f'train_dataloader.dataset.resolution={args.resolution}']
    frames = [f'train_dataloader.dataset.datasets.0.data_root='
              f'{osp.abspath(args.synthetic_root)}/static',
              f'train_dataloader.dataset.datasets.1.data_root={root}',
              f'train_dataloader.dataset.datasets.1.resolution='
              f'{args.resolution}']
    if protocol['exclude']:
        videos.append('train_dataloader.dataset.exclude_sequences='
                      f'{list_option(protocol["exclude"])}')
        frames.append('train_dataloader.dataset.datasets.1.'
                      f'exclude_sequences={list_option(protocol["exclude"])}')
    return dict(val=val, videos=videos + val, frames=frames + val)


def ensure_synthetic(args, with_videos: bool) -> None:
    """Synthetic still images (and, for the demo model, videos)."""
    from vosbench.datasets.synthetic import (generate_synthetic_davis,
                                             generate_synthetic_static)
    root = args.synthetic_root
    if with_videos:
        generate_synthetic_davis(root, progress=False)
    ann_file = osp.join(root, 'static', 'annotations.json')
    if osp.isfile(ann_file):
        with open(ann_file) as f:
            if len(json.load(f)['images']) == args.static_images:
                return
    log(f'making {args.static_images} synthetic still images in {root}')
    generate_synthetic_static(osp.join(root, 'static'),
                              num_images=args.static_images, progress=False)


def copy_first_mask(args, protocol: dict, out_dir: str) -> dict:
    """Score the baseline that copies the first mask to every frame, on the
    frames the dataset gives a test run. ``{'jf': ..., 'per_sequence':
    {seq: J&F}}``."""
    from vosbench.datasets import DAVIS2016Dataset
    from vosbench.evaluation.davis_results import evaluate_results_folder
    from vosbench.utils.mask_io import read_binary_mask, write_mask
    dataset = DAVIS2016Dataset(args.davis16, split=protocol['split'],
                               resolution=args.resolution,
                               sequences=protocol['sequences'],
                               test_mode=True)
    predictions = osp.join(out_dir, 'predictions')
    names = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        first = read_binary_mask(info['mask_paths'][0])
        for name in info['frame_names']:
            write_mask(osp.join(predictions, info['seq_name'],
                                name + '.png'), first)
        names.append(info['seq_name'])
    out = evaluate_results_folder(args.davis16, predictions,
                                  protocol['split'], year='2016',
                                  resolution=args.resolution,
                                  sequences=names)
    per_sequence = {stats['seq_name']: (stats['J-Mean'] +
                                        stats['F-Mean']) / 2
                    for stats in out['object_stats']}  # one object each
    return dict(jf=float(out['global_stats']['J&F-Mean']),
                per_sequence=per_sequence)


def test_demo_model(args, checkpoint: str, options: List[str],
                    out_dir: str) -> dict:
    """Run the demo model on the validation videos with tools/test.py and
    the main-only config (same architecture, same test settings)."""
    cmd = [sys.executable, osp.join(REPO, 'tools/test.py'),
           CONFIGS['main_only'], checkpoint, '--work-dir', out_dir,
           '--out', osp.join(out_dir, 'predictions'), '--overwrite',
           '--cfg-options', *options]
    log_file = osp.join(out_dir, 'test.log')
    os.makedirs(out_dir, exist_ok=True)
    with open(log_file, 'w') as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'tools/test.py on the demo model exited with '
                           f'{proc.returncode}; see {log_file}')
    # tools/test.py --out writes the result CSVs beside the predictions
    predictions = osp.join(out_dir, 'predictions')
    return dict(jf=read_global_jf(predictions),
                per_sequence=read_per_sequence(predictions))


def _results_csv(folder: str, kind: str) -> str:
    names = [f for f in os.listdir(folder)
             if f.startswith(kind) and f.endswith('.csv')]
    if len(names) != 1:
        raise RuntimeError(f'expected one {kind}*.csv in {folder}, found '
                           f'{names}')
    return osp.join(folder, names[0])


def read_global_jf(folder: str) -> float:
    with open(_results_csv(folder, 'global_results')) as f:
        return float(next(csv.DictReader(f))['J&F-Mean'])


def read_per_sequence(folder: str) -> Dict[str, float]:
    """``{sequence: J&F}`` from the official per-sequence CSV."""
    with open(_results_csv(folder, 'per-sequence_results')) as f:
        return {row['Sequence'].rsplit('_', 1)[0]:
                (float(row['J-Mean']) + float(row['F-Mean'])) / 2
                for row in csv.DictReader(f)}


def run(args) -> dict:
    protocol = validation_protocol(args)
    options = data_options(args, protocol)
    work_dir = osp.abspath(args.work_dir)
    ensure_synthetic(args, with_videos=args.demo_checkpoint is None)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    log(f'validation on {protocol["mode"]}: '
        f'{protocol["sequences"] or protocol["split"] + ".txt"}')
    results: Dict[str, dict] = {}

    def stage(seed, name, iters, stage_options, load_from=None):
        stage_dir = osp.join(work_dir, f'seed_{seed}', name)
        evaluator = [f'val_evaluator.output_dir={stage_dir}/val_results']
        train_stage(name, seed, osp.join(REPO, CONFIGS[name]), iters,
                    stage_dir, stage_options + evaluator, threads,
                    args.restart, load_from,
                    train_args=['--amp'] if args.amp and name != 'demo'
                    else [])
        record = stage_record(stage_dir)
        entry = dict(jf=record['jf'], seconds=record.get('seconds'),
                     iters=iters)
        if name != 'demo':
            entry['per_sequence'] = read_per_sequence(
                osp.join(stage_dir, 'val_results'))
        results[f'{name}/seed_{seed}'] = entry
        return stage_dir

    def pretrain_then_full(seed):
        stage_dir = stage(seed, 'pretrain', args.pretrain_iters,
                          options['frames'])
        ckpt = last_checkpoint(stage_dir)
        if ckpt is None:
            raise RuntimeError('the pre-training left no checkpoint')
        stage(seed, 'full', args.main_iters, options['videos'],
              load_from=ckpt)

    def main_only(seed):
        stage(seed, 'main_only', args.main_iters, options['videos'])

    def demo():
        synthetic = osp.abspath(args.synthetic_root)
        stage_dir = stage(0, 'demo', args.demo_iters, [
            f'{loader}.dataset.data_root={synthetic}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')])
        return last_checkpoint(stage_dir)

    chains = [(pretrain_then_full, seed) for seed in args.seeds]
    chains += [(main_only, seed) for seed in args.seeds]
    errors = []
    demo_ckpt = [args.demo_checkpoint]

    def run_chain(fn, *fn_args):
        try:
            out = fn(*fn_args)
            if fn is demo:
                demo_ckpt[0] = out
        except Exception as exc:  # reported now, raised when all are done
            log(f'failed: {exc}')
            errors.append(str(exc))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for fn, seed in chains:
            pool.submit(run_chain, fn, seed)
        if args.demo_checkpoint is None:
            pool.submit(run_chain, demo)
    if errors:
        raise SystemExit('recipe failed:\n' + '\n'.join(errors))

    baselines = osp.join(work_dir, 'baselines')
    log('scoring the baselines')
    results['copy_first_mask'] = copy_first_mask(
        args, protocol, osp.join(baselines, 'copy_first_mask'))
    demo_test = test_demo_model(args, demo_ckpt[0], options['val'],
                                osp.join(baselines, 'demo_model'))
    results['demo'] = dict(results.get('demo/seed_0', {}), **demo_test)
    return dict(protocol=protocol, results=results)


def mean_over_seeds(results: dict, name: str, seeds) -> Optional[dict]:
    entries = [results[f'{name}/seed_{s}'] for s in seeds
               if f'{name}/seed_{s}' in results]
    if not entries:
        return None
    sequences = entries[0]['per_sequence']
    return dict(
        jf=sum(e['jf'] for e in entries) / len(entries),
        seconds=sum(e['seconds'] or 0 for e in entries) / len(entries),
        per_sequence={seq: sum(e['per_sequence'][seq] for e in entries) /
                      len(entries) for seq in sequences})


def print_tables(out: dict, args) -> dict:
    """The J&F table and the per-sequence table; the rows printed."""
    results = out['results']
    rows = {'copy_first_mask': results['copy_first_mask'],
            'demo': results['demo']}
    for name in ('pretrain', 'main_only', 'full'):
        rows[name] = mean_over_seeds(results, name, args.seeds)
    protocol = out['protocol']
    where = (f'the held-out train videos {protocol["sequences"]}'
             if protocol['mode'] == 'holdout' else 'val.txt')
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    print(f'\nJ&F on DAVIS 2016 {args.resolution}, {where} '
          f'(seeds {args.seeds}; tiny STM, '
          f'{"bf16 autocast" if args.amp else "fp32"} training, '
          f'{args.jobs} jobs at a time of '
          f'{threads} thread{"s" if threads > 1 else ""} each)')
    print(f'{"":30s} {"J&F":>6s} {"training":>10s}')
    for key, label in ROWS:
        row = rows[key]
        seconds = row.get('seconds')
        time_text = f'{seconds / 60:7.1f} min' if seconds else ''
        print(f'{label:30s} {row["jf"]:6.3f} {time_text:>10s}')
    full = rows['full']
    if full['seconds'] and rows['pretrain']['seconds']:
        print(f'{"  full, both stages":30s} {"":6s} '
              f'{(full["seconds"] + rows["pretrain"]["seconds"]) / 60:7.1f}'
              ' min')
    sequences = sorted(rows['copy_first_mask']['per_sequence'])
    print('\nper sequence (J&F):')
    print(f'{"sequence":20s}' + ''.join(f'{k[:10]:>11s}' for k, _ in ROWS))
    for seq in sequences:
        print(f'{seq:20s}' + ''.join(
            f'{rows[k]["per_sequence"].get(seq, float("nan")):11.3f}'
            for k, _ in ROWS))
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    out = run(args)
    rows = print_tables(out, args)
    summary = dict(settings={k: v for k, v in vars(args).items()
                             if k not in ('restart', 'jobs')},
                   protocol=out['protocol'], rows=rows,
                   per_stage=out['results'],
                   wall_seconds=time.perf_counter() - start)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, SUMMARY_FILE), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


if __name__ == '__main__':
    main()
