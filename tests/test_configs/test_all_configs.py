"""Every config in configs/ must load and build: model, pipelines,
evaluator, optimizer and a dataset over a tiny DAVIS-layout folder."""
import glob
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


def test_configs_are_found():
    assert len(CONFIGS) >= 2


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds(path, tiny_davis_root):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'vosbench'
    init_default_scope('vosbench')
    model = MODELS.build(cfg.model)
    build_optim_wrapper(model, cfg.optim_wrapper)
    for loader_key in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
        dataset_cfg = cfg[loader_key]['dataset'].copy()
        for step in dataset_cfg.get('pipeline', []):
            TRANSFORMS.build(step)
        dataset_cfg['data_root'] = tiny_davis_root
        dataset_cfg['split'] = 'val' if dataset_cfg.get('test_mode') \
            else 'train'
        dataset = DATASETS.build(dataset_cfg)
        sample = dataset[0]
        assert 'data_samples' in sample
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
        for evaluator in evaluators:
            METRICS.build(evaluator)
