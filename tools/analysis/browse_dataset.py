"""Look at what the model is fed: samples after the whole pipeline.

    python tools/analysis/browse_dataset.py CONFIG --out DIR [--split train|val]
        [--stage pretrain|main|finetune] [--n N] [--seed S] [--cfg-options ...]

Each sample is written as one image, ``DIR/<index>_<video>.jpg``: the
clip's frames side by side with the masks overlaid (DAVIS palette, object
ids; void pixels in the palette's colour 255), each frame captioned with its
frame index in the video and the gap to the previous one.

- ``--split train`` (default): ``train_dataloader.dataset`` with its
  pipeline, so clips synthesised from still images (static pre-training:
  ``--stage pretrain``) or sampled from videos with their random gap (main
  training: ``--stage main``); the stage is read from the pipeline and a
  ``--stage`` the config does not train is an error.
- ``--split val``: ``val_dataloader.dataset``, ``--n`` videos, each as 4
  evenly spaced frames with their ground truth.
- ``--stage finetune``: the lucid-dreamed clips that ``tools/finetune_video.py``
  trains on, made from the first annotated frame of ``--n`` test videos
  (``test_dataloader.dataset``), with its defaults (3 frames, no crop).
"""
import argparse
import os
import os.path as osp
import random
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmengine.config import DictAction  # noqa: E402

STAGES = ('pretrain', 'main', 'finetune')
#: Transforms that turn a still image into a clip (static pre-training).
STATIC_TRANSFORMS = ('StaticToClip', )
VAL_FRAMES = 4


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the samples a config feeds the model, after the '
        'whole pipeline, as images.')
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--split', choices=['train', 'val'],
                        default='train')
    parser.add_argument('--stage', choices=STAGES,
                        help='what to look at (default: what the config '
                        'trains, read from its pipeline)')
    parser.add_argument('--n', type=int, default=8,
                        help='number of samples (default 8)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-ids', action='store_true',
                        help='do not write object ids on the masks')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error('--n must be >= 1')
    if args.stage == 'finetune' and args.split == 'val':
        parser.error('--stage finetune draws from the test videos; leave '
                     '--split out')
    return args


def config_stage(cfg) -> str:
    """``'pretrain'`` when the training pipeline makes clips of still
    images, else ``'main'``."""
    text = repr(cfg.train_dataloader.dataset)
    return 'pretrain' if any(f"'{name}'" in text
                             for name in STATIC_TRANSFORMS) else 'main'


