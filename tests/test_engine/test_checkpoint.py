"""Tests of vosbench.engine.checkpoint: weights_only loading that still
reads mmengine runner checkpoints, and refuses pickled code."""
import collections
import datetime
import fractions
import os
import os.path as osp
import pickle
import pickletools

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
from torch.utils.data import Dataset

from vosbench.engine import (RUNNER_CHECKPOINT_GLOBALS,
                             UnsafeCheckpointError,
                             install_safe_checkpoint_loader,
                             load_local_checkpoint)


@pytest.fixture(autouse=True)
def safe_loader():
    """mmengine's entry points load through vosbench's loader, as the tools
    install it (importing vosbench changes no global state, so without this
    the tests here passed only after another test had installed it)."""
    install_safe_checkpoint_loader()


class _Payload:
    """Creates a marker file when constructed: its pickle runs code."""

    def __init__(self, marker):
        with open(marker, 'w') as f:
            f.write('executed')

    def __reduce__(self):
        return (_Payload, (self.marker, ))


def _payload(marker):
    obj = object.__new__(_Payload)
    obj.marker = marker
    return obj


class _SystemCall:
    """The classic: unpickling calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


# ---------------------------------------------------------------------------
# load_local_checkpoint
# ---------------------------------------------------------------------------
def test_plain_state_dict_loads(tmp_path):
    state = collections.OrderedDict(
        weight=torch.randn(3, 4), bias=torch.arange(3),
        step=torch.tensor(7))
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=1, name='x')), path)
    loaded = load_local_checkpoint(path)
    assert loaded['meta'] == dict(epoch=1, name='x')
    for key, value in state.items():
        assert torch.equal(loaded['state_dict'][key], value)
    # through mmengine's CheckpointLoader (local paths use our loader)
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert torch.equal(loaded['state_dict']['weight'], state['weight'])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('zipfile', [True, False])
def test_pickled_class_is_refused_and_not_executed(tmp_path, zipfile):
    marker = str(tmp_path / 'marker')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={'w': torch.zeros(2)},
                    meta=dict(payload=_payload(marker))), path,
               _use_new_zipfile_serialization=zipfile)
    assert not osp.exists(marker)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_local_checkpoint(path)
    assert '_Payload' in str(info.value)
    assert path in str(info.value)
    assert isinstance(info.value, pickle.UnpicklingError)
    # mmengine's entry points refuse it too
    with pytest.raises(UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(torch.nn.Linear(2, 2), path)
    assert not osp.exists(marker)


def test_os_system_is_refused_and_not_executed(tmp_path):
    marker = str(tmp_path / 'marker')
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'x': _SystemCall(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_local_checkpoint(path)
    assert 'system' in str(info.value)
    assert not osp.exists(marker)


@pytest.mark.parametrize('obj,name', [
    (fractions.Fraction(1, 3), 'fractions.Fraction'),
    (datetime.date(2020, 1, 1), 'datetime.date'),
])
def test_non_allowlisted_standard_type_is_refused(tmp_path, obj, name):
    """Harmless standard types outside torch's and our allowlist are
    refused too (collections.Counter, say, is allowed by torch itself)."""
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={}, meta=dict(value=obj)), path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_local_checkpoint(path)
    assert name in str(info.value)


# ---------------------------------------------------------------------------
# HistoryBuffer
# ---------------------------------------------------------------------------
def _globals_in_pickle(data):
    """``module name`` strings referenced by GLOBAL / STACK_GLOBAL."""
    names, strings = [], []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE'):
            strings.append(arg)
        elif opcode.name == 'STACK_GLOBAL':
            names.append(f'{strings[-2]} {strings[-1]}')
        elif opcode.name == 'GLOBAL':
            names.append(arg)
    return names


def test_history_buffer_pickles_without_getattr(tmp_path):
    install_safe_checkpoint_loader()  # idempotent
    buffer = HistoryBuffer()
    for value in (1.0, 2.0, 4.0):
        buffer.update(value)
    data = pickle.dumps(buffer, protocol=2)
    names = _globals_in_pickle(data)
    assert not any('getattr' in n for n in names), names
    restored = pickle.loads(data)
    assert restored.mean() == pytest.approx(7 / 3)
    assert restored.current() == 4.0
    assert restored.max() == 4.0
    # and it loads with weights_only and the allowlist
    path = str(tmp_path / 'buffer.pth')
    torch.save(dict(buffer=buffer), path)
    loaded = load_local_checkpoint(path)['buffer']
    assert isinstance(loaded, HistoryBuffer)
    assert loaded.mean() == pytest.approx(7 / 3)


# ---------------------------------------------------------------------------
# a real mmengine runner checkpoint
# ---------------------------------------------------------------------------
class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - data_samples) ** 2).mean())
        return out


class ToyDataset(Dataset):
    METAINFO = dict()

    def __len__(self):
        return 8

    def __getitem__(self, index):
        x = torch.tensor([float(index), 1.0])
        return dict(inputs=x, data_samples=torch.tensor(2.0 * index))


def _runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        default_scope='vosbench',
        randomness=dict(seed=0),
        experiment_name=f'toy_{osp.basename(str(work_dir))}_{max_iters}',
        **kwargs)


def test_runner_checkpoint_saves_and_resumes(tmp_path):
    runner = _runner(tmp_path / 'first', max_iters=2)
    runner.train()
    path = str(tmp_path / 'first' / 'iter_2.pth')
    assert osp.isfile(path)
    trained = {k: v.clone() for k, v in runner.model.state_dict().items()}

    # loads with plain torch weights_only and only our allowlist
    with torch.serialization.safe_globals(RUNNER_CHECKPOINT_GLOBALS):
        ckpt = torch.load(path, weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert 'message_hub' in ckpt and 'optimizer' in ckpt
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)
    for key, value in trained.items():
        assert torch.equal(ckpt['state_dict'][key], value)

    # load_checkpoint into a fresh model
    model = ToyModel()
    load_checkpoint(model, path, map_location='cpu', strict=True)
    assert torch.equal(model.linear.weight, trained['linear.weight'])

    # resume: iteration, weights, optimizer state and logs come back
    resumed = _runner(tmp_path / 'second', max_iters=3, resume=True,
                      load_from=path)
    resumed.load_or_resume()
    assert resumed.iter == 2
    assert torch.equal(resumed.model.linear.weight, trained['linear.weight'])
    momentum = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert momentum and all('momentum_buffer' in s for s in momentum.values())
    history = resumed.message_hub.get_scalar('train/loss')
    assert len(history.data[0]) == 2
    assert history.mean() == pytest.approx(
        ckpt['message_hub']['log_scalars']['train/loss'].mean())
    resumed.train()
    assert resumed.iter == 3
    assert not torch.equal(resumed.model.linear.weight,
                           trained['linear.weight'])
