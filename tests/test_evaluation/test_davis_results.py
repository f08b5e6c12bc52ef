"""Scoring results folders: reading masks, split files, sequence folders,
workers, and agreement with DAVISMetric."""
import os
import os.path as osp
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from vosbench.evaluation.davis_results import (MaskFileSequence,
                                               ResultsLayoutError,
                                               evaluate_results_folder,
                                               list_annotated_frames,
                                               read_label_png,
                                               read_sequence_list)
from vosbench.evaluation.functional import SequenceEvaluationError
from vosbench.utils.mask_io import DAVIS_PALETTE, MaskReadError, write_mask

DAVIS_SAMPLE = '/work/shared/data/davis_sample'


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def moving_labels(num_frames, shape=(48, 64), num_objects=2, shift=0):
    """(T, H, W) labels: object k is a square moving right."""
    labels = np.zeros((num_frames, *shape), np.uint8)
    for t in range(num_frames):
        for k in range(1, num_objects + 1):
            top = 4 + 14 * (k - 1)
            left = 2 + t + shift
            labels[t, top:top + 10, left:left + 12] = k
    return labels


def write_dataset(root, sequences, year='2017', split='val'):
    """sequences: {name: (gt (T,H,W), pred (T,H,W))}; returns gt_root,
    results_dir."""
    gt_root = osp.join(root, 'gt')
    results_dir = osp.join(root, 'results')
    for name, (gt, pred) in sequences.items():
        for t in range(len(gt)):
            write_mask(osp.join(gt_root, 'Annotations', '480p', name,
                                f'{t:05d}.png'), gt[t])
            write_mask(osp.join(results_dir, name, f'{t:05d}.png'), pred[t])
    os.makedirs(osp.join(gt_root, 'ImageSets', year), exist_ok=True)
    with open(osp.join(gt_root, 'ImageSets', year, f'{split}.txt'),
              'w') as f:
        f.write('\n'.join(sequences) + '\n')
    return gt_root, results_dir


def small_dataset(root):
    rng = np.random.default_rng(0)
    sequences = {}
    for i, num_objects in enumerate((1, 2, 3)):
        gt = moving_labels(7, num_objects=num_objects)
        gt[:, 0, :] = 255  # void row
        pred = moving_labels(7, num_objects=num_objects,
                             shift=int(rng.integers(1, 4)))
        sequences[f'seq{i}'] = (gt, pred)
    return write_dataset(root, sequences)


# --------------------------------------------------------------------------
# reading masks
# --------------------------------------------------------------------------
def test_read_label_png_palette_grey_rgb_and_fast_path(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, (37, 53)).astype(np.uint8)
    labels[0, 0] = 255
    palette_path = str(tmp_path / 'p.png')
    write_mask(palette_path, labels)
    out = read_label_png(palette_path)
    assert out.dtype == np.uint8 and out.shape == (37, 53)
    np.testing.assert_array_equal(out, labels)
    # the fast path gives what PIL's own conversion gives
    np.testing.assert_array_equal(out, np.asarray(Image.open(palette_path)))
    grey_path = str(tmp_path / 'g.png')
    Image.fromarray(labels, mode='L').save(grey_path)
    np.testing.assert_array_equal(read_label_png(grey_path), labels)
    rgb_path = str(tmp_path / 'rgb.png')
    Image.fromarray(DAVIS_PALETTE[labels]).save(rgb_path)
    np.testing.assert_array_equal(read_label_png(rgb_path), labels)
    # arrays stay valid after the image is gone and others are read
    keep = [read_label_png(palette_path) for _ in range(5)]
    for _ in range(20):
        read_label_png(grey_path)
    for arr in keep:
        np.testing.assert_array_equal(arr, labels)


def test_read_label_png_takes_the_arrow_path(tmp_path, monkeypatch):
    # the evaluation's speed rests on it (see davis_results._pixels): a
    # Pillow that no longer exports one plain block must be noticed
    from vosbench.evaluation import davis_results
    if not hasattr(Image.Image, '__arrow_c_array__'):
        pytest.skip('Pillow without Arrow export (< 11.2)')
    labels = moving_labels(1, num_objects=3)[0]
    path = str(tmp_path / 'p.png')
    write_mask(path, labels)

    def copied(img):
        raise AssertionError('fell back to np.asarray')

    monkeypatch.setattr(davis_results, '_copied_pixels', copied)
    out = read_label_png(path)
    np.testing.assert_array_equal(out, labels)
    assert out.flags.writeable


