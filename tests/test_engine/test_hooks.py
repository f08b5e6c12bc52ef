"""Tests of the test-time hooks, called directly with fake outputs."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.dataset import DefaultSampler

from vosbench.datasets.frame_sources import ImageFrames
from vosbench.engine.hooks import PredictionWriterHook, VOSVisualizationHook
from vosbench.registry import HOOKS
from vosbench.utils.mask_io import DAVIS_PALETTE, read_mask
from vosbench.visualization import VOSVisualizer


def fake_runner(sampler=None, batch_size=1, visualizer=None):
    loader = SimpleNamespace(sampler=sampler, batch_size=batch_size)
    if visualizer is None:
        visualizer = VOSVisualizer(name='test_hooks')
    return SimpleNamespace(test_loop=SimpleNamespace(dataloader=loader),
                           val_loop=SimpleNamespace(dataloader=loader),
                           visualizer=visualizer)


def fake_result(seq_name, num_frames=3, height=32, width=32, frame_dir=None):
    labels = np.zeros((num_frames, height, width), np.uint8)
    for t in range(num_frames):
        labels[t, 2:6, t:t + 4] = 1
        labels[t, 8:16, 8:16] = 3
    result = dict(seq_name=seq_name,
                  frame_names=[f'{t:05d}' for t in range(num_frames)],
                  pred_labels=labels)
    if frame_dir is not None:
        os.makedirs(frame_dir, exist_ok=True)
        paths = []
        for t in range(num_frames):
            path = osp.join(frame_dir, f'{t:05d}.jpg')
            cv2.imwrite(path, np.full((height, width, 3), 128, np.uint8))
            paths.append(path)
        result['frame_paths'] = paths
        result['frames'] = ImageFrames(paths)
    return result


def test_prediction_writer_writes_palette_pngs(tmp_path):
    hook = HOOKS.build(dict(type='PredictionWriterHook',
                            out_dir=str(tmp_path / 'out')))
    assert isinstance(hook, PredictionWriterHook)
    results = [fake_result('a'), fake_result('b', num_frames=2)]
    hook.after_test_iter(fake_runner(), 0, None, results)
    for result in results:
        seq_dir = tmp_path / 'out' / result['seq_name']
        names = sorted(os.listdir(seq_dir))
        assert names == [f'{n}.png' for n in result['frame_names']]
        for name, labels in zip(result['frame_names'],
                                result['pred_labels']):
            np.testing.assert_array_equal(
                read_mask(str(seq_dir / f'{name}.png')), labels)


def test_prediction_writer_in_validation_only_when_asked(tmp_path):
    off = PredictionWriterHook(str(tmp_path / 'off'))
    off.after_val_iter(fake_runner(), 0, None, [fake_result('a')])
    assert not osp.exists(tmp_path / 'off')
    on = PredictionWriterHook(str(tmp_path / 'on'), write_in_val=True)
    on.after_val_iter(fake_runner(), 0, None, [fake_result('a')])
    assert len(os.listdir(tmp_path / 'on' / 'a')) == 3
    # no outputs: nothing happens
    on.after_test_iter(fake_runner(), 0, None, None)


def test_prediction_writer_skips_sampler_padding(tmp_path):
    """With 3 videos on 2 ranks DefaultSampler repeats video 0 on rank 1;
    that copy is not written again."""
    sampler = DefaultSampler(list(range(3)), shuffle=False)
    sampler.rank, sampler.world_size = 1, 2
    hook = PredictionWriterHook(str(tmp_path / 'out'))
    # rank 1 gets padded positions 1 and 3 (= video 0 again)
    hook.after_test_iter(fake_runner(sampler, batch_size=2), 0, None,
                         [fake_result('v1'), fake_result('v0-again')])
    assert sorted(os.listdir(tmp_path / 'out')) == ['v1']


@pytest.mark.parametrize('interval,expected', [(1, [0, 1, 2, 3]),
                                               (2, [0, 2])])
def test_visualization_hook_writes_overlays(tmp_path, interval, expected):
    result = fake_result('a', num_frames=4,
                         frame_dir=str(tmp_path / 'frames'))
    hook = HOOKS.build(dict(type='VOSVisualizationHook',
                            show_dir=str(tmp_path / 'show'),
                            interval=interval))
    assert isinstance(hook, VOSVisualizationHook)
    hook.after_test_iter(fake_runner(), 0, None, [result])
    names = sorted(os.listdir(tmp_path / 'show' / 'a'))
    assert names == [f'{t:05d}.jpg' for t in expected]
    for t in expected:
        image = cv2.imread(str(tmp_path / 'show' / 'a' / f'{t:05d}.jpg'))
        assert image.shape == (32, 32, 3)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(int)
        # background (the JPEG blocks without objects) keeps the frame's
        # grey; object 3 (inside, away from its contour) is blended towards
        # its palette colour
        assert np.abs(rgb[20:] - 128).max() <= 12
        blend = 0.5 * 128 + 0.5 * DAVIS_PALETTE[3].astype(int)
        assert np.abs(rgb[10:14, 10:14] - blend).max() <= 25
        assert np.abs(blend - 128).max() >= 60


class _ListLogger:

    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)


def test_video_progress_logs_every_video_with_eta():
    from vosbench.engine.hooks import VideoProgressHook
    loader = [None] * 3  # three videos
    runner = SimpleNamespace(
        logger=_ListLogger(),
        test_loop=SimpleNamespace(dataloader=loader),
        val_loop=SimpleNamespace(dataloader=loader))
    hook = HOOKS.build(dict(type='VideoProgressHook'))
    assert isinstance(hook, VideoProgressHook)
    hook.before_test_epoch(runner)
    for i, name in enumerate(['a', 'b', 'c']):
        hook.after_test_iter(runner, i, None,
                             [fake_result(name, num_frames=4)])
    assert len(runner.logger.lines) == 3
    assert runner.logger.lines[0].startswith('test video 1/3 a: 4 frames')
    assert 'min left' in runner.logger.lines[0]
    assert runner.logger.lines[2].startswith('test video 3/3 c')
    assert '0.0 min left' in runner.logger.lines[2]
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, None, [fake_result('v', num_frames=2)])
    assert runner.logger.lines[-1].startswith('val video 1/3 v: 2 frames')
