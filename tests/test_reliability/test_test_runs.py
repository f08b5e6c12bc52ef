"""One bad video does not lose the run (issue 12, item 5).

Rows: "one corrupt ground-truth PNG in video 2 of 8: the run stops; videos
3-8 never run; no CSV for video 1; the predictions already computed for
video 2 are thrown away" and "``--out`` in a read-only place: detected only
after the first video has been segmented".

``tools/test.py`` tests with ``VOSTestLoop``: a video that fails is reported
with its file and reason, what was segmented of it is kept, the others go
on, the metric is written for the videos that completed and marks the failed
ones, and the exit status is 1 with a summary (``--fail-fast``: the first
failure stops the run). Before the first video the output folders are
proven writable and the dataset's layout is checked.

Data: 4 synthetic videos of 4 frames at 32x48 (video 2 of 4 plays the
row's video 2 of 8); the tiny STM with random weights.
"""
import csv
import json
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config

from vosbench.registry import MODELS

from tool_loading import load_tool
from tool_run_helpers import (TINY_MODEL, save_tiny_checkpoint,
                              write_synthetic_davis,
                              write_test_config as write_config)

VIDEOS = [f'synth_val_{i:04d}' for i in range(4)]

pytestmark = pytest.mark.usefixtures('one_torch_thread')

test_tool = load_tool('tools/test.py', 'vosbench_tool_test_runs')


@pytest.fixture(scope='module')
def clean_root(tmp_path_factory):
    return write_synthetic_davis(str(tmp_path_factory.mktemp('test_runs_data')),
                                 num_val=4, num_frames=4)


@pytest.fixture
def data_root(clean_root, tmp_path):
    root = str(tmp_path / 'data')
    shutil.copytree(clean_root, root)
    return root


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(
        str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth'), seed=6)


@pytest.fixture
def predicted(monkeypatch):
    """The videos the model is asked to segment, in order."""
    import vosbench.inference
    seen = []
    original = vosbench.inference.predict_videos

    def predict_videos(model, data_samples):
        seen.extend(s['seq_name'] for s in data_samples)
        return original(model, data_samples)
    monkeypatch.setattr(vosbench.inference, 'predict_videos',
                        predict_videos)
    return seen


def gt_path(root, video, frame):
    return osp.join(root, 'Annotations', '480p', video, f'{frame:05d}.png')


def frame_path(root, video, frame):
    return osp.join(root, 'JPEGImages', '480p', video, f'{frame:05d}.jpg')


def corrupt_png(path):
    """Keep the header (the size reads), cut the pixel data."""
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:data.find(b'IDAT') + 10])


def corrupt_jpeg(path):
    """Keep the header up to the scan (the size reads), drop the scan."""
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:data.find(b'\xff\xda')])


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


# ---------------------------------------------------------------------------
# the table row: a bad video
# ---------------------------------------------------------------------------
def test_a_corrupt_mask_in_video_2_does_not_lose_the_run(
        tmp_path, data_root, checkpoint, predicted):
    """Before: the error of video 2's ground truth stops the run; videos 3
    and 4 never run, no CSV is written and video 2's predictions are thrown
    away. Video 3 also has a corrupt frame: what was segmented before it is
    kept."""
    bad_gt = gt_path(data_root, VIDEOS[1], 2)
    bad_frame = frame_path(data_root, VIDEOS[2], 2)
    corrupt_png(bad_gt)
    corrupt_jpeg(bad_frame)
    out = tmp_path / 'out'
    config = write_config(tmp_path, 'bad_video_run', data_root)
    with pytest.raises(SystemExit) as info:
        test_tool.main([config, checkpoint, '--out', str(out),
                        '--work-dir', str(tmp_path / 'work')])
    summary = str(info.value.code)
    assert info.value.code != 0
    assert '2 of 4 video(s) FAILED' in summary
    assert bad_gt in summary and bad_frame in summary
    assert f'{VIDEOS[1]} (scoring' in summary
    assert f'{VIDEOS[2]} (segmenting, 2 frames segmented' in summary
    # every video ran, in order
    assert predicted == VIDEOS
    # predictions: all of video 2 (its scoring failed), video 3 up to its
    # bad frame
    expected = {VIDEOS[0]: 4, VIDEOS[1]: 4, VIDEOS[2]: 2, VIDEOS[3]: 4}
    for video, count in expected.items():
        assert sorted(os.listdir(out / video)) == \
            [f'{t:05d}.png' for t in range(count)], video
    # the metric of the videos that completed, the failed ones marked
    rows = read_csv(out / 'per-sequence_results-val.csv')
    names = [row[0] for row in rows[1:]]
    assert any(n.startswith(VIDEOS[0] + '_') for n in names)
    assert any(n.startswith(VIDEOS[3] + '_') for n in names)
    assert [VIDEOS[1], 'FAILED', 'FAILED'] in rows
    assert [VIDEOS[2], 'FAILED', 'FAILED'] in rows
    assert not any(n.startswith((VIDEOS[1] + '_', VIDEOS[2] + '_'))
                   for n in names)
    global_rows = read_csv(out / 'global_results-val.csv')
    assert global_rows[0][-1] == 'Failed-Sequences'
    assert global_rows[1][-1] == '2'
    assert float(global_rows[1][0]) >= 0.0  # J&F of videos 1 and 4
    with open(out / 'results-val.json') as f:
        failed = json.load(f)['failed_sequences']
    assert sorted(failed) == [VIDEOS[1], VIDEOS[2]]
    assert bad_gt in failed[VIDEOS[1]] and bad_frame in failed[VIDEOS[2]]
    # the manifest says so too
    with open(out / 'vosbench_run.json') as f:
        manifest = json.load(f)
    assert manifest['complete'] is False and manifest['end_time']
    assert [v['video'] for v in manifest['failed_videos']] == \
        [VIDEOS[1], VIDEOS[2]]


