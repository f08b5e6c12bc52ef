"""tools/misc/print_config.py (``_base_`` and ``--cfg-options`` resolved,
``--out``, new keys named, errors) and tools/misc/publish_model.py (only
weights and plain meta kept, the sha256 name, plain ``weights_only``
loading, errors naming the file)."""
import hashlib
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tool_loading import load_tool

config_tool = load_tool('tools/misc/print_config.py',
                        'vosbench_tool_print_config')
publish_tool = load_tool('tools/misc/publish_model.py',
                         'vosbench_tool_publish_model')


# --------------------------------------------------------------------------
# print_config
# --------------------------------------------------------------------------
@pytest.fixture
def config(tmp_path):
    (tmp_path / 'base.py').write_text(
        "model = dict(type='STM', test_cfg=dict(mem_every=5, top_k=None))\n"
        "train_cfg = dict(type='IterBasedTrainLoop', max_iters=3000)\n"
        "custom_hooks = [dict(type='VideoProgressHook')]\n")
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['base.py']\n"
                     "train_cfg = dict(max_iters=2500)\n")
    return str(child)


def test_print_config_resolves_base_and_options(config, tmp_path, capsys):
    out = str(tmp_path / 'dump' / 'resolved.py')
    cfg = config_tool.main([config, '--cfg-options',
                            'model.test_cfg.mem_every=7',
                            'custom_hooks.0.type=Other', '--out', out])
    printed = capsys.readouterr().out
    assert 'mem_every=7' in printed and 'mem_every=5' not in printed
    assert 'max_iters=2500' in printed  # the child's value over the base's
    assert "type='IterBasedTrainLoop'" in printed  # from the base
    assert "type='Other'" in printed
    assert "'VideoProgressHook'" not in printed
    assert '_base_' not in printed
    assert cfg.model.test_cfg.mem_every == 7
    saved = Config.fromfile(out)
    assert saved.to_dict() == cfg.to_dict()
    with open(out) as f:
        assert f.read().strip() == printed.strip()


def test_print_config_yaml_out(config, tmp_path):
    import yaml
    out = str(tmp_path / 'resolved.yaml')
    config_tool.main([config, '--cfg-options', 'train_cfg.max_iters=9',
                      '--out', out])
    with open(out) as f:
        assert yaml.safe_load(f)['train_cfg'] == dict(
            type='IterBasedTrainLoop', max_iters=9)
    assert os.listdir(tmp_path).count('resolved.yaml') == 1
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_print_config_names_keys_the_config_does_not_have(config, capsys):
    # merged as tools/train.py merges them (added), but named on stderr
    cfg = config_tool.main([config, '--cfg-options',
                            'train_cfg.max_iter=10',
                            'model.test_cfg.mem_every=3'])
    captured = capsys.readouterr()
    assert 'max_iter=10' in captured.out
    assert cfg.train_cfg.max_iters == 2500
    notes = [line for line in captured.err.splitlines()
             if line.startswith('note:')]
    assert notes == [f'note: --cfg-options train_cfg.max_iter: not in '
                     f'{config}; added as a new key']


def test_print_config_errors(config, tmp_path):
    missing = str(tmp_path / 'nope.py')
    with pytest.raises(SystemExit) as exc:
        config_tool.main([missing])
    assert f'{missing}: no such file' in str(exc.value.code)

    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    with pytest.raises(SystemExit) as exc:
        config_tool.main([str(broken)])
    assert f'{broken}: cannot be loaded' in str(exc.value.code)

    with pytest.raises(SystemExit) as exc:  # past the end of the list
        config_tool.main([config, '--cfg-options', 'custom_hooks.3.type=X'])
    assert 'do not fit' in str(exc.value.code)
    assert 'Index 3' in str(exc.value.code)

    with pytest.raises(SystemExit) as exc:
        config_tool.main([config, '--out', str(tmp_path / 'x.txt')])
    assert exc.value.code == 2  # argparse: the --out extension


# --------------------------------------------------------------------------
# publish_model
# --------------------------------------------------------------------------
class NotWeights:
    """An object no ``weights_only`` load accepts."""


def training_checkpoint(path, **overrides):
    torch.manual_seed(0)
    state_dict = {
        'encoder.conv.weight': torch.randn(4, 3, 3, 3),
        'encoder.bn.running_mean': torch.randn(4),
        'encoder.bn.num_batches_tracked': torch.tensor(7),
    }
    ckpt = dict(
        state_dict=state_dict,
        meta=dict(iter=3000, seed=np.int64(3), cfg="model = dict(type='STM')",
                  dataset_meta=dict(dataset_name='DAVIS 2016'),
                  histogram=np.arange(3)),
        optimizer=dict(state={0: dict(exp_avg=torch.ones(4))},
                       param_groups=[dict(lr=1e-4, params=[0])]),
        message_hub=dict(log_scalars={}, runtime_info=dict(
            iter=np.int64(3000))),
        param_schedulers=[dict(last_step=3000)])
    ckpt.update(overrides)
    torch.save(ckpt, str(path))
    return state_dict


def test_publish_model_keeps_weights_and_names_by_sha256(tmp_path, capsys):
    src = tmp_path / 'iter_3000.pth'
    state_dict = training_checkpoint(src)
    out_dir = tmp_path / 'zoo'
    final = publish_tool.main([str(src), str(out_dir / 'stm_davis16.pth')])

    assert os.listdir(out_dir) == [osp.basename(final)]  # no temporary
    match = re.fullmatch(r'stm_davis16-([0-9a-f]{8})\.pth',
                         osp.basename(final))
    assert match
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match.group(1)

    published = torch.load(final, weights_only=True)  # no allow-list
    assert set(published) == {'state_dict', 'meta'}
    assert list(published['state_dict']) == list(state_dict)
    for key, value in state_dict.items():
        assert torch.equal(published['state_dict'][key], value)
    # plain meta kept (numpy scalar as a Python int), the array dropped
    assert published['meta'] == dict(
        iter=3000, seed=3, cfg="model = dict(type='STM')",
        dataset_meta=dict(dataset_name='DAVIS 2016'))
    assert type(published['meta']['seed']) is int

    out = capsys.readouterr().out
    assert 'dropped: message_hub, optimizer, param_schedulers' in out
    assert 'histogram' in out
    assert out.strip().splitlines()[-1].endswith(final)


def test_publish_model_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(SystemExit) as exc:
        publish_tool.main([missing, str(tmp_path / 'out.pth')])
    assert f'{missing}: no such file' in str(exc.value.code)

    weights = tmp_path / 'weights.pth'
    torch.save(dict(model=dict(w=torch.zeros(1)), meta={}), str(weights))
    with pytest.raises(SystemExit) as exc:
        publish_tool.main([str(weights), str(tmp_path / 'out.pth')])
    message = str(exc.value.code)
    assert f"{weights}: no 'state_dict' entry" in message
    assert 'top-level keys: model, meta' in message

    unsafe = tmp_path / 'unsafe.pth'
    training_checkpoint(unsafe, optimizer=NotWeights())
    with pytest.raises(SystemExit) as exc:
        publish_tool.main([str(unsafe), str(tmp_path / 'out.pth')])
    assert str(unsafe) in str(exc.value.code)
    assert 'weights_only' in str(exc.value.code)
    assert not [n for n in os.listdir(tmp_path) if n.startswith('out')]
