"""Every config in configs/ must load and build: model, pipelines,
evaluator, optimizer and a dataset over a tiny DAVIS-layout folder (or a
tiny YouTube-VOS, for YouTube-VOS configs; tiny COCO, VOC and saliency
folders for the still-image pre-training configs)."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from vosbench.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from vosbench.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in p)


def _ids(paths):
    return [osp.relpath(p, osp.join(REPO, 'configs')) for p in paths]


@pytest.fixture(scope='module')
def tiny_davis_root(tmp_path_factory):
    from vosbench.datasets.synthetic import generate_synthetic_davis
    root = str(tmp_path_factory.mktemp('tiny_davis'))
    generate_synthetic_davis(root, num_train=2, num_val=1, num_frames=4,
                             height=64, width=96, seed=0, progress=False)
    return root


@pytest.fixture(scope='module')
def tiny_davis2016_root(tiny_davis_root, tmp_path_factory):
    """The tiny DAVIS root in the DAVIS 2016 release's layout (0/255 masks,
    frame-list split files), at 480p and 240p (names only)."""
    import shutil

    import numpy as np
    from PIL import Image

    from vosbench.utils.mask_io import read_mask
    root = str(tmp_path_factory.mktemp('tiny_davis2016'))
    for res in ('480p', '240p'):
        os.makedirs(osp.join(root, 'ImageSets', res))
        for split in ('train', 'val'):
            lines = []
            with open(osp.join(tiny_davis_root, 'ImageSets', '2017',
                               f'{split}.txt')) as f:
                seqs = f.read().split()
            for seq in seqs:
                src = osp.join(tiny_davis_root, 'JPEGImages', '480p', seq)
                dst = osp.join(root, 'JPEGImages', res, seq)
                shutil.copytree(src, dst)
                os.makedirs(osp.join(root, 'Annotations', res, seq))
                for name in sorted(os.listdir(src)):
                    frame = osp.splitext(name)[0]
                    mask = read_mask(osp.join(tiny_davis_root, 'Annotations',
                                              '480p', seq, frame + '.png'))
                    Image.fromarray(np.where(mask > 0, 255, 0).astype(
                        np.uint8)).save(osp.join(root, 'Annotations', res,
                                                 seq, frame + '.png'))
                    lines.append(f'/JPEGImages/{res}/{seq}/{name} '
                                 f'/Annotations/{res}/{seq}/{frame}.png\n')
            with open(osp.join(root, 'ImageSets', res, f'{split}.txt'),
                      'w') as f:
                f.writelines(lines)
    return root


@pytest.fixture(scope='module')
def tiny_static_roots(tmp_path_factory):
    """Tiny still-image sets: COCO format (synthetic), VOC, saliency."""
    import cv2
    import numpy as np
    from vosbench.datasets.synthetic import generate_synthetic_static
    from vosbench.utils.mask_io import write_mask
    root = tmp_path_factory.mktemp('tiny_static')
    coco = str(root / 'coco')
    generate_synthetic_static(coco, num_images=2, height=64, width=96,
                              seed=0, progress=False)
    image = np.full((64, 96, 3), 100, np.uint8)
    image[10:40, 20:60] = (200, 40, 40)
    labels = np.zeros((64, 96), np.uint8)
    labels[10:40, 20:60] = 1
    voc, sal = root / 'voc', root / 'saliency'
    for folder in (voc / 'JPEGImages', voc / 'SegmentationObject',
                   voc / 'ImageSets' / 'Segmentation', sal / 'images',
                   sal / 'masks'):
        folder.mkdir(parents=True)
    cv2.imwrite(str(voc / 'JPEGImages' / 'a.jpg'), image[..., ::-1])
    write_mask(str(voc / 'SegmentationObject' / 'a.png'), labels)
    (voc / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('a\n')
    cv2.imwrite(str(sal / 'images' / 'a.jpg'), image[..., ::-1])
    cv2.imwrite(str(sal / 'masks' / 'a.png'), labels * 255)
    return dict(coco=coco, voc=str(voc), saliency=str(sal))


def _redirect(dataset_cfg, davis_root, ytvos_root, static_roots):
    """The dataset config with its data moved to the tiny fixtures."""
    cfg = dict(dataset_cfg)
    kind = cfg['type']
    if kind == 'RatioConcatDataset':
        cfg['datasets'] = [_redirect(d, davis_root, ytvos_root, static_roots)
                           for d in cfg['datasets']]
        cfg['length'] = 2 * len(cfg['datasets'])
    elif kind in ('YouTubeVOSDataset', 'YouTubeVOSFramesDataset'):
        # the fixture has the released splits (tests/conftest.py)
        cfg['data_root'] = ytvos_root
    elif kind == 'COCOInstanceDataset':
        cfg.update(data_root=static_roots['coco'], ann_file='annotations.json',
                   data_prefix=dict(img_path='images'))
    elif kind == 'VOCInstanceDataset':
        cfg.update(data_root=static_roots['voc'],
                   ann_file='ImageSets/Segmentation/train.txt',
                   data_prefix=dict(img_path='JPEGImages',
                                    seg_path='SegmentationObject'))
    elif kind == 'SaliencyDataset':
        cfg.update(data_root=static_roots['saliency'],
                   data_prefix=dict(img_path='images', seg_path='masks'))
    elif kind in ('DAVIS2016Dataset', 'DAVIS2016FramesDataset'):
        cfg['data_root'] = static_roots['davis2016']
        cfg['split'] = 'val' if cfg.get('test_mode') else 'train'
    else:
        cfg['data_root'] = davis_root
        cfg['split'] = 'val' if cfg.get('test_mode') else 'train'
    return cfg


def test_configs_are_found():
    assert len(CONFIGS) >= 2


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds(path, tiny_davis_root, ytvos_root,
                       tiny_static_roots, tiny_davis2016_root):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'vosbench'
    init_default_scope('vosbench')
    model = MODELS.build(cfg.model)
    build_optim_wrapper(model, cfg.optim_wrapper)
    for loader_key in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
        if cfg.get(loader_key) is None:  # e.g. no validation set
            continue
        dataset_cfg = cfg[loader_key]['dataset'].copy()
        for step in dataset_cfg.get('pipeline', []):
            TRANSFORMS.build(step)
        for source in dataset_cfg.get('datasets', []):
            for step in source.get('pipeline', []):
                TRANSFORMS.build(step)
        dataset_cfg = _redirect(
            dataset_cfg, tiny_davis_root, ytvos_root,
            dict(tiny_static_roots, davis2016=tiny_davis2016_root))
        dataset = DATASETS.build(dataset_cfg)
        sample = dataset[0]
        assert 'data_samples' in sample
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key) is None:
            continue
        evaluators = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
        for evaluator in evaluators:
            METRICS.build(evaluator)