def test_fail_fast_stops_at_the_first_failure(tmp_path, data_root,
                                              checkpoint, predicted):
    bad_gt = gt_path(data_root, VIDEOS[0], 2)
    corrupt_png(bad_gt)
    out = tmp_path / 'out'
    config = write_config(tmp_path, 'fail_fast_run', data_root)
    with pytest.raises(ValueError, match='cannot read mask') as info:
        test_tool.main([config, checkpoint, '--out', str(out),
                        '--work-dir', str(tmp_path / 'work'),
                        '--fail-fast'])
    assert bad_gt in str(info.value)
    assert predicted == VIDEOS[:1]
    with open(out / 'vosbench_run.json') as f:
        manifest = json.load(f)
    assert manifest['complete'] is False and 'cannot read mask' in \
        manifest['error']


def test_a_video_that_fails_hands_back_its_partial_predictions(
        data_root):
    """predict_videos raises VideoInferenceError carrying the videos done,
    the frames done of the failed one and the videos not run."""
    from vosbench.datasets import DAVISDataset
    from vosbench.inference.video_segmenter import (VideoInferenceError,
                                                    predict_videos)
    corrupt_jpeg(frame_path(data_root, VIDEOS[1], 3))
    ds = DAVISDataset(data_root, split='val', test_mode=True,
                      pipeline=[dict(type='PackVideoInputs')])
    samples = [ds[i]['data_samples'] for i in range(3)]
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_MODEL).model).eval()
    with pytest.raises(VideoInferenceError) as info:
        predict_videos(model, samples)
    error = info.value
    assert error.seq_name == VIDEOS[1]
    assert [r['seq_name'] for r in error.completed] == VIDEOS[:1]
    assert error.partial['pred_frame_names'] == ['00000', '00001', '00002']
    assert error.partial['pred_labels'].shape == (3, 32, 48)
    assert frame_path(data_root, VIDEOS[1], 3) in error.partial['failure']
    assert [s['seq_name'] for s in error.remaining] == VIDEOS[2:3]
    assert "frame '00003'" in str(error)


# ---------------------------------------------------------------------------
# the table row: --out in a place where nothing can be written
# ---------------------------------------------------------------------------
def test_an_unwritable_out_fails_before_the_first_video(
        tmp_path, data_root, checkpoint, predicted):
    """Before: the run segments the first video and then fails writing its
    first mask. (As root, permissions do not stop writes: the place is
    under a regular file, and in /sys where the kernel refuses.)"""
    config = write_config(tmp_path, 'unwritable_run', data_root)
    blocker = tmp_path / 'results.txt'
    blocker.write_text('a file where a folder is expected\n')
    for option in ('--out', '--show-dir'):
        with pytest.raises(SystemExit) as info:
            test_tool.main([config, checkpoint, option,
                            str(blocker / 'run1'), '--work-dir',
                            str(tmp_path / 'work')])
        message = str(info.value.code)
        assert str(blocker / 'run1') in message
        assert f'{blocker} is a file' in message
    sys_dir = '/sys/vosbench_unwritable_probe'
    if not _can_make(sys_dir):  # a read-only place where there is one
        with pytest.raises(SystemExit, match='cannot be created'):
            test_tool.main([config, checkpoint, '--out', sys_dir,
                            '--work-dir', str(tmp_path / 'work')])
    assert predicted == []


def _can_make(path):
    try:
        os.makedirs(path)
    except OSError:
        return False
    os.rmdir(path)
    return True


# ---------------------------------------------------------------------------
# the layout, before any video
# ---------------------------------------------------------------------------
def test_layout_errors_fail_before_any_video(tmp_path, data_root,
                                             checkpoint, predicted):
    """A missing first mask and a frame of another size (read from the
    file headers) are both reported, before the model runs."""
    from vosbench.utils.mask_io import write_mask
    import cv2
    import numpy as np
    os.remove(gt_path(data_root, VIDEOS[1], 0))
    odd = frame_path(data_root, VIDEOS[3], 2)
    cv2.imwrite(odd, np.zeros((40, 48, 3), np.uint8))
    odd_mask = gt_path(data_root, VIDEOS[2], 3)
    write_mask(odd_mask, np.zeros((32, 40), np.uint8))
    config = write_config(tmp_path, 'layout_run', data_root)
    with pytest.raises(SystemExit) as info:
        test_tool.main([config, checkpoint, '--out', str(tmp_path / 'out'),
                        '--work-dir', str(tmp_path / 'work')])
    message = str(info.value.code)
    assert '3 problems in the dataset' in message
    assert f"sequence '{VIDEOS[1]}', frame '00000'" in message
    assert gt_path(data_root, VIDEOS[1], 0) in message
    assert f'{odd} is 40x48 (HxW)' in message
    assert f'{odd_mask} is 32x40 (HxW)' in message
    assert predicted == []
