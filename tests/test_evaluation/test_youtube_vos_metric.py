"""YouTubeVOSMetric: the first-appearance rule, seen / unseen averages,
Overall, category lists, and skipping when there is no ground truth."""
import json
import math
import os.path as osp

import numpy as np
import pytest
from mmengine.evaluator import Evaluator

from vosbench.evaluation.functional import f_measure
from vosbench.evaluation.metrics import YouTubeVOSMetric
from vosbench.evaluation.metrics.youtube_vos_metric import (
    load_categories, score_video_objects, summarize)
from vosbench.registry import METRICS
from vosbench.utils.mask_io import write_mask

H = W = 20
NAMES = ['00000', '00005', '00010', '00015']


def square(label, top=4, left=4, size=8, width=None):
    labels = np.zeros((H, W), np.uint8)
    labels[top:top + size, left:left + (width or size)] = label
    return labels


def both(*maps):
    out = np.zeros((H, W), np.uint8)
    for m in maps:
        out[m > 0] = m[m > 0]
    return out


def write_gt(folder, gts):
    paths = []
    for name, labels in zip(NAMES, gts):
        path = osp.join(folder, f'{name}.png')
        write_mask(path, labels)
        paths.append(path)
    return paths


@pytest.fixture
def video(tmp_path):
    """Object 1 (person) from frame 0, object 2 (penguin) from 00005.

    Object 1: wrong in its given frame (not scored), right in 00005 and
    00015, half of it in 00010 (J = 32 / 64). Object 2: wrong in its given
    frame 00005 (not scored), missed in 00010 (J = F = 0), right in the
    last frame 00015 (scored: J = F = 1).
    """
    obj1 = square(1, 2, 2)
    obj2 = square(2, 11, 11)
    gts = [obj1, both(obj1, obj2), both(obj1, obj2), both(obj1, obj2)]
    half = square(1, 2, 2, width=4)
    preds = np.stack([np.zeros((H, W), np.uint8), obj1, half,
                      both(obj1, obj2)])
    return dict(seq_name='v1', frame_names=list(NAMES),
                gt_mask_paths=write_gt(str(tmp_path), gts),
                pred_labels=preds,
                object_first_frames={1: '00000', 2: '00005'},
                object_categories={1: 'person', 2: 'penguin'},
                _half_f=f_measure(obj1 == 1, half == 1))


def test_seen_unseen_and_overall_by_hand(video):
    half_f = video.pop('_half_f')
    assert 0 < half_f < 1
    metric = YouTubeVOSMetric(seen_categories=['person'],
                              unseen_categories=['penguin'])
    metric.process(None, [video])
    scores = metric.compute_metrics(metric.results)
    j_seen = (1 + 0.5 + 1) / 3
    f_seen = (1 + half_f + 1) / 3
    assert scores['J_seen'] == pytest.approx(j_seen)
    assert scores['F_seen'] == pytest.approx(f_seen)
    # the given frame is not scored, the last frame is
    assert scores['J_unseen'] == pytest.approx(0.5)
    assert scores['F_unseen'] == pytest.approx(0.5)
    assert scores['Overall'] == pytest.approx(
        (j_seen + f_seen + 0.5 + 0.5) / 4)
    assert list(scores) == ['Overall', 'J_seen', 'F_seen', 'J_unseen',
                            'F_unseen']


def test_one_category_list_puts_the_rest_in_the_other_group(video):
    video.pop('_half_f')
    results = []
    for kwargs in (dict(seen_categories=['person']),
                   dict(unseen_categories=['penguin'])):
        metric = YouTubeVOSMetric(**kwargs)
        metric.process(None, [video])
        results.append(metric.compute_metrics(metric.results))
    assert results[0] == results[1]
    assert results[0]['J_unseen'] == pytest.approx(0.5)


def test_empty_group_is_nan_and_overall_uses_the_others(video):
    video.pop('_half_f')
    metric = YouTubeVOSMetric()  # no lists: every object is seen
    metric.process(None, [video])
    scores = metric.compute_metrics(metric.results)
    assert math.isnan(scores['J_unseen']) and math.isnan(scores['F_unseen'])
    # objects weigh equally: object 1 (J 5/6) and object 2 (J 1/2)
    assert scores['J_seen'] == pytest.approx((2.5 / 3 + 0.5) / 2)
    assert scores['Overall'] == pytest.approx(
        (scores['J_seen'] + scores['F_seen']) / 2)


