"""tools/eval_results.py: exact DAVIS numbers, output files, errors and exit
status, DAVIS 2016, sparse ground truth, workers; and a smoke run of
tools/analysis/benchmark_eval.py."""
import csv
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from vosbench.utils.mask_io import DAVIS_PALETTE, read_mask, write_mask

from tool_loading import load_tool, run_tool_main

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DAVIS_SAMPLE = '/work/shared/data/davis_sample'


eval_tool = load_tool('tools/eval_results.py', 'vosbench_tool_eval_results')
bench_tool = load_tool('tools/analysis/benchmark_eval.py',
                        'vosbench_tool_benchmark_eval')


# --------------------------------------------------------------------------
# the protocol, literally (REFERENCE.md section 2): full-image one-hot
# masks, full-image boundaries and dilation, no windows, no shortcuts
# --------------------------------------------------------------------------
def spec_boundary(mask):
    m = mask.astype(bool)
    out = np.zeros_like(m)
    out[:-1, :-1] = ((m[:-1, :-1] != m[:-1, 1:]) | (m[:-1, :-1] != m[1:, :-1])
                     | (m[:-1, :-1] != m[1:, 1:]))
    out[-1, :-1] = m[-1, :-1] != m[-1, 1:]
    out[:-1, -1] = m[:-1, -1] != m[1:, -1]
    return out


def spec_f(gt, pred):
    h, w = gt.shape
    r = math.ceil(0.008 * math.sqrt(h * h + w * w))
    ys, xs = np.mgrid[-r:r + 1, -r:r + 1]
    disk = (xs**2 + ys**2 <= r * r).astype(np.uint8)
    bg, bp = spec_boundary(gt), spec_boundary(pred)
    n_gt, n_pred = bg.sum(), bp.sum()
    if n_gt == 0 and n_pred == 0:
        return 1.0
    if n_gt == 0 or n_pred == 0:
        return 0.0
    precision = (bp & cv2.dilate(bg.astype(np.uint8), disk).astype(bool)
                 ).sum() / n_pred
    recall = (bg & cv2.dilate(bp.astype(np.uint8), disk).astype(bool)
              ).sum() / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def spec_statistics(values):
    edges = (np.round(np.linspace(1, len(values), 5) + 1e-10) -
             1).astype(int)
    return (np.nanmean(values), np.nanmean(values > 0.5),
            np.nanmean(values[edges[0]:edges[1] + 1]) -
            np.nanmean(values[edges[3]:edges[4] + 1]))


def spec_evaluate(gt_root, results_dir, sequences):
    """(per-object {name: (J-Mean, F-Mean)}, global dict)."""
    columns = {k: [] for k in ('J-Mean', 'J-Recall', 'J-Decay', 'F-Mean',
                               'F-Recall', 'F-Decay')}
    per_object = {}
    for seq in sequences:
        folder = osp.join(gt_root, 'Annotations', '480p', seq)
        files = sorted(f for f in os.listdir(folder) if f.endswith('.png'))
        gt = np.stack([np.array(Image.open(osp.join(folder, f)))
                       for f in files])
        gt[gt == 255] = 0
        num_objects = int(gt[0].max())
        gt = gt[1:-1]
        pred = np.stack([np.array(Image.open(osp.join(results_dir, seq, f)))
                         for f in files[1:-1]])
        assert pred.max() <= num_objects
        for obj in range(1, num_objects + 1):
            j = np.zeros(len(gt))
            f = np.zeros(len(gt))
            for t in range(len(gt)):
                g, p = gt[t] == obj, pred[t] == obj
                union = (g | p).sum()
                j[t] = 1.0 if union == 0 else (g & p).sum() / union
                f[t] = spec_f(g, p)
            for measure, values in (('J', j), ('F', f)):
                mean, recall, decay = spec_statistics(values)
                columns[f'{measure}-Mean'].append(mean)
                columns[f'{measure}-Recall'].append(recall)
                columns[f'{measure}-Decay'].append(decay)
            per_object[f'{seq}_{obj}'] = (columns['J-Mean'][-1],
                                          columns['F-Mean'][-1])
    out = {k: float(np.mean(v)) for k, v in columns.items()}
    out['J&F-Mean'] = (np.mean(columns['J-Mean']) +
                       np.mean(columns['F-Mean'])) / 2
    return per_object, out


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def run_cli(args, capsys):
    """Run the tool in-process; returns (exit code, stdout, stderr)."""
    return run_tool_main(eval_tool, args, capsys)


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """Benchmark-style data: 4 sequences with 1-3 objects, void bands,
    shifted / eroded / dilated / id-swapped predictions."""
    root = str(tmp_path_factory.mktemp('generated'))
    bench_tool.generate(root, sequences=4, frames=9, height=120, width=200,
                        seed=3)
    return osp.join(root, 'gt'), osp.join(root, 'results')