def test_read_label_png_binary(tmp_path):
    labels = np.zeros((6, 7), np.uint8)
    labels[1:3, 2:5] = 255
    grey = str(tmp_path / 'g.png')
    Image.fromarray(labels, mode='L').save(grey)
    np.testing.assert_array_equal(read_label_png(grey, binary=True),
                                  labels > 0)
    # a white-on-black RGB mask (not in the DAVIS palette)
    rgb = str(tmp_path / 'rgb.png')
    Image.fromarray(np.stack([labels] * 3, -1)).save(rgb)
    np.testing.assert_array_equal(read_label_png(rgb, binary=True),
                                  labels > 0)
    with pytest.raises(MaskReadError, match='not in the DAVIS palette'):
        read_label_png(rgb)


def test_read_label_png_errors_name_the_file(tmp_path):
    with pytest.raises(MaskReadError, match='not found.*nope.png'):
        read_label_png(str(tmp_path / 'nope.png'))
    garbage = tmp_path / 'garbage.png'
    garbage.write_bytes(b'\x89PNG not really a png at all' * 10)
    with pytest.raises(MaskReadError, match='cannot read.*garbage.png'):
        read_label_png(str(garbage))
    truncated = tmp_path / 'truncated.png'
    write_mask(str(tmp_path / 'ok.png'), moving_labels(1)[0])
    truncated.write_bytes((tmp_path / 'ok.png').read_bytes()[:60])
    with pytest.raises(MaskReadError, match='truncated.png'):
        read_label_png(str(truncated))


def test_mask_file_sequence_names_sequence_and_frame(tmp_path):
    seq = MaskFileSequence([None, str(tmp_path / 'x.png')], 'cows',
                           ['00000', '00001'], 'prediction')
    assert len(seq) == 2 and seq[0] is None
    with pytest.raises(SequenceEvaluationError,
                       match=r"sequence 'cows', frame '00001': prediction: "
                       'mask file not found'):
        seq[1]


# --------------------------------------------------------------------------
# folders
# --------------------------------------------------------------------------
def test_read_sequence_list_formats(tmp_path):
    root = str(tmp_path)
    with pytest.raises(ResultsLayoutError, match='split file not found'):
        read_sequence_list(root, 'val')
    os.makedirs(osp.join(root, 'ImageSets', '2017'))
    with open(osp.join(root, 'ImageSets', '2017', 'val.txt'), 'w') as f:
        f.write('dogs\n\ncats\ndogs\n  \n')
    # the order of the file, each sequence once
    assert read_sequence_list(root, 'val') == ['dogs', 'cats']
    # DAVIS 2016 release: ImageSets/480p/val.txt lists frame pairs
    os.makedirs(osp.join(root, 'ImageSets', '480p'))
    with open(osp.join(root, 'ImageSets', '480p', 'val.txt'), 'w') as f:
        for seq in ('bear', 'cows'):
            for t in range(3):
                f.write(f'/JPEGImages/480p/{seq}/{t:05d}.jpg '
                        f'/Annotations/480p/{seq}/{t:05d}.png\n')
    assert read_sequence_list(root, 'val', year='2016') == ['bear', 'cows']
    os.makedirs(osp.join(root, 'ImageSets', '2016'))
    with open(osp.join(root, 'ImageSets', '2016', 'val.txt'), 'w') as f:
        f.write('cows\n')
    assert read_sequence_list(root, 'val', year='2016') == ['cows']


def test_list_annotated_frames(tmp_path):
    folder = tmp_path / 'Annotations' / '480p' / 'seq'
    folder.mkdir(parents=True)
    for name in ('00010.png', '00002.png', 'notes.txt', '00005.png'):
        (folder / name).write_bytes(b'')
    assert list_annotated_frames(str(tmp_path), 'seq') == [
        '00002', '00005', '00010'
    ]
    with pytest.raises(ResultsLayoutError, match="'other'"):
        list_annotated_frames(str(tmp_path), 'other')


