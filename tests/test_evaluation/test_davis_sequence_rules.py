"""Which frames and objects evaluate_sequence scores: sparse ground truth,
objects appearing late (sparse / YouTube-VOS mode), DAVIS 2016 masks, long
sequences, lazy access and the statistics built on top."""
import math

import numpy as np
import pytest

from vosbench.evaluation.functional import (SequenceEvaluationError,
                                            evaluate_sequence,
                                            global_statistics,
                                            object_statistics,
                                            sequence_statistics,
                                            unscored_objects)


def names(n):
    return [f'{t:05d}' for t in range(n)]


def square(shape, top, left, size, label=1, out=None):
    out = np.zeros(shape, np.uint8) if out is None else out
    out[top:top + size, left:left + size] = label
    return out


class Recorder:
    """A lazy sequence that records which items were accessed."""

    def __init__(self, items):
        self.items = list(items)
        self.accessed = []

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        self.accessed.append(index)
        return self.items[index]


# --------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------
def test_dense_ground_truth_scores_all_but_first_and_last_frame():
    gt = square((8, 8), 2, 2, 3)
    res = evaluate_sequence([gt] * 6, [gt] * 6, 'seq', names(6))
    assert res['frame_names'] == ['00001', '00002', '00003', '00004']


def test_sparse_ground_truth_excludes_first_and_last_annotated_frames():
    # frames 0..7, ground truth on 0, 2, 3, 5 only: the last frames (6, 7)
    # have none. The official toolkit lists the ground-truth files
    # (0, 2, 3, 5) and drops the first and last of them: 2 and 3 are
    # scored, not 5 (the last annotated frame) and not 6 (no ground truth).
    gt = square((8, 8), 2, 2, 3)
    gts = [gt, None, gt, gt, None, gt, None, None]
    res = evaluate_sequence(gts, [gt] * 8, 'seq', names(8))
    assert res['frame_names'] == ['00002', '00003']
    assert res['J'].shape == (1, 2)
    res = evaluate_sequence(gts, [gt] * 8, 'seq', names(8),
                            skip_last_frame=False)
    assert res['frame_names'] == ['00002', '00003', '00005']


def test_predictions_are_read_only_for_scored_frames_and_gt_once_each():
    gt = square((8, 8), 2, 2, 3)
    gts = Recorder([gt, None, gt, gt, None, gt, None])
    preds = Recorder([None] * 7)  # unscored predictions may be missing
    preds.items[2] = preds.items[3] = gt
    res = evaluate_sequence(gts, preds, 'seq', names(7))
    assert preds.accessed == [2, 3]
    assert gts.accessed == list(range(7))
    assert res['frame_names'] == ['00002', '00003']


def test_fewer_than_three_annotated_frames_scores_nothing():
    gt = square((8, 8), 2, 2, 3)
    res = evaluate_sequence([gt, gt], [gt, gt], 'seq', names(2))
    assert res['object_ids'] == [1] and res['J'].shape == (1, 0)
    stats = object_statistics([res])
    assert stats[0]['num_frames'] == 0 and math.isnan(stats[0]['J-Mean'])
    assert unscored_objects(stats) == ['seq_1']


# --------------------------------------------------------------------------
# objects in sparse (YouTube-VOS) mode
# --------------------------------------------------------------------------
def test_davis_mode_ignores_objects_that_appear_later():
    shape = (10, 10)
    first = square(shape, 0, 0, 3, 1)
    later = square(shape, 5, 5, 3, 2, out=first.copy())
    res = evaluate_sequence([first, later, later, later],
                            [first, first, first, first], 'seq', names(4))
    assert res['object_ids'] == [1]