def copy_dataset(src_gt, src_results, dst):
    import shutil
    gt = osp.join(dst, 'gt')
    res = osp.join(dst, 'results')
    shutil.copytree(src_gt, gt)
    shutil.copytree(src_results, res)
    return gt, res


# --------------------------------------------------------------------------
# exact numbers
# --------------------------------------------------------------------------
def test_numbers_equal_the_literal_protocol(generated, tmp_path, capsys):
    gt_root, results_dir = generated
    out_dir = tmp_path / 'out'
    code, stdout, _ = run_cli([gt_root, results_dir, '--out-dir', out_dir],
                              capsys)
    assert code == 0
    sequences = [f'seq{i:03d}' for i in range(4)]
    per_object, global_stats = spec_evaluate(gt_root, results_dir,
                                             sequences)
    with open(out_dir / 'results-val.json') as f:
        saved = json.load(f)
    # every global figure, to the last bit
    assert saved['global'] == global_stats
    assert 0.2 < global_stats['J&F-Mean'] < 0.99  # a non-trivial case
    for name, (j_mean, f_mean) in per_object.items():
        seq, obj = name.rsplit('_', 1)
        entry = saved['sequences'][seq]['objects'][obj]
        assert (entry['J-Mean'], entry['F-Mean']) == (j_mean, f_mean)
    assert len(per_object) >= 6
    # the CSV files in the official layout, 3 decimals
    assert read_csv(out_dir / 'global_results-val.csv') == [
        ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall',
         'F-Decay'],
        ['%.3f' % global_stats[k] for k in
         ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall',
          'F-Decay')]
    ]
    assert read_csv(out_dir / 'per-sequence_results-val.csv') == [
        ['Sequence', 'J-Mean', 'F-Mean']
    ] + [[name, '%.3f' % j, '%.3f' % f]
         for name, (j, f) in per_object.items()]
    # the summary table is printed
    assert 'J&F-Mean' in stdout and 'seq000_1' in stdout
    assert '%.3f' % global_stats['J&F-Mean'] in stdout


def test_real_sample_equals_the_literal_protocol(tmp_path, capsys):
    if not osp.isdir(DAVIS_SAMPLE):
        pytest.skip(f'DAVIS sample not found at {DAVIS_SAMPLE}')
    # blackswan's real masks, predicted as eroded / shifted versions with
    # a false positive blob now and then
    src = osp.join(DAVIS_SAMPLE, 'Annotations', '480p', 'blackswan')
    results_dir = tmp_path / 'results'
    kernel = np.ones((9, 9), np.uint8)
    for t, name in enumerate(sorted(os.listdir(src))):
        gt = read_mask(osp.join(src, name))
        pred = cv2.erode(gt, kernel) if t % 2 else np.roll(gt, 7, axis=1)
        if t % 5 == 0:
            cv2.circle(pred, (40, 40), 12, 1, -1)
        write_mask(str(results_dir / 'blackswan' / name), pred)
    code, _, err = run_cli([
        DAVIS_SAMPLE, results_dir, '--sequences', 'blackswan', '--out-dir',
        tmp_path / 'out'
    ], capsys)
    assert code == 0, err
    with open(tmp_path / 'out' / 'results-val.json') as f:
        saved = json.load(f)
    _, global_stats = spec_evaluate(DAVIS_SAMPLE, str(results_dir),
                                    ['blackswan'])
    assert saved['global'] == global_stats