def pick_indices(length: int, n: int, seed: int) -> list:
    """``min(n, length)`` distinct indices, in increasing order."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(length, size=min(n, length),
                             replace=False).tolist())


def clip_captions(indices) -> list:
    """``'t=12'`` for the first frame, ``'t=15 (+3)'`` for the others."""
    captions = []
    for k, t in enumerate(indices):
        gap = '' if k == 0 else f' ({int(t) - int(indices[k - 1]):+d})'
        captions.append(f't={int(t)}{gap}')
    return captions


def train_images(dataset, indices, visualizer):
    """``(name, image)`` of packed training clips."""
    for i in indices:
        sample = dataset[i]
        frames = sample['inputs'].permute(0, 2, 3, 1).numpy()
        masks = sample['data_samples']['masks'].numpy().astype(np.uint8)
        info = sample['data_samples']
        clip = info.get('clip_indices') or list(range(len(frames)))
        seq = info.get('seq_name') or f'sample{i}'
        yield f'{i:05d}_{seq}', visualizer.draw_clip(
            list(frames), list(masks), captions=clip_captions(clip))


def val_images(dataset, indices, visualizer):
    """``(name, image)`` of validation videos: evenly spaced frames with
    their ground truth."""
    from vosbench.utils.mask_io import read_mask_as
    for i in indices:
        info = dataset[i]['data_samples']
        paths = info['gt_mask_paths']
        annotated = [t for t, p in enumerate(paths) if p is not None]
        if not annotated:
            raise SystemExit(f'video {info["seq_name"]} has no ground truth '
                             'mask to draw')
        picks = [annotated[round(k * (len(annotated) - 1) /
                                 max(1, VAL_FRAMES - 1))]
                 for k in range(min(VAL_FRAMES, len(annotated)))]
        picks = sorted(set(picks))
        mask_format = dataset.get_data_info(i).get('mask_format', 'labels')
        frames = [info['frames'][t] for t in picks]
        masks = [read_mask_as(paths[t], mask_format) for t in picks]
        yield f'{i:05d}_{info["seq_name"]}', visualizer.draw_clip(
            frames, masks, captions=clip_captions(picks))


def finetune_images(dataset, indices, visualizer, seed: int):
    """``(name, image)`` of lucid-dreamed clips of each video's first
    annotated frame, as tools/finetune_video.py makes them."""
    from vosbench.apis.finetune import lucid_training_batch
    rng = np.random.default_rng(seed)
    for i in indices:
        info = dataset[i]['data_samples']
        given = info['given_masks'].load()
        first = min(given)
        frames, samples = lucid_training_batch(
            np.asarray(info['frames'][first]), given[first], batch_size=1,
            rng=rng)
        clip = (frames[0].permute(0, 2, 3, 1).numpy() * 255).round()
        masks = samples[0]['masks'].numpy().astype(np.uint8)
        captions = [f'dream {k}' for k in range(len(masks))]
        yield f'{i:05d}_{info["seq_name"]}', visualizer.draw_clip(
            list(clip.astype(np.uint8)), list(masks), captions=captions)


def main(argv=None) -> list:
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from vosbench.datasets import DatasetLayoutError
    from vosbench.registry import DATASETS
    from vosbench.utils import register_all_modules
    from vosbench.visualization import VOSVisualizer, write_rgb_image

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope('vosbench')
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    if args.stage == 'finetune':
        loader_key = 'test_dataloader'
    else:
        loader_key = f'{args.split}_dataloader'
        if args.split == 'train' and args.stage is not None:
            trained = config_stage(cfg)
            if trained != args.stage:
                raise SystemExit(
                    f'error: --stage {args.stage}, but {args.config} trains '
                    f'the {trained} stage (the pipeline of its '
                    f'train_dataloader.dataset '
                    f'{"has" if trained == "pretrain" else "has no"} '
                    f'{" or ".join(STATIC_TRANSFORMS)})')
    if cfg.get(loader_key) is None:
        raise SystemExit(f'error: {args.config} has no {loader_key}')
    try:
        dataset = DATASETS.build(cfg[loader_key].dataset)
    except DatasetLayoutError as exc:
        raise SystemExit(f'error: {loader_key}.dataset of {args.config}: '
                         f'{exc}') from exc
    if len(dataset) == 0:
        raise SystemExit(f'error: {loader_key}.dataset of {args.config} is '
                         'empty')
    indices = pick_indices(len(dataset), args.n, args.seed)
    visualizer = VOSVisualizer(name=f'browse_dataset_{os.getpid()}',
                               show_ids=not args.no_ids)
    if args.stage == 'finetune':
        images = finetune_images(dataset, indices, visualizer, args.seed)
        what = 'lucid-dreamed fine-tuning clips'
    elif args.split == 'val':
        images = val_images(dataset, indices, visualizer)
        what = 'validation videos'
    else:
        images = train_images(dataset, indices, visualizer)
        what = f'{config_stage(cfg)}-stage training clips'
    print(f'{len(indices)} {what} of {len(dataset)} -> {args.out}',
          flush=True)
    written = []
    for k, (name, image) in enumerate(images, start=1):
        # a frames-as-stills sample is named '<video>/<frame>'
        path = osp.join(args.out, name.replace('/', '-') + '.jpg')
        write_rgb_image(path, image)
        written.append(path)
        print(f'[{k}/{len(indices)}] {path} ({image.shape[1]}x'
              f'{image.shape[0]})', flush=True)
    return written


if __name__ == '__main__':
    main()
