"""Fine-tune a model on the first frame of a video, then segment it.

Single video::

    python tools/finetune_video.py CONFIG CKPT VIDEO_DIR FIRST_MASK \
        [--out DIR] [--iters N] [--save-checkpoint PATH]

writes one palette PNG per frame of VIDEO_DIR to DIR (default
``work_dirs/finetune/<video name>``). Batch mode over a dataset's test videos::

    python tools/finetune_video.py CONFIG CKPT --dataset-config DATA_CFG \
        --out DIR [--iters N] [--save-checkpoint-dir CKPT_DIR]

fine-tunes a fresh copy of the CKPT model for every video (DAVIS layout:
the mask of frame 0; YouTube-VOS: the earliest given mask, with all given
masks used while segmenting) and writes ``DIR/<video>/<frame>.png``. A video
whose folder is complete is skipped, so an interrupted run resumes; a video
is written to ``DIR/<video>.tmp`` and renamed when done. ``DATA_CFG`` is a
config with a ``test_dataloader`` (CONFIG itself when omitted).

The clips are lucid-dreamed from the first frame
(vosbench/datasets/transforms/lucid.py); the optimiser is Adam at 5e-6 (the
reports' fine-tuning rate). ``--save-checkpoint`` writes the fine-tuned
weights as ``dict(state_dict=..., meta=...)``, so that CONFIG plus that file
can be a member of a VOSEnsemble.

CKPT must match CONFIG's model: a checkpoint with missing, unexpected or
mis-shaped keys is an error naming them, unless ``--partial-load`` is given.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fine-tune on the first frame (lucid dreaming) and '
        'segment a video or every test video of a dataset.')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('video_dir', nargs='?',
                        help='folder of frames (single-video mode)')
    parser.add_argument('first_mask', nargs='?',
                        help='label PNG of the first frame')
    parser.add_argument('--dataset-config',
                        help='batch mode: config whose test_dataloader '
                        'lists the videos')
    parser.add_argument('--batch', action='store_true',
                        help='batch mode over the test set of CONFIG')
    parser.add_argument('--out', help='output folder')
    parser.add_argument('--iters', type=int, default=200)
    parser.add_argument('--lr', type=float, default=5e-6)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--num-frames', type=int, default=3)
    parser.add_argument('--crop', type=int, nargs=2, metavar=('H', 'W'),
                        help='training crop (default: the whole frame)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--partial-load', action='store_true',
        help='load a CKPT that does not match CONFIG\'s model (missing, '
        'unexpected or mis-shaped keys): the matching weights are loaded, '
        'the others logged (default: such a checkpoint is an error)')
    parser.add_argument('--log-interval', type=int, default=20)
    parser.add_argument('--save-checkpoint',
                        help='single mode: write the fine-tuned weights here')
    parser.add_argument('--save-checkpoint-dir',
                        help='batch mode: write <video>.pth here')
    args = parser.parse_args(argv)
    batch = args.batch or args.dataset_config is not None
    if batch and (args.video_dir or args.first_mask):
        parser.error('give VIDEO_DIR FIRST_MASK or --dataset-config, not '
                     'both')
    if not batch and not (args.video_dir and args.first_mask):
        parser.error('give VIDEO_DIR and FIRST_MASK, or --dataset-config '
                     'for batch mode')
    if batch and not args.out:
        parser.error('batch mode needs --out')
    args.batch = batch
    return args


def save_checkpoint(model, path: str, meta: dict) -> None:
    import torch
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path + '.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, path)


def _finetune(model, frame, labels, args, log):
    from vosbench.apis import finetune_on_first_frame
    return finetune_on_first_frame(
        model, frame, labels, iters=args.iters, lr=args.lr,
        batch_size=args.batch_size, num_frames=args.num_frames,
        crop=args.crop, seed=args.seed, log_interval=args.log_interval,
        logger=log)


def run_single(model, args) -> list:
    from vosbench.apis import list_frames, segment_folder
    from vosbench.utils.image_io import read_frame
    from vosbench.utils.mask_io import read_mask
    frames = list_frames(args.video_dir)
    if not frames:
        raise SystemExit(f'no frames in {args.video_dir}')
    labels = read_mask(args.first_mask)
    frame = read_frame(frames[0])
    out = args.out or osp.join(
        'work_dirs', 'finetune',
        osp.basename(osp.normpath(args.video_dir)))
    start = time.perf_counter()
    tuned = _finetune(model, frame, labels, args, print)
    if args.save_checkpoint:
        save_checkpoint(tuned, args.save_checkpoint, dict(
            config=str(args.config), base_checkpoint=str(args.checkpoint),
            video=str(args.video_dir), iters=args.iters, lr=args.lr,
            seed=args.seed))
        print(f'fine-tuned checkpoint: {args.save_checkpoint}')
    written = segment_folder(tuned, args.video_dir, labels, out)
    print(f'{len(written)} masks written to {out} '
          f'({time.perf_counter() - start:.1f}s)')
    return written


def _complete(folder: str, names) -> bool:
    return osp.isdir(folder) and all(
        osp.isfile(osp.join(folder, f'{n}.png')) for n in names)


def run_batch(model, args) -> dict:
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from vosbench.registry import DATASETS
    from vosbench.utils import register_all_modules
    from vosbench.utils.image_io import read_frame
    from vosbench.utils.mask_io import read_mask, write_mask

    register_all_modules(init_default_scope=False)
    init_default_scope('vosbench')
    data_cfg = Config.fromfile(args.dataset_config or args.config)
    dataset = DATASETS.build(data_cfg.test_dataloader.dataset)
    os.makedirs(args.out, exist_ok=True)
    summary = dict(done=[], skipped=[])
    total = len(dataset)
    for index in range(total):
        info = dataset.get_data_info(index)
        seq = info['seq_name']
        paths = info['frame_paths']
        names = [osp.splitext(osp.basename(p))[0] for p in paths]
        folder = osp.join(args.out, seq)
        if _complete(folder, names):
            summary['skipped'].append(seq)
            print(f'[{index + 1}/{total}] {seq}: complete, skipped',
                  flush=True)
            continue
        given_paths = info.get('given_mask_paths')
        if given_paths is None:
            given_paths = [info['mask_paths'][0]] + \
                [None] * (len(paths) - 1)
        given = {t: read_mask(p) for t, p in enumerate(given_paths) if p}
        if not given:
            raise SystemExit(f'{seq}: no given mask')
        first = min(given)
        start = time.perf_counter()
        tuned = _finetune(model, read_frame(paths[first]), given[first],
                          args, lambda line: print(f'  {seq}: {line}',
                                                   flush=True))
        if args.save_checkpoint_dir:
            save_checkpoint(tuned, osp.join(args.save_checkpoint_dir,
                                            f'{seq}.pth'),
                            dict(config=str(args.config),
                                 base_checkpoint=str(args.checkpoint),
                                 video=seq, iters=args.iters, lr=args.lr,
                                 seed=args.seed))
        tmp = folder + '.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        with torch.no_grad():
            results = tuned.segment_video(
                (read_frame(p) for p in paths), given_labels=given)
            for name, labels in zip(names, results):
                write_mask(osp.join(tmp, f'{name}.png'),
                           np.asarray(labels, np.uint8))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        summary['done'].append(seq)
        print(f'[{index + 1}/{total}] {seq}: {len(names)} frames '
              f'({time.perf_counter() - start:.1f}s)', flush=True)
    print(f'{len(summary["done"])} videos fine-tuned and segmented, '
          f'{len(summary["skipped"])} skipped; results in {args.out}')
    return summary


def main(argv=None):
    args = parse_args(argv)
    from vosbench.apis import init_model
    from vosbench.utils import keep_freed_memory
    keep_freed_memory()  # see vosbench/utils/allocator.py
    model = init_model(args.config, args.checkpoint, device=args.device,
                       strict=not args.partial_load)
    if args.batch:
        return run_batch(model, args)
    return run_single(model, args)


if __name__ == '__main__':
    main()
