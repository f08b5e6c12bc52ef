"""Checkpoints load strictly (issue 12, item 3 and its table row).

Row: "``tools/test.py`` with a checkpoint of another model: exit 0, J&F
0.082; key and shape mismatches only as log warnings". Every way a whole
model is loaded (``tools/test.py``, ``load_from`` and ``--resume`` of
``tools/train.py``, ensembles, ``init_model``, ``tools/finetune_video.py``)
must fail on missing, unexpected or mis-shaped keys with a message naming the
checkpoint, how many keys of each kind and the first few, unless partial
loading is asked for (``load_strict = False`` / ``--partial-load``).

The other model is the tiny STM with narrower keys (4 mis-shaped tensors),
without its decoder (28 missing keys) and with a head it does not have
(2 unexpected keys). Data: a 3-frame synthetic DAVIS at 32x48.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from vosbench.registry import MODELS

from tool_loading import load_tool
from tool_run_helpers import write_train_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_')
TINY_MODEL = osp.join(BASE, 'models', 'stm_r18-tiny.py')
MISSING, UNEXPECTED, SHAPE = 28, 2, 4

pytestmark = pytest.mark.usefixtures('one_torch_thread')

test_tool = load_tool('tools/test.py', 'vosbench_tool_test_strict')
train_tool = load_tool('tools/train.py', 'vosbench_tool_train_strict')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from vosbench.datasets.synthetic import generate_synthetic_davis
    root = str(tmp_path_factory.mktemp('strict_data'))
    generate_synthetic_davis(root, num_train=1, num_val=1, num_frames=3,
                             height=32, width=48, seed=0, progress=False)
    return root


def tiny_model(**key_channels):
    cfg = Config.fromfile(TINY_MODEL)
    for name, channels in key_channels.items():
        cfg.model[name].key_channels = channels
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def other_ckpt(tmp_path_factory):
    """A checkpoint of another model (see the module docstring)."""
    torch.manual_seed(3)
    other = tiny_model(memory_key_value=16, query_key_value=16)
    state = {k: v for k, v in other.state_dict().items()
             if not k.startswith('decoder.')}
    state['aux_head.weight'] = torch.zeros(2, 8)
    state['aux_head.bias'] = torch.zeros(2)
    path = str(tmp_path_factory.mktemp('ckpt') / 'other_model.pth')
    torch.save(dict(state_dict=state, meta={}), path)
    return path


@pytest.fixture(scope='module')
def own_ckpt(tmp_path_factory):
    torch.manual_seed(4)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=tiny_model().state_dict(), meta={}), path)
    return path


def write_config(folder, name, data_root, extra=''):
    return write_train_config(folder, name, data_root, samples_per_video=2,
                              extra=extra)


def assert_names_mismatch(error, path):
    """``error`` is vosbench's CheckpointMismatchError (a RuntimeError: the
    tests catch RuntimeError, so that on the code before they fail on the
    behaviour, not on an import) and names the checkpoint and the keys."""
    assert type(error).__name__ == 'CheckpointMismatchError', repr(error)
    message = str(error)
    assert path in message
    assert f'missing keys ({MISSING}): decoder.' in message
    assert f'unexpected keys ({UNEXPECTED}): aux_head.weight' in message
    assert (f'shape mismatch ({SHAPE}): memory_key_value.key_conv.weight '
            'checkpoint (16, 128, 3, 3) model (32, 128, 3, 3)') in message
    assert ', ...' in message  # only the first few of the 28 are listed
    assert 'load_strict = False' in message and '--partial-load' in message


# ---------------------------------------------------------------------------
# the table row: tools/test.py
# ---------------------------------------------------------------------------
def test_tools_test_refuses_a_checkpoint_of_another_model(tmp_path,
                                                         data_root,
                                                         other_ckpt):
    """Before: exit 0 with a J&F of random weights; the mismatch only
    logged."""
    config = write_config(tmp_path, 'strict_test', data_root)
    with pytest.raises(RuntimeError) as info:
        test_tool.main([config, other_ckpt, '--work-dir',
                        str(tmp_path / 'work'), '--out',
                        str(tmp_path / 'out')])
    assert_names_mismatch(info.value, other_ckpt)


def test_tools_test_partial_load_is_explicit(tmp_path, data_root,
                                            other_ckpt):
    config = write_config(tmp_path, 'partial_test', data_root)
    args = test_tool.parse_args([config, other_ckpt, '--partial-load'])
    assert test_tool.build_test_cfg(args).load_strict is False
    metrics = test_tool.main([config, other_ckpt, '--partial-load',
                              '--work-dir', str(tmp_path / 'work')])
    assert any('J&F' in key for key in metrics)


def test_tools_test_loads_its_own_checkpoint(tmp_path, data_root, own_ckpt):
    from vosbench.engine import VOSRunner, build_runner
    config = write_config(tmp_path, 'own_test', data_root)
    cfg = test_tool.build_test_cfg(test_tool.parse_args(
        [config, own_ckpt, '--work-dir', str(tmp_path / 'work')]))
    runner = build_runner(cfg)
    assert type(runner) is VOSRunner
    runner.load_or_resume()
    expected = torch.load(own_ckpt)['state_dict']
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, expected[key]), key


# ---------------------------------------------------------------------------
# training: load_from and --resume
# ---------------------------------------------------------------------------
def test_train_load_from_is_strict(tmp_path, data_root, other_ckpt):
    config = write_config(tmp_path, 'strict_train', data_root,
                          f'load_from = {other_ckpt!r}')
    with pytest.raises(RuntimeError) as info:
        train_tool.main([config, '--work-dir', str(tmp_path / 'work')])
    assert_names_mismatch(info.value, other_ckpt)
    assert not osp.exists(tmp_path / 'work' / 'iter_2.pth')


def test_resume_is_strict_even_with_partial_load(tmp_path, data_root,
                                                 other_ckpt):
    """A run resumes from its own checkpoint: ``load_strict = False`` is
    for ``load_from``."""
    from vosbench.engine import CheckpointMismatchError, build_runner
    config = write_config(tmp_path, 'strict_resume', data_root)
    cfg = train_tool.build_train_cfg(train_tool.parse_args(
        [config, '--resume', other_ckpt, '--partial-load', '--work-dir',
         str(tmp_path / 'work')]))
    assert cfg.load_strict is False
    runner = build_runner(cfg)
    with pytest.raises(CheckpointMismatchError) as info:
        runner.load_or_resume()
    assert 'resume' in str(info.value)
    assert_names_mismatch(info.value, other_ckpt)


def test_load_strict_false_loads_what_fits(tmp_path, data_root, other_ckpt):
    from vosbench.engine import build_runner
    config = write_config(tmp_path, 'partial_load_from', data_root,
                          f'load_from = {other_ckpt!r}\nload_strict = False')
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.load_or_resume()
    state = torch.load(other_ckpt)['state_dict']
    after = runner.model.state_dict()
    assert torch.equal(after['query_encoder.conv1.weight'],
                       state['query_encoder.conv1.weight'])
    assert not torch.equal(before['query_encoder.conv1.weight'],
                           state['query_encoder.conv1.weight'])
    # mis-shaped and missing keys keep the model's initial values
    for key in ('memory_key_value.key_conv.weight',
                'decoder.input_conv.weight'):
        assert torch.equal(after[key], before[key]), key


def test_build_runner_follows_runner_type(tmp_path, data_root):
    from mmengine.runner import Runner

    from vosbench.engine import VOSRunner, build_runner
    cfg = Config.fromfile(write_config(tmp_path, 'plain_runner', data_root,
                                       "runner_type = 'Runner'"))
    cfg.work_dir = str(tmp_path / 'work')
    assert type(build_runner(cfg)) is Runner
    cfg = Config.fromfile(write_config(tmp_path, 'vos_runner', data_root,
                                       'load_strict = "no"'))
    cfg.work_dir = str(tmp_path / 'work2')
    with pytest.raises(ValueError, match="load_strict must be True or "
                       "False, got 'no'"):
        build_runner(cfg)
    assert 'runner_type' not in cfg  # the caller's config is unchanged
    assert issubclass(VOSRunner, Runner)


# ---------------------------------------------------------------------------
# ensembles, init_model, fine-tuning
# ---------------------------------------------------------------------------
def ensemble(checkpoint, **kwargs):
    from vosbench.models.vos import VOSEnsemble
    member = dict(model=Config.fromfile(TINY_MODEL).model,
                  checkpoint=checkpoint)
    return VOSEnsemble([member], **kwargs)


def test_ensemble_member_checkpoint_is_strict(other_ckpt, own_ckpt):
    with pytest.raises(RuntimeError) as info:
        ensemble(other_ckpt).load_checkpoints()
    assert 'ensemble member 0' in str(info.value)
    assert_names_mismatch(info.value, other_ckpt)
    # partial loading on request (the runner passes load_strict = False on)
    model = ensemble(other_ckpt, load_strict=False)
    model.load_checkpoints()
    state = torch.load(other_ckpt)['state_dict']
    assert torch.equal(model.members[0].state_dict()['query_encoder.conv1.'
                                                     'weight'],
                       state['query_encoder.conv1.weight'])
    ensemble(own_ckpt).load_checkpoints()


def test_init_model_names_the_mismatch(other_ckpt):
    from vosbench.apis import init_model
    with pytest.raises(RuntimeError) as info:
        init_model(TINY_MODEL, other_ckpt)
    assert_names_mismatch(info.value, other_ckpt)
    model = init_model(TINY_MODEL, other_ckpt, strict=False)
    assert not model.training


def test_finetune_video_is_strict(tmp_path, other_ckpt):
    import cv2
    import numpy as np

    from vosbench.utils.mask_io import write_mask
    finetune_tool = load_tool('tools/finetune_video.py',
                              'vosbench_tool_finetune_strict')
    video = tmp_path / 'video'
    video.mkdir()
    for t in range(2):
        frame = np.full((32, 32, 3), 90, np.uint8)
        frame[8 + t:20 + t, 8:20] = (220, 40, 40)
        cv2.imwrite(str(video / f'{t:05d}.jpg'), frame)
    labels = np.zeros((32, 32), np.uint8)
    labels[8:20, 8:20] = 1
    mask = str(tmp_path / 'first.png')
    write_mask(mask, labels)
    argv = [TINY_MODEL, other_ckpt, str(video), mask, '--iters', '1',
            '--out', str(tmp_path / 'out'), '--log-interval', '0']
    with pytest.raises(RuntimeError) as info:
        finetune_tool.main(argv)
    assert_names_mismatch(info.value, other_ckpt)
    written = finetune_tool.main(argv + ['--partial-load'])
    assert len(written) == 2


def test_mismatch_message_lists_the_first_keys_and_counts():
    from vosbench.engine.strict_loading import StateDictMismatch
    mismatch = StateDictMismatch(
        [f'm{i}' for i in range(12)], ['u0', 'u1', 'u2'],
        [('x.weight', (64, 3), (32, 3))])
    assert mismatch.describe() == (
        'missing keys (12): m0, m1, m2, m3, m4, ...; unexpected keys (3): '
        'u0, u1, u2; shape mismatch (1): x.weight checkpoint (64, 3) model '
        '(32, 3)')
    assert not StateDictMismatch([], [], [])
