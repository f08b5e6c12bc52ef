"""Test and training see the same frames as the evaluator (issue 12, item 1).

Row: "a frame's JPEG deleted from a DAVIS-layout sequence, ground truth
present, ``tools/test.py --out``: exit 0, no warning, the video scored on
27 of 28 frames; ``tools/eval_results.py`` on the same predictions refuses
them". The frame-list rules are one function,
:func:`vosbench.utils.frame_lists.sequence_frames`, used by the datasets,
``DAVISMetric`` and ``tools/eval_results.py``: a ground-truth frame without
its image is an error naming the sequence and the frame, in the dataset,
before any video runs, and the evaluator says the same.

Data: a 2-video synthetic DAVIS of 4 frames at 32x48; the tiny STM with
random weights.
"""
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from vosbench.utils.mask_io import write_mask

from tool_loading import load_tool
from tool_run_helpers import (save_tiny_checkpoint, write_synthetic_davis,
                              write_test_config as write_config)

SEQ = 'synth_val_0001'

pytestmark = pytest.mark.usefixtures('one_torch_thread')

test_tool = load_tool('tools/test.py', 'vosbench_tool_test_frame_rules')
eval_tool = load_tool('tools/eval_results.py',
                      'vosbench_tool_eval_frame_rules')


@pytest.fixture(scope='module')
def clean_root(tmp_path_factory):
    return write_synthetic_davis(str(tmp_path_factory.mktemp('frame_rules_data')),
                                 num_val=2, num_frames=4)


