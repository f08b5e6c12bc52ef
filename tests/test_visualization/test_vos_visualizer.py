"""VOSVisualizer, VOSLocalVisBackend and VOSVisualizationHook: the same
overlays in --show-dir files and in the vis backends (TensorBoard)."""
import glob
import json
import os.path as osp
import uuid
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import BaseLoop
from mmengine.visualization import LocalVisBackend

from tool_loading import load_tool
from tool_run_helpers import write_train_config
from vosbench.datasets.frame_sources import ImageFrames
from vosbench.registry import HOOKS, VISUALIZERS
from vosbench.utils.mask_io import DAVIS_PALETTE, write_mask
from vosbench.visualization import VOSVisualizer

GREY = 128
TENSORBOARD_RUNTIME = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'default_runtime_tensorboard.py')


def unique(prefix):
    return f'{prefix}_{uuid.uuid4().hex}'


def labels_with_square(top, left, label=1, size=8, shape=(24, 32)):
    labels = np.zeros(shape, np.uint8)
    labels[top:top + size, left:left + size] = label
    return labels


def blend_of(label):
    return 0.5 * GREY + 0.5 * DAVIS_PALETTE[label].astype(float)


def test_draw_frame_prediction_alone_and_beside_ground_truth():
    vis = VISUALIZERS.build(dict(type='VOSVisualizer', name=unique('v')))
    assert isinstance(vis, VOSVisualizer)
    frame = np.full((24, 32, 3), GREY, np.uint8)
    pred = labels_with_square(4, 4, label=2)
    gt = labels_with_square(12, 20, label=1)
    alone = vis.draw_frame(frame, pred_labels=pred)
    assert alone.shape == (24, 32, 3)
    np.testing.assert_allclose(alone[6:10, 6:10], np.broadcast_to(
        blend_of(2), (4, 4, 3)), atol=1)
    assert (alone[18:, :12] == GREY).all()
    both = vis.draw_frame(frame, pred_labels=pred, gt_labels=gt)
    assert both.shape == (24, 64, 3)
    left, right = both[:, :32], both[:, 32:]
    np.testing.assert_allclose(left[14:18, 22:26], np.broadcast_to(
        blend_of(1), (4, 4, 3)), atol=1)   # ground truth on the left
    np.testing.assert_array_equal(right, alone)  # prediction on the right
    with pytest.raises(ValueError, match=r'frame is \(24, 32\)'):
        vis.draw_frame(frame, pred_labels=np.zeros((8, 8), np.uint8))


def test_draw_clip_puts_frames_side_by_side_with_white_gaps():
    vis = VOSVisualizer(name=unique('clip'))
    frames = [np.full((24, 32, 3), GREY, np.uint8)] * 3
    labels = [labels_with_square(2 + 4 * t, 2 + 6 * t, label=t + 1)
              for t in range(3)]
    clip = vis.draw_clip(frames, labels, captions=['a', 'b', 'c'], gap=4)
    assert clip.shape == (24, 3 * 32 + 2 * 4, 3)
    assert (clip[:, 32:36] == 255).all() and (clip[:, 68:72] == 255).all()
    for t in range(3):
        tile = clip[:, t * 36:t * 36 + 32]
        # inside the object of frame t (away from its contour): its colour
        y, x = 2 + 4 * t + 3, 2 + 6 * t + 3
        np.testing.assert_allclose(tile[y, x], blend_of(t + 1), atol=1)
        assert (tile[20:, 28:] == GREY).all()  # background untouched
    with pytest.raises(ValueError, match='as many label maps as frames'):
        vis.draw_clip(frames, labels[:2])


