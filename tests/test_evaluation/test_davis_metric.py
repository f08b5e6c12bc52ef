"""DAVISMetric and the aggregation / file helpers behind it."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from vosbench.evaluation import DAVISMetric
from vosbench.evaluation.functional import (global_statistics,
                                            object_statistics)
from vosbench.registry import METRICS
from vosbench.utils.mask_io import read_mask, write_mask

DAVIS_SAMPLE = '/work/shared/data/davis_sample'


def seq_result(name, j_rows, f_rows, object_ids=None):
    """A hand-made result of evaluate_sequence."""
    j_rows = np.asarray(j_rows, dtype=np.float64)
    f_rows = np.asarray(f_rows, dtype=np.float64)
    if object_ids is None:
        object_ids = list(range(1, len(j_rows) + 1))
    return dict(
        seq_name=name,
        object_ids=object_ids,
        J=j_rows,
        F=f_rows,
        frame_names=[f'{t:05d}' for t in range(1, j_rows.shape[1] + 1)])


def test_global_means_weight_objects_equally():
    # 'a': one perfect object; 'b': three objects with J 0 and F 0.5.
    # Per object: J-Mean = (1 + 0 + 0 + 0) / 4 (a mean of per-sequence
    # means would give 0.5). F 0.5 is no recall (strictly > 0.5).
    results = [
        seq_result('b', [[0.0] * 3] * 3, [[0.5] * 3] * 3),
        seq_result('a', [[1.0] * 3], [[1.0] * 3]),
    ]
    metric = DAVISMetric()
    out = metric.compute_metrics(results)
    assert list(out) == ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay',
                         'F-Mean', 'F-Recall', 'F-Decay']
    assert out['J-Mean'] == 0.25
    assert out['F-Mean'] == 0.625
    assert out['J&F-Mean'] == (0.25 + 0.625) / 2
    assert out['J-Recall'] == 0.25
    assert out['F-Recall'] == 0.25
    assert out['J-Decay'] == 0.0 and out['F-Decay'] == 0.0


def test_global_mean_sums_in_object_order_over_float64_array():
    rng = np.random.default_rng(3)
    means = rng.random(37)
    results = [seq_result(f's{i:02d}', [[m]], [[m]])
               for i, m in enumerate(means)]
    stats = object_statistics(results)
    out = global_statistics(stats)
    assert out['J-Mean'] == float(np.mean(np.array(means.tolist())))
    assert out['J&F-Mean'] == (out['J-Mean'] + out['F-Mean']) / 2


def test_order_of_gathered_results_does_not_matter(monkeypatch):
    logged = []
    monkeypatch.setattr('vosbench.evaluation.metrics.davis_metric.print_log',
                        lambda msg, **kwargs: logged.append(msg))
    rng = np.random.default_rng(1)
    results = [seq_result(name, rng.random((2, 5)), rng.random((2, 5)))
               for name in ('c', 'a', 'b')]
    first = DAVISMetric().compute_metrics(list(results))
    second = DAVISMetric().compute_metrics(list(reversed(results)))
    assert first == second
    table = logged[0]
    assert 'J&F-Mean' in table
    assert table.index('a_1') < table.index('a_2') < table.index('b_1') \
        < table.index('c_2')


def test_duplicate_sequence_is_an_error():
    res = seq_result('a', [[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="'a' was evaluated twice"):
        DAVISMetric().compute_metrics([res, dict(res)])


def test_csv_layout_and_three_decimals(tmp_path):
    results = [
        seq_result('bike', [[1.0]], [[0.9996]]),
        seq_result('a-dog', [[0.12345]], [[2 / 3]], object_ids=[2]),
    ]
    out_dir = str(tmp_path / 'out')
    metric = DAVISMetric(output_dir=out_dir, split='val')
    out = metric.compute_metrics(results)
    assert sorted(os.listdir(out_dir)) == [
        'global_results-val.csv', 'per-sequence_results-val.csv',
        'results-val.json'
    ]  # and no temporary file left behind
    with open(osp.join(out_dir, 'global_results-val.csv'), newline='') as f:
        assert f.read() == (
            'J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n'
            '0.697,0.562,0.500,0.000,0.833,1.000,0.000\n')
    with open(osp.join(out_dir, 'per-sequence_results-val.csv'),
              newline='') as f:
        assert f.read() == ('Sequence,J-Mean,F-Mean\n'
                            'a-dog_2,0.123,0.667\n'
                            'bike_1,1.000,1.000\n')
    with open(osp.join(out_dir, 'results-val.json')) as f:
        saved = json.load(f)
    assert saved['global'] == out  # full precision
    assert saved['global']['J-Mean'] == np.mean([0.12345, 1.0])
    obj = saved['sequences']['a-dog']['objects']['2']
    assert obj['J'] == [0.12345] and obj['F'] == [2 / 3]
    assert obj['F-Mean'] == 2 / 3
    assert saved['sequences']['bike']['frame_names'] == ['00001']


def test_split_name_in_file_names(tmp_path):
    metric = METRICS.build(
        dict(type='DAVISMetric', output_dir=str(tmp_path), split='test-dev'))
    metric.compute_metrics([seq_result('a', [[1.0]], [[1.0]])])
    assert osp.isfile(tmp_path / 'global_results-test-dev.csv')
    assert osp.isfile(tmp_path / 'per-sequence_results-test-dev.csv')
    assert osp.isfile(tmp_path / 'results-test-dev.json')


def write_sequence(root, name, labels, missing=()):
    """Write (T, H, W) labels as palette PNGs; return the sample paths."""
    paths = []
    for t, frame in enumerate(labels):
        path = osp.join(root, name, f'{t:05d}.png')
        write_mask(path, frame)
        paths.append(None if t in missing else path)
    return paths


def make_labels(num_frames, shape=(60, 80)):
    labels = np.zeros((num_frames, *shape), np.uint8)
    for t in range(num_frames):
        labels[t, 10:30, 10 + t:30 + t] = 1
        labels[t, 35:55, 40:70] = 2
    return labels


def test_process_and_evaluate_with_png_ground_truth(tmp_path):
    gt = make_labels(6)
    gt[:, 0:3, :] = 255  # void along the top
    pred = np.where(gt == 255, 0, gt).astype(np.uint8)
    pred[2, 35:55, 40:55] = 0  # object 2 half missing in frame 2
    paths = write_sequence(str(tmp_path), 'cows', gt, missing=(4, ))
    metric = DAVISMetric()
    metric.process(
        None, [
            dict(
                seq_name='cows',
                frame_names=[f'{t:05d}' for t in range(6)],
                pred_labels=pred,
                gt_mask_paths=paths)
        ])
    assert len(metric.results) == 1
    res = metric.results[0]
    # only small per-object, per-frame arrays are kept, never masks
    assert res['object_ids'] == [1, 2]
    assert res['frame_names'] == ['00001', '00002', '00003']
    assert res['J'].shape == res['F'].shape == (2, 3)
    assert not any(
        isinstance(v, np.ndarray) and v.size > 6 for v in res.values())
    np.testing.assert_array_equal(res['J'][0], [1.0, 1.0, 1.0])
    assert res['J'][1, 1] == 0.5
    out = metric.evaluate(1)
    assert set(out) == {
        'davis/J&F-Mean', 'davis/J-Mean', 'davis/J-Recall', 'davis/J-Decay',
        'davis/F-Mean', 'davis/F-Recall', 'davis/F-Decay'
    }
    assert out['davis/J-Mean'] == pytest.approx((1.0 + (1 + 0.5 + 1) / 3) /
                                                2)


def test_process_reports_bad_prediction_frame(tmp_path):
    gt = make_labels(4)
    pred = gt.copy()
    pred[2, 0, 0] = 255
    paths = write_sequence(str(tmp_path), 'cows', gt)
    with pytest.raises(ValueError, match=r"'cows'.*'00002'"):
        DAVISMetric().process(None, [
            dict(
                seq_name='cows',
                frame_names=[f'{t:05d}' for t in range(4)],
                pred_labels=pred,
                gt_mask_paths=paths)
        ])


def sample_sequences():
    """(name, sorted PNG paths) of the sample sequences with >= 3 frames."""
    if not osp.isdir(DAVIS_SAMPLE):
        pytest.skip(f'DAVIS sample not found at {DAVIS_SAMPLE}')
    with open(osp.join(DAVIS_SAMPLE, 'ImageSets', '2017', 'val.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    sequences = []
    for name in names:
        folder = osp.join(DAVIS_SAMPLE, 'Annotations', '480p', name)
        files = sorted(p for p in os.listdir(folder) if p.endswith('.png'))
        if len(files) >= 3:  # first and last frames are never scored
            sequences.append((name, [osp.join(folder, p) for p in files]))
    if not sequences:
        pytest.skip('no DAVIS sample sequence has 3 or more frames')
    return sequences


def run_metric(sequences, perturb):
    metric = DAVISMetric()
    for name, paths in sequences:
        gt = np.stack([read_mask(p) for p in paths])
        pred = perturb(np.where(gt == 255, 0, gt).astype(np.uint8))
        metric.process(None, [
            dict(
                seq_name=name,
                frame_names=[osp.splitext(osp.basename(p))[0]
                             for p in paths],
                pred_labels=pred,
                gt_mask_paths=paths)
        ])
    return metric.evaluate(len(sequences))


def test_real_sample_ground_truth_against_itself():
    out = run_metric(sample_sequences(), lambda labels: labels)
    assert out['davis/J-Mean'] == 1.0 and out['davis/F-Mean'] == 1.0
    assert out['davis/J&F-Mean'] == 1.0
    assert out['davis/J-Recall'] == 1.0 and out['davis/F-Recall'] == 1.0
    assert out['davis/J-Decay'] == 0.0 and out['davis/F-Decay'] == 0.0


def test_real_sample_eroded_prediction():
    kernel = np.ones((15, 15), np.uint8)

    def erode(labels):
        return np.stack([cv2.erode(frame, kernel) for frame in labels])

    out = run_metric(sample_sequences(), erode)
    assert 0.0 < out['davis/J-Mean'] < 1.0
    assert 0.0 < out['davis/F-Mean'] < 1.0
    assert out['davis/J&F-Mean'] == (out['davis/J-Mean'] +
                                     out['davis/F-Mean']) / 2


def test_metric_davis_2016_masks(tmp_path):
    from PIL import Image
    gt = make_labels(5)[:, :, :] == 1  # one object
    paths = []
    for t, frame in enumerate(gt):
        path = str(tmp_path / 'bear' / f'{t:05d}.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(frame.astype(np.uint8) * 255, mode='L').save(path)
        paths.append(path)
    pred = gt.astype(np.uint8)  # the model predicts label 1
    pred[2, 10:30, 12:22] = 0  # frame 2: 10 of its 20 columns
    sample = dict(seq_name='bear', frame_names=[f'{t:05d}' for t in range(5)],
                  pred_labels=pred, gt_mask_paths=paths)
    metric = DAVISMetric(year='2016')
    metric.process(None, [sample])
    np.testing.assert_array_equal(metric.results[0]['J'], [[1.0, 0.5, 1.0]])
    # as DAVIS 2017, 0/255 ground truth has no object
    with pytest.raises(ValueError, match='DAVIS 2016'):
        DAVISMetric().process(None, [sample])
    with pytest.raises(ValueError, match='year'):
        DAVISMetric(year='2018')


def test_metric_sparse_objects_and_unscored_objects(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr('vosbench.evaluation.metrics.davis_metric.print_log',
                        lambda msg, **kwargs: logged.append(msg))
    gt = make_labels(6)
    gt[:3][gt[:3] == 2] = 0  # object 2 appears in frame 3
    paths = write_sequence(str(tmp_path), 'v', gt)
    sample = dict(seq_name='v', frame_names=[f'{t:05d}' for t in range(6)],
                  pred_labels=gt.copy(), gt_mask_paths=paths)
    metric = DAVISMetric(sparse=True, output_dir=str(tmp_path / 'out'))
    metric.process(None, [sample])
    res = metric.results[0]
    assert res['object_ids'] == [1, 2]
    assert res['frame_names'] == ['00001', '00002', '00003', '00004']
    assert np.isnan(res['J'][1, :3]).all() and res['J'][1, 3] == 1.0
    # a 2-frame sequence: nothing scored, left out of the global numbers
    short = dict(seq_name='w', frame_names=['00000', '00001'],
                 pred_labels=gt[:2].copy(), gt_mask_paths=paths[:2])
    metric.process(None, [short])
    out = metric.compute_metrics(metric.results)
    assert out['J-Mean'] == 1.0
    assert any('w_1' in msg and 'scored in no frame' in msg
               for msg in logged)
    with open(tmp_path / 'out' / 'results-val.json') as f:
        saved = json.load(f)
    assert saved['settings'] == dict(year='2017', sparse=True, split='val')
    assert saved['unscored_objects'] == ['w_1']
    assert saved['sequences']['v']['objects']['2']['J'] == [
        None, None, None, 1.0]
    # in DAVIS mode object 2 is no object, and predicting it is an error
    with pytest.raises(ValueError, match="'v', frame '00003'.*label 2"):
        DAVISMetric().process(None, [sample])


def test_a_new_run_removes_stale_result_files(tmp_path):
    """Result files of an earlier run are deleted as soon as a new run
    starts, so a run that fails leaves nothing that looks current."""
    gt = make_labels(5)
    paths = write_sequence(str(tmp_path / 'gt'), 'cows', gt)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    stale = out_dir / 'global_results-val.csv'
    stale.write_text('J&F-Mean\n0.999\n')
    (out_dir / 'unrelated.txt').write_text('kept')
    metric = DAVISMetric(output_dir=str(out_dir), split='val')
    sample = dict(seq_name='cows', frame_names=[f'{t:05d}' for t in range(5)],
                  pred_labels=gt.copy(), gt_mask_paths=paths)
    metric.process(None, [sample])
    assert not stale.exists()
    assert (out_dir / 'unrelated.txt').exists()
    metric.evaluate(1)
    assert stale.exists() and '0.999' not in stale.read_text()
    # the next run (e.g. the next validation) clears them again
    metric.process(None, [sample])
    assert not stale.exists()