@pytest.fixture
def data_root(clean_root, tmp_path):
    root = str(tmp_path / 'data')
    shutil.copytree(clean_root, root)
    return root


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(
        str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth'), seed=5)


def copy_ground_truth_as_predictions(data_root, out):
    """A results folder whose predictions are the ground truth."""
    annotations = osp.join(data_root, 'Annotations', '480p')
    for seq in sorted(os.listdir(annotations)):
        shutil.copytree(osp.join(annotations, seq), osp.join(out, seq))


# ---------------------------------------------------------------------------
# the table row
# ---------------------------------------------------------------------------
def test_ground_truth_without_its_image_fails_before_any_video(
        tmp_path, data_root, checkpoint, capsys):
    """Before: tools/test.py exits 0 and scores the video on 3 of its 4
    ground-truth frames, while tools/eval_results.py refuses the same
    predictions for the frame's missing prediction."""
    predictions = str(tmp_path / 'predictions')
    copy_ground_truth_as_predictions(data_root, predictions)
    os.remove(osp.join(data_root, 'JPEGImages', '480p', SEQ, '00002.jpg'))
    os.remove(osp.join(predictions, SEQ, '00002.png'))  # as a test run has

    out = tmp_path / 'out'
    config = write_config(tmp_path, 'frame_rules_row', data_root)
    with pytest.raises(SystemExit) as info:
        test_tool.main([config, checkpoint, '--out', str(out),
                        '--work-dir', str(tmp_path / 'work')])
    message = str(info.value.code)
    assert f"sequence '{SEQ}', frame '00002'" in message
    assert 'no image' in message
    assert osp.join('Annotations', '480p', SEQ, '00002.png') in message
    # before any video: nothing was segmented
    assert not any(osp.isdir(osp.join(out, n)) for n in os.listdir(out))

    # the evaluator: the same rule, the same words
    code = None
    try:
        eval_tool.main([data_root, predictions, '--quiet'])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 1
    assert f"sequence '{SEQ}', frame '00002'" in err and 'no image' in err


def test_the_three_agree_on_a_complete_layout(tmp_path, data_root):
    """Without the fault the dataset, the metric's check and the evaluator
    list the same frames (the function is the one they call)."""
    from vosbench.datasets import DAVISDataset
    from vosbench.evaluation.davis_results import list_annotated_frames
    ds = DAVISDataset(data_root, split='val', test_mode=True)
    for info in ds.data_list:
        assert list_annotated_frames(data_root, info['seq_name']) == \
            info['frame_names']


# ---------------------------------------------------------------------------
# the one function and its users
# ---------------------------------------------------------------------------
def test_sequence_frames_rules():
    from vosbench.utils.frame_lists import FrameListError, sequence_frames
    frames = sequence_frames('s', ['00002', '00000', '00001'],
                             ['00000', '00002'])
    assert frames.names == ['00000', '00001', '00002']
    assert frames.annotated == [True, False, True]
    assert frames.annotated_names == ['00000', '00002']
    # no images known: the frames are the ground truth's
    assert sequence_frames('s', None, ['00003', '00001']).names == \
        ['00001', '00003']
    with pytest.raises(FrameListError, match="'s', frame '00001'.*no image"):
        sequence_frames('s', ['00000'], ['00000', '00001'])
    with pytest.raises(FrameListError, match="frame '00000'.*first frame"):
        sequence_frames('s', ['00000', '00001'], ['00001'])
    sequence_frames('s', ['00000', '00001'], ['00001'], require='any')
    with pytest.raises(FrameListError, match="frame '00001'.*every frame"):
        sequence_frames('s', ['00000', '00001'], ['00000'], require='all')
    with pytest.raises(FrameListError, match='no frame has ground truth'):
        sequence_frames('s', ['00000'], [], require='any')


def test_two_images_of_one_frame_are_an_error(tmp_path, data_root):
    from vosbench.datasets import DAVISDataset, DatasetLayoutError
    image_dir = osp.join(data_root, 'JPEGImages', '480p', SEQ)
    shutil.copy(osp.join(image_dir, '00001.jpg'),
                osp.join(image_dir, '00001.png'))
    with pytest.raises(DatasetLayoutError,
                       match=f"'{SEQ}', frame '00001': two files"):
        DAVISDataset(data_root, split='val', test_mode=True)


def test_training_and_youtube_vos_use_the_rules(tmp_path, data_root):
    from vosbench.datasets import (DAVISDataset, DatasetLayoutError,
                                   YouTubeVOSDataset)
    os.remove(osp.join(data_root, 'JPEGImages', '480p', SEQ, '00003.jpg'))
    with pytest.raises(DatasetLayoutError, match=f"'{SEQ}', frame '00003'"):
        DAVISDataset(data_root, split='val')  # training mode
    # the same sequence in the YouTube-VOS layout
    root = tmp_path / 'ytvos'
    shutil.copytree(osp.join(data_root, 'JPEGImages', '480p', SEQ),
                    root / 'valid' / 'JPEGImages' / SEQ)
    shutil.copytree(osp.join(data_root, 'Annotations', '480p', SEQ),
                    root / 'valid' / 'Annotations' / SEQ)
    (root / 'valid' / 'meta.json').write_text(
        '{"videos": {"%s": {"objects": {"1": {"category": "x", '
        '"frames": ["00000"]}}}}}' % SEQ)
    for test_mode in (True, False):
        with pytest.raises(DatasetLayoutError,
                           match=f"'{SEQ}', frame '00003'.*no image"):
            YouTubeVOSDataset(str(root), split='valid', test_mode=test_mode)


def test_davis_metric_checks_the_frames_of_a_whole_video(tmp_path):
    from vosbench.evaluation import DAVISMetric
    from vosbench.evaluation.functional import SequenceEvaluationError
    gt = np.zeros((3, 16, 16), np.uint8)
    gt[:, 4:10, 4:10] = 1
    os.makedirs(tmp_path / 'images')
    for t in range(4):  # a ground-truth file of a frame the video lacks
        write_mask(str(tmp_path / 'gt' / f'{t:05d}.png'), gt[0])
        if t < 3:
            (tmp_path / 'images' / f'{t:05d}.jpg').write_bytes(b'')
    sample = dict(seq_name='v', frame_names=['00000', '00001', '00002'],
                  frame_paths=[str(tmp_path / 'images' / f'{t:05d}.jpg')
                               for t in range(3)],
                  pred_labels=gt,
                  gt_mask_paths=[str(tmp_path / 'gt' / f'{t:05d}.png')
                                 for t in range(3)])
    with pytest.raises(SequenceEvaluationError,
                       match="'v', frame '00003'.*no image"):
        DAVISMetric().process(None, [sample])
    # a clip of the video (some of its images) is scored as given
    clip = dict(sample, frame_names=sample['frame_names'][:2],
                frame_paths=sample['frame_paths'][:2],
                pred_labels=gt[:2], gt_mask_paths=sample['gt_mask_paths'][:2])
    DAVISMetric().process(None, [clip])
