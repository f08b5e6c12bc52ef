"""Tests of MaxSkipScheduleHook and of the shared ``max_skip`` it sets,
including a real DataLoader worker process that must see the change."""
import copy
import multiprocessing
import os
import os.path as osp
import pickle
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset, RepeatDataset
from mmengine.logging import MessageHub
from torch.utils.data import DataLoader

import vosbench.datasets  # noqa: F401  (registers the modules)
from vosbench.datasets import DAVISDataset, RatioConcatDataset, SharedInt
from vosbench.engine.hooks import MaxSkipScheduleHook
from vosbench.registry import HOOKS
from vosbench.utils.mask_io import write_mask

NUM_FRAMES = 40


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
    """One 40-frame video of 8x8 pixels in the DAVIS layout."""
    root = str(tmp_path_factory.mktemp('davis_skip'))
    labels = np.zeros((8, 8), np.uint8)
    labels[2:6, 2:6] = 1
    for t in range(NUM_FRAMES):
        path = osp.join(root, 'JPEGImages/480p/vid', f'{t:05d}.jpg')
        os.makedirs(osp.dirname(path), exist_ok=True)
        cv2.imwrite(path, np.full((8, 8, 3), t, np.uint8))
        write_mask(osp.join(root, 'Annotations/480p/vid', f'{t:05d}.png'),
                   labels)
    os.makedirs(osp.join(root, 'ImageSets/2017'))
    with open(osp.join(root, 'ImageSets/2017/train.txt'), 'w') as f:
        f.write('vid\n')
    return root


class RecordingDAVIS(DAVISDataset):
    """Reports the max_skip the process that prepared a sample saw."""

    def prepare_data(self, idx):
        results = super().prepare_data(idx)
        results['seen_max_skip'] = self.max_skip
        return results


class PlainAttributeDAVIS(RecordingDAVIS):
    """max_skip as a plain attribute (not shared with workers)."""

    max_skip = 5


def identity(batch):
    return batch


class FakeLogger:

    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, msg):
        self.infos.append(msg)

    def warning(self, msg):
        self.warnings.append(msg)


def fake_runner(dataset, max_iters=100, num_workers=0):
    loader = SimpleNamespace(dataset=dataset, num_workers=num_workers)
    return SimpleNamespace(iter=0, max_iters=max_iters,
                           train_dataloader=loader, logger=FakeLogger(),
                           message_hub=MessageHub.get_instance(
                               'test_max_skip_schedule_hook'))


# ---------------------------------------------------------------------------
# schedule values
# ---------------------------------------------------------------------------
def test_step_schedule():
    hook = HOOKS.build(dict(type='MaxSkipScheduleHook',
                            milestones=[100, 200, 300],
                            max_skips=[5, 10, 25, 5]))
    assert isinstance(hook, MaxSkipScheduleHook)
    values = {it: hook.value_at(it) for it in
              (0, 99, 100, 199, 200, 299, 300, 10**6)}
    assert values == {0: 5, 99: 5, 100: 10, 199: 10, 200: 25, 299: 25,
                      300: 5, 10**6: 5}
    fractions = MaxSkipScheduleHook(milestones=[0.5, 0.9],
                                    max_skips=[5, 25, 5], by_fraction=True)
    assert [fractions.value_at(i, 1000) for i in (0, 499, 500, 899, 900)] \
        == [5, 5, 25, 25, 5]


def test_linear_schedule_5_25_5():
    hook = MaxSkipScheduleHook(
        schedule=[(0, 5), (0.5, 25), (0.9, 25), (1.0, 5)], by_fraction=True)
    max_iters = 1000
    assert hook.value_at(0, max_iters) == 5
    assert hook.value_at(250, max_iters) == 15
    assert hook.value_at(500, max_iters) == 25
    assert hook.value_at(700, max_iters) == 25
    assert hook.value_at(950, max_iters) == 15
    assert hook.value_at(999, max_iters) == 5
    assert hook.value_at(5000, max_iters) == 5
    values = [hook.value_at(i, max_iters) for i in range(max_iters)]
    assert max(values) == 25 and min(values) == 5
    assert all(abs(b - a) <= 1 for a, b in zip(values, values[1:]))
    in_iters = MaxSkipScheduleHook(schedule=[(10, 2), (20, 12)])
    assert [in_iters.value_at(i) for i in (0, 10, 15, 20, 30)] == \
        [2, 2, 7, 12, 12]


def test_schedule_validation():
    with pytest.raises(ValueError, match='either'):
        MaxSkipScheduleHook()
    with pytest.raises(ValueError, match='max_skips'):
        MaxSkipScheduleHook(milestones=[10], max_skips=[5])
    with pytest.raises(ValueError, match='by_fraction'):
        MaxSkipScheduleHook(schedule=[(0, 5), (0.5, 25)])
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        MaxSkipScheduleHook(schedule=[(0, 5), (50, 25)], by_fraction=True)
    with pytest.raises(ValueError, match='integers >= 1'):
        MaxSkipScheduleHook(milestones=[10], max_skips=[5, 0])
    with pytest.raises(ValueError, match='increase'):
        MaxSkipScheduleHook(milestones=[20, 10], max_skips=[1, 2, 3])