def test_workers_write_identical_files(generated, tmp_path, capsys):
    gt_root, results_dir = generated
    outputs = []
    for workers in (1, 2):
        out_dir = tmp_path / f'out{workers}'
        code, _, err = run_cli([
            gt_root, results_dir, '--out-dir', out_dir, '--workers', workers
        ], capsys)
        assert code == 0, err
        outputs.append({
            name: (out_dir / name).read_bytes()
            for name in sorted(os.listdir(out_dir))
        })
    assert list(outputs[0]) == [
        'global_results-val.csv', 'per-sequence_results-val.csv',
        'results-val.json'
    ]
    assert outputs[0] == outputs[1]


def test_cli_numbers_equal_davis_metric(generated, tmp_path, capsys):
    from vosbench.evaluation import DAVISMetric
    gt_root, results_dir = generated
    code, _, _ = run_cli([gt_root, results_dir, '--out-dir', tmp_path],
                         capsys)
    assert code == 0
    with open(tmp_path / 'results-val.json') as f:
        saved = json.load(f)
    metric = DAVISMetric()
    for seq in sorted(os.listdir(results_dir)):
        folder = osp.join(gt_root, 'Annotations', '480p', seq)
        names = sorted(p[:-4] for p in os.listdir(folder))
        metric.process(None, [
            dict(seq_name=seq, frame_names=names,
                 pred_labels=np.stack([
                     read_mask(osp.join(results_dir, seq, f'{n}.png'))
                     for n in names
                 ]),
                 gt_mask_paths=[osp.join(folder, f'{n}.png')
                                for n in names])
        ])
    assert metric.compute_metrics(metric.results) == saved['global']


# --------------------------------------------------------------------------
# errors end with status 1 and name the sequence and frame
# --------------------------------------------------------------------------
def test_missing_prediction_exits_1_in_a_real_process(generated, tmp_path):
    gt_root, results_dir = copy_dataset(*generated, str(tmp_path))
    os.remove(osp.join(results_dir, 'seq002', '00004.png'))
    out = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'eval_results.py'), gt_root, results_dir
    ], capture_output=True, text=True)
    assert out.returncode == 1
    assert "sequence 'seq002', frame '00004'" in out.stderr
    assert 'not found' in out.stderr
    assert 'Traceback' not in out.stderr
    # the first and last frames are never read, so they may be missing
    os.remove(osp.join(results_dir, 'seq002', '00000.png'))
    os.remove(osp.join(results_dir, 'seq002', '00008.png'))
    write_mask(osp.join(results_dir, 'seq002', '00004.png'),
               read_mask(osp.join(results_dir, 'seq002', '00003.png')))
    out = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'eval_results.py'), gt_root, results_dir,
        '--quiet'
    ], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _break_unreadable(path, shape):
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + os.urandom(200))


def _break_size(path, shape):
    write_mask(path, np.zeros((shape[0], shape[1] - 2), np.uint8))


def _break_label(path, shape):
    labels = read_mask(path)
    labels[3, 3] = 9
    write_mask(path, labels)


def _break_grey_255(path, shape):
    labels = (read_mask(path) > 0).astype(np.uint8) * 255
    Image.fromarray(labels, mode='L').save(path)


@pytest.mark.parametrize('breaker,message', [
    (_break_unreadable, 'cannot read mask'),
    (_break_size, r'shape \(120, 198\)'),
    (_break_label, 'predicted label 9 is not an object'),
    (_break_grey_255, 'predicted label 255 is not an object.*DAVIS 2016'),
])
def test_bad_prediction_exits_1_naming_sequence_and_frame(
        generated, tmp_path, capsys, breaker, message):
    gt_root, results_dir = copy_dataset(*generated, str(tmp_path))
    breaker(osp.join(results_dir, 'seq001', '00003.png'), (120, 200))
    for workers in (1, 2):
        code, stdout, err = run_cli(
            [gt_root, results_dir, '--workers', workers, '--quiet'], capsys)
        assert code == 1
        assert err.startswith("error: sequence 'seq001', frame '00003'")
        assert re.search(message, err), err
        assert not os.path.exists(
            osp.join(results_dir, 'global_results-val.csv'))