def test_sparse_mode_scores_each_object_from_the_frame_after_it_appears():
    shape = (10, 12)
    a = square(shape, 0, 0, 3, 1)
    ab = square(shape, 5, 5, 3, 2, out=a.copy())
    # annotated frames 0, 2, 4, 6, 8 (YouTube-VOS style, every 2nd frame);
    # object 2 first appears in frame 4 and is scored from frame 6 on.
    gts = [a, None, a, None, ab, None, ab, None, ab, None]
    pred_a = a.copy()
    pred_half = square(shape, 5, 5, 3, 2, out=a.copy())
    pred_half[5:8, 5] = 0  # object 2: 6 of 9 pixels -> J = 2/3
    preds = [a, a, a, a, ab, ab, pred_half, ab, ab, ab]
    res = evaluate_sequence(gts, preds, 'seq', names(10), sparse=True)
    assert res['object_ids'] == [1, 2]
    assert res['first_frame_names'] == ['00000', '00004']
    # scored: annotated frames except the first (0) and the last (8)
    assert res['frame_names'] == ['00002', '00004', '00006']
    np.testing.assert_array_equal(res['J'][0], [1.0, 1.0, 1.0])
    assert np.isnan(res['J'][1, :2]).all() and np.isnan(res['F'][1, :2]).all()
    assert res['J'][1, 2] == pytest.approx(2 / 3, abs=1e-15)
    stats = object_statistics([res])
    assert stats[1]['num_frames'] == 1
    assert stats[1]['J-Mean'] == res['J'][1, 2]
    assert stats[0]['num_frames'] == 3
    # with the last annotated frame scored too
    res = evaluate_sequence(gts, preds, 'seq', names(10), sparse=True,
                            skip_last_frame=False)
    assert res['frame_names'] == ['00002', '00004', '00006', '00008']
    assert np.isfinite(res['J'][1, 2:]).all()
    # predicting object 2 before it appears is not scored (frame 4)
    assert preds[4][5, 5] == 2 and np.isnan(res['J'][1, 1])


def test_sparse_statistics_use_only_scored_frames():
    # NaN marks frames where an object is not scored: Recall and Decay are
    # over the scored frames only (a NaN would count as a miss in Recall)
    values = np.array([0.9, 0.8, 0.1, 0.7])
    res = dict(seq_name='s', object_ids=[1, 2], frame_names=names(6),
               J=np.array([[np.nan, np.nan, *values], [1.0] * 6]),
               F=np.array([[np.nan, np.nan, *values], [1.0] * 6]))
    stats = object_statistics([res])
    assert (stats[0]['J-Mean'], stats[0]['J-Recall'],
            stats[0]['J-Decay']) == sequence_statistics(values)
    assert stats[0]['J-Recall'] == 0.75


def test_sparse_mode_object_in_last_annotated_frame_is_unscored():
    shape = (10, 10)
    a = square(shape, 0, 0, 3, 1)
    ab = square(shape, 5, 5, 3, 2, out=a.copy())
    res = evaluate_sequence([a, a, a, ab], [a, a, a, ab], 'seq', names(4),
                            sparse=True)
    assert res['object_ids'] == [1, 2]
    assert np.isnan(res['J'][1]).all()
    stats = object_statistics([res])
    assert unscored_objects(stats) == ['seq_2']
    # left out of the global numbers instead of making them NaN
    assert global_statistics(stats)['J-Mean'] == 1.0


def test_sparse_mode_first_annotated_frame_without_objects():
    shape = (10, 10)
    empty = np.zeros(shape, np.uint8)
    a = square(shape, 0, 0, 3, 1)
    preds = Recorder([empty, a, a, a, a])
    res = evaluate_sequence([empty, a, a, a, a], preds, 'seq', names(5),
                            sparse=True)
    # frame 1 is where object 1 appears: nothing is scored there, and its
    # prediction is not even read
    assert res['frame_names'] == ['00002', '00003']
    assert preds.accessed == [2, 3]
    with pytest.raises(SequenceEvaluationError, match='has no object'):
        evaluate_sequence([empty] * 3, [empty] * 3, 'seq', names(3))


def test_sparse_mode_label_check_waits_for_the_whole_sequence():
    shape = (10, 10)
    a = square(shape, 0, 0, 3, 1)
    ab = square(shape, 5, 5, 3, 2, out=a.copy())
    early = ab.copy()  # label 2 predicted before object 2 appears: fine
    evaluate_sequence([a, a, ab, ab], [a, early, ab, ab], 'seq', names(4),
                      sparse=True)
    stray = a.copy()
    stray[9, 9] = 5  # never an object: reported at the frame predicting it
    with pytest.raises(SequenceEvaluationError,
                       match=r"'seq', frame '00001': predicted label 5 is "
                       'not an object.*no ground-truth frame'):
        evaluate_sequence([a, a, ab, ab], [a, stray, ab, ab], 'seq',
                          names(4), sparse=True)


def test_void_is_never_an_object_in_sparse_mode():
    shape = (10, 10)
    a = square(shape, 0, 0, 3, 1)
    void = a.copy()
    void[8:, 8:] = 255
    res = evaluate_sequence([a, void, void], [a, a, a], 'seq', names(3),
                            sparse=True)
    assert res['object_ids'] == [1]