def test_frame_names_come_from_the_ground_truth_files(tmp_path):
    # sparse annotations: only 00000, 00003, 00006, 00009 exist; the
    # predictions of 00003 and 00006 are read, nothing else (00001 is
    # missing, 00009 is garbage: neither is read)
    gt = moving_labels(10)
    pred = gt.copy()
    gt_root, results_dir = write_dataset(str(tmp_path), {'a': (gt, pred)})
    for t in range(10):
        if t % 3:
            os.remove(osp.join(gt_root, 'Annotations', '480p', 'a',
                               f'{t:05d}.png'))
    os.remove(osp.join(results_dir, 'a', '00001.png'))
    with open(osp.join(results_dir, 'a', '00009.png'), 'wb') as f:
        f.write(b'garbage')
    out = evaluate_results_folder(gt_root, results_dir)
    assert out['results'][0]['frame_names'] == ['00003', '00006']
    assert out['global_stats']['J-Mean'] == 1.0


def test_errors_name_sequence_and_frame(tmp_path):
    gt = moving_labels(5)
    gt_root, results_dir = write_dataset(str(tmp_path), {
        'a': (gt, gt.copy()),
        'b': (gt, gt.copy())
    })
    pred_b = osp.join(results_dir, 'b')
    os.remove(osp.join(pred_b, '00002.png'))
    with pytest.raises(SequenceEvaluationError,
                       match=r"sequence 'b', frame '00002': prediction: mask "
                       'file not found'):
        evaluate_results_folder(gt_root, results_dir)
    with open(osp.join(pred_b, '00002.png'), 'wb') as f:
        f.write(os.urandom(300))
    with pytest.raises(SequenceEvaluationError,
                       match=r"'b', frame '00002': prediction: cannot read"):
        evaluate_results_folder(gt_root, results_dir)
    write_mask(osp.join(pred_b, '00002.png'), np.zeros((48, 65), np.uint8))
    with pytest.raises(SequenceEvaluationError,
                       match=r"'b', frame '00002'.*shape \(48, 65\)"):
        evaluate_results_folder(gt_root, results_dir)
    bad = gt[2].copy()
    bad[0, 0] = 3
    write_mask(osp.join(pred_b, '00002.png'), bad)
    with pytest.raises(SequenceEvaluationError,
                       match=r"'b', frame '00002': predicted label 3"):
        evaluate_results_folder(gt_root, results_dir)
    with pytest.raises(ResultsLayoutError, match="'c'.*ground-truth folder"):
        evaluate_results_folder(gt_root, results_dir, sequences=['c'])
    os.makedirs(osp.join(gt_root, 'Annotations', '480p', 'd'))
    write_mask(osp.join(gt_root, 'Annotations', '480p', 'd', '00000.png'),
               gt[0])
    with pytest.raises(ResultsLayoutError, match="'d': no predictions"):
        evaluate_results_folder(gt_root, results_dir, sequences=['d'])


def test_stray_255_label_fails_fast_without_allocating(tmp_path):
    shape = (480, 854)
    gt = np.zeros((3, *shape), np.uint8)
    gt[:, 100:200, 100:300] = 1
    gt[:, 300:400, 500:600] = 2
    pred = gt.copy()
    pred[1, 479, 853] = 255
    gt_root, results_dir = write_dataset(str(tmp_path), {'big': (gt, pred)})
    tracemalloc.start()
    try:
        with pytest.raises(SequenceEvaluationError,
                           match=r"'big', frame '00001': predicted label 255"):
            evaluate_results_folder(gt_root, results_dir)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a 255-object one-hot volume would be 255 x 410k; a few frames at most
    assert peak < 8 * gt[0].size


def test_workers_give_identical_results(tmp_path):
    gt_root, results_dir = small_dataset(str(tmp_path))
    progress = []
    one = evaluate_results_folder(gt_root, results_dir,
                                  progress=lambda *a: progress.append(a))
    two = evaluate_results_folder(gt_root, results_dir, workers=2)
    assert progress == [(1, 3, 'seq0'), (2, 3, 'seq1'), (3, 3, 'seq2')]
    assert one['global_stats'] == two['global_stats']
    assert one['object_stats'] == two['object_stats']
    for a, b in zip(one['results'], two['results']):
        np.testing.assert_array_equal(a['J'], b['J'])
        np.testing.assert_array_equal(a['F'], b['F'])
    assert [r['seq_name'] for r in two['results']] == ['seq0', 'seq1', 'seq2']
    assert 0 < one['global_stats']['J-Mean'] < 1


