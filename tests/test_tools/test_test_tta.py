"""End to end: ``tools/test.py CONFIG CKPT --tta`` and ensemble configs
(``tools/test.py ENSEMBLE_CONFIG none``) on a tiny synthetic DAVIS with the
tiny STM (random weights)."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from vosbench.registry import MODELS
from vosbench.utils.mask_io import read_mask

from tool_loading import load_tool
from tool_run_helpers import TINY_MODEL, write_test_config


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


test_tool = load_tool('tools/test.py', 'vosbench_tool_test_tta')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from vosbench.datasets.synthetic import generate_synthetic_davis
    root = str(tmp_path_factory.mktemp('tiny_synthetic'))
    generate_synthetic_davis(root, num_train=0, num_val=2, num_frames=5,
                             height=40, width=56, seed=0, progress=False)
    return root


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Random tiny weights, other than those the runner's seed gives, so
    that a checkpoint that is not loaded shows."""
    torch.manual_seed(7)
    model = MODELS.build(Config.fromfile(TINY_MODEL).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def run(tmp_path, config, checkpoint, *args):
    name = osp.splitext(osp.basename(config))[0]
    out = tmp_path / f'out_{name}'
    metrics = test_tool.main([config, checkpoint, '--out', str(out),
                              '--work-dir', str(tmp_path / f'work_{name}'),
                              *args])
    return metrics, out


def predictions(out):
    masks = {}
    for seq in sorted(os.listdir(out)):
        if osp.isdir(out / seq):
            for name in sorted(os.listdir(out / seq)):
                masks[seq, name] = read_mask(str(out / seq / name))
    assert masks
    return masks


def assert_same_predictions(a, b):
    masks_a, masks_b = predictions(a), predictions(b)
    assert masks_a.keys() == masks_b.keys()
    for key in masks_a:
        np.testing.assert_array_equal(masks_a[key], masks_b[key])


class TTACounter:
    """Counts the videos VOSTTAModel segments (and their views)."""

    def __init__(self, monkeypatch):
        from vosbench.models.tta import VOSTTAModel
        self.views = []
        original = VOSTTAModel.test_step

        def test_step(model, data):
            self.views.append([v.name for v in model.views])
            return original(model, data)
        monkeypatch.setattr(VOSTTAModel, 'test_step', test_step)


def test_tta_without_tta_fields_uses_flip_and_scales(tmp_path, data_root,
                                                    checkpoint, monkeypatch):
    config = write_test_config(tmp_path, 'plain_cfg', data_root)
    args = test_tool.parse_args([config, checkpoint, '--tta'])
    cfg = test_tool.build_test_cfg(args)
    assert cfg.model.type == 'VOSTTAModel'
    assert cfg.model.module.type == 'STM'
    assert cfg.load_from == checkpoint
    # without --tta nothing changes
    plain_cfg = test_tool.build_test_cfg(test_tool.parse_args(
        [config, checkpoint]))
    assert plain_cfg.model.type == 'STM'

    counter = TTACounter(monkeypatch)
    metrics, _ = run(tmp_path, config, checkpoint, '--tta')
    assert counter.views == [['scale0.75', 'scale1', 'flip+scale0.75',
                              'flip+scale1']] * 2  # two videos
    assert any('J&F' in key for key in metrics)


def test_tta_fields_of_the_config_are_used(tmp_path, data_root, checkpoint,
                                           monkeypatch):
    """An identity-only tta_model gives the plain predictions: the runner
    loaded the checkpoint into the wrapped model."""
    plain = write_test_config(tmp_path, 'plain_ref', data_root)
    with_fields = write_test_config(
        tmp_path, 'with_tta_fields', data_root, extra='''
tta_model = dict(type='VOSTTAModel', views=[dict(type='IdentityView')])
tta_pipeline = [dict(type='PackVideoInputs')]
''')
    counter = TTACounter(monkeypatch)
    plain_metrics, plain_out = run(tmp_path, plain, checkpoint)
    assert counter.views == []
    tta_metrics, tta_out = run(tmp_path, with_fields, checkpoint, '--tta')
    assert counter.views == [['identity']] * 2
    assert_same_predictions(plain_out, tta_out)
    assert tta_metrics == plain_metrics
    # tta_pipeline replaces the test pipeline
    cfg = test_tool.build_test_cfg(test_tool.parse_args(
        [with_fields, checkpoint, '--tta']))
    assert cfg.test_dataloader.dataset.pipeline == [
        dict(type='PackVideoInputs')]


def test_ensemble_config(tmp_path, data_root, checkpoint, monkeypatch):
    """An ensemble of two copies of the model predicts what the model does;
    with --tta every view runs the ensemble."""
    plain = write_test_config(tmp_path, 'plain_for_ensemble', data_root)
    members = f'''
model = dict(
    _delete_=True,
    type='VOSEnsemble',
    models=[dict(config={TINY_MODEL!r}, checkpoint={checkpoint!r}),
            dict(config={TINY_MODEL!r}, checkpoint={checkpoint!r})])
'''
    ensemble = write_test_config(tmp_path, 'ensemble_cfg', data_root, members)
    _, plain_out = run(tmp_path, plain, checkpoint)
    _, ensemble_out = run(tmp_path, ensemble, 'none')
    assert_same_predictions(plain_out, ensemble_out)

    counter = TTACounter(monkeypatch)
    cfg = test_tool.build_test_cfg(test_tool.parse_args(
        [ensemble, 'none', '--tta']))
    assert cfg.model.type == 'VOSTTAModel'
    assert cfg.model.module.type == 'VOSEnsemble' and cfg.load_from is None
    tta_ensemble = write_test_config(tmp_path, 'ensemble_tta_cfg', data_root,
                                members)
    metrics, _ = run(tmp_path, tta_ensemble, 'none', '--tta')
    assert len(counter.views) == 2 and len(counter.views[0]) == 4
    assert any('J&F' in key for key in metrics)


def test_checkpoint_argument_errors(tmp_path, data_root, checkpoint):
    plain = write_test_config(tmp_path, 'plain_err', data_root)
    with pytest.raises(SystemExit, match='ensemble'):
        test_tool.main([plain, 'none'])
    ensemble = write_test_config(tmp_path, 'ensemble_err', data_root, f'''
model = dict(_delete_=True, type='VOSEnsemble',
             models=[dict(config={TINY_MODEL!r},
                          checkpoint={str(tmp_path / 'gone.pth')!r})])
''')
    with pytest.raises(SystemExit, match='pass none'):
        test_tool.main([ensemble, checkpoint])
    with pytest.raises(SystemExit, match='gone.pth'):
        test_tool.main([ensemble, 'none', '--tta'])