def test_names_with_slashes_need_the_vos_local_backend(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    image[2:4, 2:4] = (255, 0, 0)
    plain = VOSVisualizer(name=unique('plain'),
                          vis_backends=[dict(type='LocalVisBackend')],
                          save_dir=str(tmp_path / 'plain'))
    assert isinstance(plain._vis_backends['LocalVisBackend'],
                      LocalVisBackend)
    with pytest.raises(ValueError, match='VOSLocalVisBackend'):
        plain.add_image('val/bear/00005', image, step=3)
    vis = VOSVisualizer(name=unique('vos'),
                        vis_backends=[dict(type='VOSLocalVisBackend')],
                        save_dir=str(tmp_path / 'vos'))
    vis.add_image('val/bear/00005', image, step=3)
    written = cv2.imread(str(tmp_path / 'vos' / 'vis_data' / 'vis_image' / 'val' /
                             'bear' / '00005_3.png'))
    np.testing.assert_array_equal(cv2.cvtColor(written, cv2.COLOR_BGR2RGB),
                                  image)


def fake_result(tmp_path, with_gt):
    frames, gt_paths = [], []
    (tmp_path / 'frames').mkdir()
    for t in range(4):
        path = str(tmp_path / 'frames' / f'{t:05d}.jpg')
        cv2.imwrite(path, np.full((24, 32, 3), GREY, np.uint8))
        frames.append(path)
        gt = str(tmp_path / 'gt' / f'{t:05d}.png')
        write_mask(gt, labels_with_square(12, 20))
        gt_paths.append(gt if with_gt and t != 2 else None)
    return dict(seq_name='a', frame_names=[f'{t:05d}' for t in range(4)],
                frames=ImageFrames(frames), gt_mask_paths=gt_paths,
                pred_labels=np.stack([labels_with_square(4, 4)] * 4))


class TrainedLoop(BaseLoop):
    """A train loop that has run ``iteration`` iterations."""

    def __init__(self, iteration):
        self.iter = iteration

    def run(self):
        pass


def fake_runner(visualizer, iteration=None):
    """A runner in training at ``iteration``, or (None) outside training:
    no train loop built."""
    loader = SimpleNamespace(sampler=None, batch_size=1)
    train_loop = None if iteration is None else TrainedLoop(iteration)
    return SimpleNamespace(test_loop=SimpleNamespace(dataloader=loader),
                           val_loop=SimpleNamespace(dataloader=loader),
                           visualizer=visualizer, _train_loop=train_loop)


def test_hook_sends_overlays_to_the_backends_in_val_only_when_asked(
        tmp_path):
    vis = VOSVisualizer(name=unique('hook'),
                        vis_backends=[dict(type='VOSLocalVisBackend')],
                        save_dir=str(tmp_path / 'vis'))
    result = fake_result(tmp_path, with_gt=True)
    test_only = HOOKS.build(dict(type='VOSVisualizationHook',
                                 to_backends=True, interval=2))
    test_only.after_val_iter(fake_runner(vis, 7), 0, None, [result])
    assert not glob.glob(str(tmp_path / 'vis' / '**' / '*.png'),
                         recursive=True)
    test_only.after_test_iter(fake_runner(vis), 0, None, [result])
    images = tmp_path / 'vis' / 'vis_data' / 'vis_image'
    assert sorted(p.name for p in (images / 'test' / 'a').iterdir()) == [
        '00000_0.png', '00002_0.png']
    in_val = HOOKS.build(dict(type='VOSVisualizationHook', to_backends=True,
                              in_val=True, draw_gt=True,
                              show_dir=str(tmp_path / 'show')))
    in_val.after_val_iter(fake_runner(vis, 7), 0, None, [result])
    names = sorted(p.name for p in (images / 'val' / 'a').iterdir())
    assert names == [f'{t:05d}_7.png' for t in range(4)]
    # ground truth | prediction where the frame has a mask (not frame 2)
    widths = [cv2.imread(str(images / 'val' / 'a' / n)).shape[1]
              for n in names]
    assert widths == [64, 64, 32, 64]
    shown = cv2.imread(str(tmp_path / 'show' / 'a' / '00000.jpg'))
    assert shown.shape == (24, 64, 3)


def test_hook_errors():
    with pytest.raises(ValueError, match='show_dir, or to_backends'):
        HOOKS.build(dict(type='VOSVisualizationHook'))
    hook = HOOKS.build(dict(type='VOSVisualizationHook', to_backends=True))
    runner = fake_runner(SimpleNamespace())  # not a VOSVisualizer
    with pytest.raises(TypeError, match="type='VOSVisualizer'"):
        hook.after_test_iter(runner, 0, None, [])


@pytest.fixture(scope='module')
def trained_with_tensorboard_config(tmp_path_factory):
    """Two iterations of the tiny STM and one validation, with the vis
    backends and hooks of configs/_base_/default_runtime_tensorboard.py
    (TensorBoard itself only where it is installed)."""
    from vosbench.datasets.synthetic import generate_synthetic_davis
    tmp = tmp_path_factory.mktemp('tensorboard')
    root = str(tmp / 'data')
    generate_synthetic_davis(root, num_train=1, num_val=1, num_frames=3,
                             height=32, width=48, seed=0, progress=False)
    try:
        import tensorboard  # noqa: F401
        has_tensorboard = True
    except ImportError:
        has_tensorboard = False
    train_config = write_train_config(tmp, 'tb_base', root, max_iters=2)
    # what default_runtime_tensorboard.py sets, in a config derived from an
    # existing one (as its header says)
    runtime = Config.fromfile(TENSORBOARD_RUNTIME)
    backends = runtime.visualizer.vis_backends
    if not has_tensorboard:
        backends = [b for b in backends if b.type != 'TensorboardVisBackend']
    config = str(tmp / 'tb_train.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = [{train_config!r}]
visualizer = dict(name={unique('tb')!r}, vis_backends={backends!r})
custom_hooks = {runtime.custom_hooks!r}
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1))
''')
    work = str(tmp / 'work')
    load_tool('tools/train.py', 'vosbench_tool_train_tb').main(
        [config, '--work-dir', work])
    run_dir = [d for d in glob.glob(osp.join(work, '2*')) if osp.isdir(d)]
    assert len(run_dir) == 1
    return run_dir[0], has_tensorboard


def test_losses_jf_and_overlays_reach_the_vis_backends(
        trained_with_tensorboard_config):
    run_dir, _ = trained_with_tensorboard_config
    with open(osp.join(run_dir, 'vis_data', 'scalars.json')) as f:
        lines = [json.loads(line) for line in f]
    assert [line['step'] for line in lines if 'loss' in line] == [1, 2]
    assert any('davis/J&F-Mean' in line for line in lines)
    # the snippet's hook: every 10th frame of each val video, ground truth |
    # prediction, at the iteration of the validation
    images = glob.glob(osp.join(run_dir, 'vis_data', 'vis_image', 'val',
                                '*', '*.png'))
    assert [osp.basename(p) for p in images] == ['00000_2.png']
    assert cv2.imread(images[0]).shape == (32, 96, 3)


def test_tensorboard_gets_scalars_and_images(trained_with_tensorboard_config):
    run_dir, has_tensorboard = trained_with_tensorboard_config
    if not has_tensorboard:
        pytest.skip('tensorboard is not installed (optional: pip install '
                    'tensorboard)')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = glob.glob(osp.join(run_dir, 'vis_data', 'events.out.*'))
    assert len(events) == 1
    acc = EventAccumulator(events[0], size_guidance={'images': 0})
    acc.Reload()
    tags = acc.Tags()
    assert {'loss', 'davis/J&F-Mean'} <= set(tags['scalars'])
    assert [t for t in tags['images'] if t.startswith('val/')] == [
        f'val/{osp.basename(osp.dirname(p))}/00000' for p in glob.glob(
            osp.join(run_dir, 'vis_data', 'vis_image', 'val', '*', '*'))]


def test_test_tool_show_dir_draws_with_the_default_visualizer(tmp_path):
    """tools/test.py --show-dir (as `make demo` runs it) with the
    VOSVisualizer of default_runtime.py: one overlay of every 2nd frame,
    the prediction blended onto the frame."""
    from tool_run_helpers import (save_tiny_checkpoint, write_synthetic_davis,
                                  write_test_config)
    data_root = write_synthetic_davis(str(tmp_path / 'data'), 1, 5)
    config = write_test_config(tmp_path, unique('show_dir'), data_root)
    checkpoint = save_tiny_checkpoint(str(tmp_path / 'tiny.pth'), seed=3)
    show = tmp_path / 'show'
    load_tool('tools/test.py', 'vosbench_tool_test_show').main(
        [config, checkpoint, '--show-dir', str(show), '--show-interval',
         '2', '--work-dir', str(tmp_path / 'work')])
    (seq_dir, ) = list(show.iterdir())
    assert sorted(p.name for p in seq_dir.iterdir()) == [
        '00000.jpg', '00002.jpg', '00004.jpg']
    frame = read_rgb_jpeg(osp.join(data_root, 'JPEGImages', '480p',
                                   seq_dir.name, '00000.jpg'))
    overlay = read_rgb_jpeg(str(seq_dir / '00000.jpg'))
    assert overlay.shape == frame.shape
    # frame 0 is the given mask: its objects are coloured on the frame
    assert np.abs(overlay.astype(int) - frame.astype(int)).max() > 40


def read_rgb_jpeg(path):
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
