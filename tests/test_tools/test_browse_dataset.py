"""tools/analysis/browse_dataset.py on generated synthetic data: one image
per sample, the clip's frames side by side, for each stage."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from tool_loading import load_tool
from vosbench.datasets.synthetic import (generate_synthetic_davis,
                                         generate_synthetic_static)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAIN = osp.join(REPO, 'configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py')
PRETRAIN = osp.join(
    REPO, 'configs/stm/stm_r18-tiny_1xb4-1000iter_synthetic-static-'
    'pretrain.py')
GAP = 4  # white pixels between frames (VOSVisualizer.draw_clip)

browse = load_tool('tools/analysis/browse_dataset.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('browse_data'))
    generate_synthetic_davis(root, num_train=2, num_val=2, num_frames=6,
                             height=64, width=96, seed=0, progress=False)
    generate_synthetic_static(osp.join(root, 'static'), num_images=3,
                              height=64, width=96, seed=0, progress=False)
    return root


def options(root, train_root=None):
    return ['--cfg-options',
            f'train_dataloader.dataset.data_root={train_root or root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


def read_rgb(path):
    image = cv2.imread(path)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def white_gaps(image, num_frames):
    """Whether the columns between the frames are white (the middle two
    of each gap: JPEG blurs the edges)."""
    width = (image.shape[1] - (num_frames - 1) * GAP) // num_frames
    return all((image[:, k * (width + GAP) - 3:k * (width + GAP) - 1]
                >= 225).all() for k in range(1, num_frames))


def test_main_stage_clips(tmp_path, data_root):
    out = str(tmp_path / 'main')
    written = browse.main([MAIN, '--out', out, '--n', '3', '--seed', '1',
                           *options(data_root)])
    assert len(written) == 3 and sorted(os.listdir(out)) == sorted(
        osp.basename(p) for p in written)
    for path in written:
        image = read_rgb(path)
        # 3 frames of the 128x128 training crop, side by side
        assert image.shape == (128, 3 * 128 + 2 * GAP, 3)
        assert white_gaps(image, 3)
        assert 'synth_train_' in osp.basename(path)


def test_pretrain_stage_clips_from_still_images(tmp_path, data_root):
    out = str(tmp_path / 'pretrain')
    written = browse.main([PRETRAIN, '--out', out, '--n', '5', '--stage',
                           'pretrain',
                           *options(data_root, osp.join(data_root, 'static'))])
    assert len(written) == 3  # only 3 still images
    for path in written:
        assert read_rgb(path).shape == (128, 3 * 128 + 2 * GAP, 3)
    with pytest.raises(SystemExit, match='trains the pretrain stage'):
        browse.main([PRETRAIN, '--out', out, '--stage', 'main',
                     *options(data_root, osp.join(data_root, 'static'))])
    with pytest.raises(SystemExit, match='has no StaticToClip'):
        browse.main([MAIN, '--out', out, '--stage', 'pretrain',
                     *options(data_root)])


def test_val_videos_with_ground_truth(tmp_path, data_root):
    written = browse.main([MAIN, '--out', str(tmp_path / 'val'), '--split',
                           'val', '--n', '2', *options(data_root)])
    assert len(written) == 2
    for path in written:
        image = read_rgb(path)
        # 4 evenly spaced frames of 64x96 with their masks
        assert image.shape == (64, 4 * 96 + 3 * GAP, 3)
        assert white_gaps(image, 4)


def test_finetune_lucid_clips_have_the_object(tmp_path, data_root):
    written = browse.main([MAIN, '--out', str(tmp_path / 'ft'), '--stage',
                           'finetune', '--n', '1', '--no-ids',
                           *options(data_root)])
    assert len(written) == 1
    image = read_rgb(written[0])
    assert image.shape == (64, 3 * 96 + 2 * GAP, 3)
    # the object is drawn in each dreamed frame: its palette-coloured
    # contour is there (DAVIS colour 1 is pure red, 128, 0, 0)
    for k in range(3):
        tile = image[:, k * (96 + GAP):k * (96 + GAP) + 96].astype(int)
        reddish = (tile[..., 0] > 100) & (tile[..., 1] < 60) & \
            (tile[..., 2] < 60)
        assert reddish.sum() > 10, k


def test_bad_arguments(tmp_path, data_root):
    with pytest.raises(SystemExit):
        browse.main([MAIN, '--out', str(tmp_path), '--n', '0'])
    with pytest.raises(SystemExit, match='split file not found'):
        browse.main([MAIN, '--out', str(tmp_path), '--cfg-options',
                     f'train_dataloader.dataset.data_root={tmp_path}/none'])
    assert not np.any([f.endswith('.jpg') for f in os.listdir(tmp_path)])