def test_unreadable_ground_truth_names_the_file(generated, tmp_path,
                                                capsys):
    gt_root, results_dir = copy_dataset(*generated, str(tmp_path))
    path = osp.join(gt_root, 'Annotations', '480p', 'seq000', '00002.png')
    with open(path, 'wb') as f:
        f.write(b'not a png')
    code, _, err = run_cli([gt_root, results_dir], capsys)
    assert code == 1
    assert "sequence 'seq000', frame '00002': ground truth: cannot read" \
        in err


def test_layout_errors_exit_1(generated, tmp_path, capsys):
    gt_root, results_dir = generated
    code, _, err = run_cli([gt_root, tmp_path / 'nothing'], capsys)
    assert code == 1 and 'results folder not found' in err
    code, _, err = run_cli([gt_root, results_dir, '--split', 'test'],
                           capsys)
    assert code == 1 and 'split file not found' in err and 'test.txt' in err
    code, _, err = run_cli([gt_root, tmp_path, '--sequences', 'seq000'],
                           capsys)
    assert code == 1 and "'seq000': no predictions" in err


# --------------------------------------------------------------------------
# stale results
# --------------------------------------------------------------------------
def test_stale_results_are_replaced_and_never_survive_a_failure(
        generated, tmp_path, capsys):
    gt_root, results_dir = copy_dataset(*generated, str(tmp_path))
    names = ('global_results-val.csv', 'per-sequence_results-val.csv',
             'results-val.json')
    for name in names:  # an earlier run's files, with other numbers
        with open(osp.join(results_dir, name), 'w') as f:
            f.write('J&F-Mean,J-Mean\n0.999,0.999\n')
    other_split = osp.join(results_dir, 'global_results-test-dev.csv')
    with open(other_split, 'w') as f:
        f.write('kept\n')
    code, stdout, err = run_cli([gt_root, results_dir], capsys)
    assert code == 0
    assert 'removed the result file of an earlier run' in err
    rows = read_csv(osp.join(results_dir, 'global_results-val.csv'))
    assert rows[1][0] != '0.999' and rows[1][0] in stdout
    with open(osp.join(results_dir, 'results-val.json')) as f:
        assert json.load(f)['settings']['results_dir'] == results_dir
    # a run that fails leaves no result file that could pass for current
    os.remove(osp.join(results_dir, 'seq003', '00005.png'))
    code, _, err = run_cli([gt_root, results_dir], capsys)
    assert code == 1 and "'seq003', frame '00005'" in err
    for name in names:
        assert not osp.exists(osp.join(results_dir, name))
    # other splits' files are not touched; no temporary file is left
    assert open(other_split).read() == 'kept\n'
    assert not [n for n in os.listdir(results_dir) if '.tmp' in n]


# --------------------------------------------------------------------------
# DAVIS 2016, sparse ground truth, RGB masks, progress
# --------------------------------------------------------------------------
def test_davis_2016_year(tmp_path, capsys):
    root = tmp_path / 'davis2016'
    gt = np.zeros((5, 60, 80), np.uint8)
    pred = np.zeros_like(gt)
    for t in range(5):
        gt[t, 10:30, 10 + t:40 + t] = 255
        pred[t, 10:30, 12 + t:40 + t] = 255  # 28 of 30 columns
    for t in range(5):
        path = root / 'Annotations' / '480p' / 'bear' / f'{t:05d}.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt[t], mode='L').save(path)
        path = root / 'results' / 'bear' / f'{t:05d}.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pred[t], mode='L').save(path)
    (root / 'ImageSets' / '2016').mkdir(parents=True)
    (root / 'ImageSets' / '2016' / 'val.txt').write_text('bear\n')
    code, stdout, err = run_cli(
        [root, root / 'results', '--year', '2016'], capsys)
    assert code == 0, err
    rows = read_csv(root / 'results' / 'per-sequence_results-val.csv')
    assert rows[1][:2] == ['bear_1', '%.3f' % (28 / 30)]
    with open(root / 'results' / 'results-val.json') as f:
        saved = json.load(f)
    assert saved['sequences']['bear']['objects']['1']['J'] == [28 / 30] * 3
    assert saved['settings']['year'] == '2016'