def test_category_in_neither_list_raises(video):
    video.pop('_half_f')
    metric = YouTubeVOSMetric(seen_categories=['person'],
                              unseen_categories=['zebra'])
    metric.process(None, [video])
    with pytest.raises(ValueError, match="'penguin' is neither"):
        metric.compute_metrics(metric.results)


def test_no_ground_truth_skips_scoring(video):
    video.pop('_half_f')
    # the released valid split: only the first-appearance masks exist
    video['gt_mask_paths'] = [video['gt_mask_paths'][0],
                              video['gt_mask_paths'][1], None, None]
    metric = YouTubeVOSMetric(seen_categories='/does/not/exist.json')
    metric.process(None, [video])
    assert metric.compute_metrics(metric.results) == {}


def test_output_frames_of_all_frames_inference(tmp_path):
    """Inference on every frame, output (and scoring) on every 5th; an
    object first given in a frame that is not an output frame is scored
    from the next output frame on."""
    all_names = [f'{t:05d}' for t in range(16)]
    obj = square(1)
    gt_paths = [None] * 16
    for t in (0, 5, 10, 15):
        path = str(tmp_path / f'{t:05d}.png')
        write_mask(path, obj if t >= 5 else np.zeros((H, W), np.uint8))
        gt_paths[t] = path
    preds = np.stack([np.zeros((H, W), np.uint8), np.zeros((H, W),
                                                           np.uint8),
                      obj, obj])
    sample = dict(seq_name='v', frame_names=all_names,
                  gt_mask_paths=gt_paths, pred_labels=preds,
                  pred_frame_names=NAMES,
                  object_first_frames={1: '00003'},
                  object_categories={1: 'cat'})
    metric = YouTubeVOSMetric()
    metric.process(None, [sample])
    obj_res = metric.results[0]['objects'][0]
    # 00005 (missed), 00010 and 00015 (right)
    assert obj_res['frame_names'] == ['00005', '00010', '00015']
    assert obj_res['J'] == pytest.approx(2 / 3)


def test_score_video_objects_rule():
    gt = [square(1)] * 3
    pred = [np.zeros((H, W), np.uint8), square(1), np.zeros((H, W),
                                                            np.uint8)]
    scores = score_video_objects(gt, pred, {1: 0})
    assert scores[1]['J_frames'] == [1.0, 0.0]
    assert scores[1]['num_frames'] == 2
    # an object given in the last frame has nothing to score
    assert score_video_objects(gt, pred, {1: 2}) == {}
    # before the first frame: every frame counts
    assert score_video_objects(gt, pred, {1: -1})[1]['num_frames'] == 3


def test_summarize_nan_everywhere():
    scores = summarize([])
    assert all(math.isnan(v) for v in scores.values())


def test_load_categories(tmp_path):
    assert load_categories(None) is None
    assert load_categories(['a', 'b']) == {'a', 'b'}
    text = tmp_path / 'seen.txt'
    text.write_text('# seen\nperson\n\nzebra\n')
    assert load_categories(str(text)) == {'person', 'zebra'}
    listed = tmp_path / 'seen.json'
    listed.write_text(json.dumps(['cat']))
    assert load_categories(str(listed)) == {'cat'}
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps({'videos': {'v': {'objects': {
        '1': {'category': 'ape', 'frames': []},
        '2': {'category': 'owl', 'frames': []}}}}}))
    assert load_categories(str(meta)) == {'ape', 'owl'}
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        load_categories(str(tmp_path / 'nope.txt'))


def test_through_an_evaluator_with_meta_file_and_json(video, tmp_path,
                                                      ytvos_root):
    video.pop('_half_f')
    metric = METRICS.build(dict(
        type='YouTubeVOSMetric',
        seen_categories=osp.join(ytvos_root, 'train', 'meta.json'),
        output_dir=str(tmp_path / 'out')))
    evaluator = Evaluator(metric)
    evaluator.process([video], None)
    scores = evaluator.evaluate(1)
    # penguin is not a training category of the fixture: unseen
    assert scores['youtube_vos/J_unseen'] == pytest.approx(0.5)
    with open(tmp_path / 'out' / 'youtube_vos_results.json') as f:
        saved = json.load(f)
    assert saved['scores']['J_unseen'] == pytest.approx(0.5)
    assert [(o['object_id'], o['group']) for o in saved['objects']] == [
        (1, 'seen'), (2, 'unseen')]


def test_video_evaluated_twice_raises(video):
    video.pop('_half_f')
    metric = YouTubeVOSMetric()
    metric.process(None, [video, dict(video)])
    with pytest.raises(ValueError, match='twice'):
        metric.compute_metrics(metric.results)