# ---------------------------------------------------------------------------
# setting datasets
# ---------------------------------------------------------------------------
def test_hook_sets_every_wrapped_dataset(davis_root):
    datasets = [DAVISDataset(davis_root, max_skip=3) for _ in range(3)]
    # mmengine's wrappers do not nest; RatioConcatDataset takes them
    top = RatioConcatDataset([ConcatDataset(datasets[:2]),
                              RepeatDataset(datasets[2], times=2)],
                             ratios=[1, 1], length=10)
    runner = fake_runner(top, max_iters=100)
    hook = MaxSkipScheduleHook(milestones=[50], max_skips=[4, 9])
    hook.before_train(runner)
    assert [d.max_skip for d in datasets] == [4, 4, 4]
    # configured 3, schedule starts at 4: prefetched batches differ
    assert any('[3] differs' in m for m in runner.logger.warnings)
    runner.iter = 49
    hook.before_train_iter(runner, 49)
    assert [d.max_skip for d in datasets] == [4, 4, 4]
    runner.iter = 50
    hook.before_train_iter(runner, 50)
    assert [d.max_skip for d in datasets] == [9, 9, 9]
    assert any('4 -> 9' in msg for msg in runner.logger.infos)
    assert runner.message_hub.get_scalar('train/max_skip').current() == 9
    # clips drawn now have gaps up to 9, and some above the old 4
    np.random.seed(0)
    gaps = np.concatenate([np.diff(datasets[0].sample_clip_indices(
        NUM_FRAMES)) for _ in range(200)])
    assert gaps.max() == 9 and gaps.min() >= 1

    empty = fake_runner(SimpleNamespace())
    MaxSkipScheduleHook(milestones=[], max_skips=[3]).before_train(empty)
    assert any('no training dataset' in m for m in empty.logger.warnings)


def test_shared_value_semantics(davis_root):
    ds = DAVISDataset(davis_root, max_skip=3)
    assert ds.max_skip == 3
    ds.max_skip = 7
    assert ds.max_skip == 7
    with pytest.raises(ValueError, match='max_skip'):
        ds.max_skip = 0
    # copies outside process start-up are independent
    clone = copy.deepcopy(ds)
    clone.max_skip = 2
    assert ds.max_skip == 7 and clone.max_skip == 2
    restored = pickle.loads(pickle.dumps(SharedInt(5)))
    assert restored.value == 5


def test_shared_value_reaches_a_spawned_process():
    shared = SharedInt(3)
    process = multiprocessing.get_context('spawn').Process(
        target=setattr, args=(shared, 'value', 42))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert shared.value == 42


def _draw(iterator, count):
    return [next(iterator) for _ in range(count)]


def test_dataloader_worker_sees_the_schedule(davis_root):
    ds = RecordingDAVIS(davis_root, max_skip=1, samples_per_video=200)
    plain = PlainAttributeDAVIS(davis_root, max_skip=1, samples_per_video=200)
    hook = MaxSkipScheduleHook(milestones=[10], max_skips=[1, 20])
    runner = fake_runner(ds, max_iters=100, num_workers=1)
    plain_runner = fake_runner(plain, max_iters=100, num_workers=1)
    for r in (runner, plain_runner):
        hook.before_train(r)  # max_skip 1, as configured
    loaders = [DataLoader(d, batch_size=None, num_workers=1,
                          persistent_workers=True, prefetch_factor=2,
                          collate_fn=identity) for d in (ds, plain)]
    iterators = [iter(loader) for loader in loaders]
    try:
        for it in iterators:
            for sample in _draw(it, 3):
                assert sample['seen_max_skip'] == 1
                assert np.diff(sample['clip_indices']).tolist() == [1, 1]
        for r in (runner, plain_runner):
            r.iter = 10
            hook.before_train_iter(r, 10)
        assert ds.max_skip == plain.max_skip == 20
        # after the batches prefetched with the old value, the worker
        # draws with the new one
        later = _draw(iterators[0], 8)[-4:]
        assert all(s['seen_max_skip'] == 20 for s in later)
        gaps = np.concatenate([np.diff(s['clip_indices']) for s in later])
        assert gaps.max() > 1 and gaps.max() <= 20
        # a plain attribute never reaches the worker, and the hook says so
        assert all(s['seen_max_skip'] == 1
                   for s in _draw(iterators[1], 8))
        assert any('plain attribute' in m
                   for m in plain_runner.logger.warnings)
        assert not runner.logger.warnings
    finally:
        for it in iterators:
            it._shutdown_workers()