def test_sparse_ground_truth(tmp_path, capsys):
    # ground truth every 2nd frame; object 2 first appears in frame 4
    shape = (40, 50)
    gt_dir = tmp_path / 'Annotations' / '480p' / 'v'
    res_dir = tmp_path / 'results' / 'v'
    for t in range(11):
        labels = np.zeros(shape, np.uint8)
        labels[2:12, 2 + t:12 + t] = 1
        if t >= 4:
            labels[20:30, 20:30] = 2
        pred = labels.copy()
        pred[20:30, 20:25] = 0 if t >= 4 else pred[20:30, 20:25]
        write_mask(str(res_dir / f'{t:05d}.png'), pred)
        if t % 2 == 0:
            write_mask(str(gt_dir / f'{t:05d}.png'), labels)
    (tmp_path / 'ImageSets' / '2017').mkdir(parents=True)
    (tmp_path / 'ImageSets' / '2017' / 'val.txt').write_text('v\n')
    code, _, err = run_cli([tmp_path, tmp_path / 'results', '--sparse'],
                           capsys)
    assert code == 0, err
    with open(tmp_path / 'results' / 'results-val.json') as f:
        saved = json.load(f)
    seq = saved['sequences']['v']
    # annotated 0, 2, ..., 10; scored 2..8; object 2 from frame 6 on
    assert seq['frame_names'] == ['00002', '00004', '00006', '00008']
    assert seq['objects']['1']['J'] == [1.0] * 4
    assert seq['objects']['2']['J'] == [None, None, 0.5, 0.5]
    assert seq['objects']['2']['first_frame'] == '00004'
    assert seq['objects']['2']['num_frames'] == 2
    # without --sparse object 2 does not exist (DAVIS: objects of frame 0)
    code, _, err = run_cli([tmp_path, tmp_path / 'results'], capsys)
    assert code == 1 and 'predicted label 2 is not an object' in err


def test_rgb_rendered_predictions_are_accepted(generated, tmp_path, capsys):
    gt_root, results_dir = copy_dataset(*generated, str(tmp_path))
    code, _, _ = run_cli([gt_root, results_dir, '--out-dir',
                          tmp_path / 'palette'], capsys)
    assert code == 0
    for seq in os.listdir(results_dir):
        for name in os.listdir(osp.join(results_dir, seq)):
            path = osp.join(results_dir, seq, name)
            Image.fromarray(DAVIS_PALETTE[read_mask(path)]).save(path)
    assert Image.open(path).mode == 'RGB'
    code, _, err = run_cli([gt_root, results_dir, '--out-dir',
                            tmp_path / 'rgb'], capsys)
    assert code == 0, err
    for name in ('global_results-val.csv', 'per-sequence_results-val.csv'):
        assert (tmp_path / 'rgb' / name).read_bytes() == (
            tmp_path / 'palette' / name).read_bytes()


def test_progress_lines_on_stderr(generated, tmp_path, capsys):
    code, _, err = run_cli(list(generated) + ['--out-dir', tmp_path],
                           capsys)
    assert code == 0
    assert '[4/4] sequences scored' in err
    code, _, err = run_cli(list(generated) + ['--out-dir', tmp_path,
                                              '--quiet'], capsys)
    assert 'sequences scored' not in err


# --------------------------------------------------------------------------
# the benchmark script
# --------------------------------------------------------------------------
def test_benchmark_script_runs_on_tiny_data(tmp_path, capsys):
    rows = bench_tool.main([
        '--sequences', '2', '--frames', '5', '--height', '64', '--width',
        '96', '--data-dir', str(tmp_path)
    ])
    out = capsys.readouterr().out
    assert 'decode only' in out and 'evaluation, 1 process' in out
    assert 'evaluation, --workers 2' in out
    assert rows['decode']['files'] == 2 * 5 + 2 * 3
    assert rows['one']['jf'] == rows['many']['jf']
    assert rows['one']['rss_mb'] > 0
    # deterministic data: the same seed gives the same files
    other = tmp_path / 'again'
    bench_tool.generate(str(other), 2, 5, 64, 96, 0)
    for seq in ('seq000', 'seq001'):
        for name in ('00000.png', '00003.png'):
            assert (other / 'results' / seq / name).read_bytes() == (
                tmp_path / 'results' / seq / name).read_bytes()