def test_sparse_mode_equals_davis_mode_when_objects_start_in_frame_0():
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 3, (12, 14)).astype(np.uint8) for _ in range(7)]
    gts[0][0, :2] = (1, 2)
    preds = [rng.integers(0, 3, (12, 14)).astype(np.uint8) for _ in range(7)]
    dense = evaluate_sequence(gts, preds, 'seq', names(7))
    sparse = evaluate_sequence(gts, preds, 'seq', names(7), sparse=True)
    for key in ('object_ids', 'frame_names', 'first_frame_names'):
        assert dense[key] == sparse[key]
    np.testing.assert_array_equal(dense['J'], sparse['J'])
    np.testing.assert_array_equal(dense['F'], sparse['F'])


# --------------------------------------------------------------------------
# DAVIS 2016
# --------------------------------------------------------------------------
def test_binary_mode_scores_0_255_masks_as_one_object():
    shape = (10, 10)
    gt = square(shape, 2, 2, 4, 255)  # DAVIS 2016: 255 is the object
    pred_255 = square(shape, 2, 2, 4, 255)
    pred_255[2, 2:6] = 0  # 12 of 16 pixels
    pred_01 = (pred_255 > 0).astype(np.uint8)
    for pred in (pred_255, pred_01):
        res = evaluate_sequence([gt] * 3, [gt, pred, gt], 'seq', names(3),
                                binary=True)
        assert res['object_ids'] == [1]
        assert res['J'][0, 0] == 12 / 16
    # without binary, 0/255 ground truth has no object (255 is void)
    with pytest.raises(SequenceEvaluationError, match='DAVIS 2016'):
        evaluate_sequence([gt] * 3, [gt] * 3, 'seq', names(3))


# --------------------------------------------------------------------------
# long sequences, input checks
# --------------------------------------------------------------------------
def test_decay_of_a_sequence_longer_than_256_frames():
    # 302 frames -> 300 scored. The object shrinks over time, so J falls;
    # Decay = mean J of the first bin - mean J of the last bin, with edges
    # round(linspace(1, 300, 5) + 1e-10) - 1 = [0, 75, 150, 224, 299]
    # (with uint8 edges, 299 would wrap to 43 and 224 stay: an empty bin).
    num = 302
    shape = (40, 40)
    gt = square(shape, 5, 5, 30)
    gts, preds = [], []
    for t in range(num):
        gts.append(gt)
        side = 30 - (t * 20) // num  # 30 -> 11
        preds.append(square(shape, 5, 5, side))
    res = evaluate_sequence(gts, preds, 'long', names(num))
    j = res['J'][0]
    assert j.shape == (300, )
    expected_j = np.array([(30 - (t * 20) // num)**2 / 900
                           for t in range(1, num - 1)])
    np.testing.assert_array_equal(j, expected_j)
    stats = object_statistics([res])[0]
    first_bin = expected_j[0:76].mean()
    last_bin = expected_j[224:300].mean()
    assert stats['J-Decay'] == pytest.approx(first_bin - last_bin, abs=1e-12)
    assert stats['J-Decay'] > 0.3
    # the uint8 version really would break here
    edges = np.round(np.linspace(1, 300, 5) + 1e-10) - 1
    assert edges.astype(np.int64).tolist() == [0, 75, 150, 224, 299]
    assert edges.astype(np.uint8).tolist()[-1] == 43


def test_integer_and_bool_inputs_are_accepted_and_checked():
    gt = square((6, 6), 1, 1, 2)
    res = evaluate_sequence([gt.astype(np.int64)] * 3,
                            [gt.astype(bool)] * 3, 'seq', names(3))
    assert res['J'][0, 0] == 1.0
    bad = gt.astype(np.int32)
    bad[0, 0] = 300
    with pytest.raises(SequenceEvaluationError, match=r"'00001'.*300"):
        evaluate_sequence([gt] * 3, [gt, bad, gt], 'seq', names(3))
    bad[0, 0] = -1
    with pytest.raises(SequenceEvaluationError, match='negative'):
        evaluate_sequence([gt] * 3, [gt, bad, gt], 'seq', names(3))
    with pytest.raises(SequenceEvaluationError, match='integer labels'):
        evaluate_sequence([gt] * 3, [gt, gt.astype(float), gt], 'seq',
                          names(3))
    with pytest.raises(SequenceEvaluationError, match=r'\(H, W\)'):
        evaluate_sequence([gt] * 3, [gt, gt[None], gt], 'seq', names(3))