def test_errors_in_worker_processes_reach_the_caller(tmp_path):
    gt_root, results_dir = small_dataset(str(tmp_path))
    os.remove(osp.join(results_dir, 'seq2', '00003.png'))
    with pytest.raises(SequenceEvaluationError,
                       match=r"'seq2', frame '00003'"):
        evaluate_results_folder(gt_root, results_dir, workers=2)


def test_sequences_in_split_file_order(tmp_path):
    gt_root, results_dir = small_dataset(str(tmp_path))
    with open(osp.join(gt_root, 'ImageSets', '2017', 'val.txt'), 'w') as f:
        f.write('seq2\nseq0\n')
    out = evaluate_results_folder(gt_root, results_dir)
    assert out['sequences'] == ['seq2', 'seq0']
    assert [s['name'] for s in out['object_stats']] == [
        'seq2_1', 'seq2_2', 'seq2_3', 'seq0_1'
    ]
    means = [s['J-Mean'] for s in out['object_stats']]
    assert out['global_stats']['J-Mean'] == float(np.mean(np.array(means)))


def test_same_numbers_as_davis_metric(tmp_path):
    from vosbench.evaluation import DAVISMetric
    gt_root, results_dir = small_dataset(str(tmp_path))
    out = evaluate_results_folder(gt_root, results_dir)
    metric = DAVISMetric()
    for name in out['sequences']:
        names = list_annotated_frames(gt_root, name)
        metric.process(None, [
            dict(
                seq_name=name,
                frame_names=names,
                pred_labels=np.stack([
                    read_label_png(osp.join(results_dir, name, f'{n}.png'))
                    for n in names
                ]),
                gt_mask_paths=[
                    osp.join(gt_root, 'Annotations', '480p', name,
                             f'{n}.png') for n in names
                ])
        ])
    assert metric.compute_metrics(metric.results) == out['global_stats']


def test_davis_2016_folder(tmp_path):
    # 0/255 grey ground truth, predictions 0/255 or 0/1
    gt = moving_labels(5, num_objects=1) * 255
    pred = moving_labels(5, num_objects=1, shift=2)
    root = str(tmp_path)
    for t in range(5):
        path = osp.join(root, 'Annotations', '480p', 'bear', f'{t:05d}.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(gt[t], mode='L').save(path)
        path = osp.join(root, 'res', 'bear', f'{t:05d}.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(pred[t] * (255 if t % 2 else 1), mode='L').save(path)
    os.makedirs(osp.join(root, 'ImageSets', '2016'))
    with open(osp.join(root, 'ImageSets', '2016', 'val.txt'), 'w') as f:
        f.write('bear\n')
    out = evaluate_results_folder(root, osp.join(root, 'res'), year='2016')
    assert [s['name'] for s in out['object_stats']] == ['bear_1']
    # 12-wide squares shifted by 2: J = 10 / 14 in every frame
    np.testing.assert_allclose(out['results'][0]['J'], [[10 / 14] * 3],
                               rtol=0, atol=1e-15)
    with pytest.raises(ResultsLayoutError, match='split file not found'):
        evaluate_results_folder(root, osp.join(root, 'res'), year='2017')
    with pytest.raises(SequenceEvaluationError, match='DAVIS 2016'):
        evaluate_results_folder(root, osp.join(root, 'res'),
                                sequences=['bear'])


def test_results_module_does_not_import_torch():
    code = ('import sys, vosbench.evaluation.davis_results, '
            'vosbench.evaluation.functional; '
            'print("torch" in sys.modules, "mmengine.evaluator" in '
            'sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ['False', 'False']


def test_metric_registry_finds_davis_metric_in_a_fresh_process():
    code = ('from vosbench.registry import METRICS; '
            'm = METRICS.build(dict(type="DAVISMetric", year="2016")); '
            'print(type(m).__name__, m.year)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ['DAVISMetric', '2016']


def test_real_sample_scores_itself_perfectly():
    if not osp.isdir(DAVIS_SAMPLE):
        pytest.skip(f'DAVIS sample not found at {DAVIS_SAMPLE}')
    # predictions = the ground truth itself (void included is an error:
    # 255 is no object), so score blackswan, which has no void
    out = evaluate_results_folder(
        DAVIS_SAMPLE,
        osp.join(DAVIS_SAMPLE, 'Annotations', '480p'),
        sequences=['blackswan'])
    assert out['global_stats']['J&F-Mean'] == 1.0
    assert len(out['results'][0]['frame_names']) == 48
