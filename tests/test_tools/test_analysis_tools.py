"""tools/analysis/analyze_logs.py on hand-written ``scalars.json`` files:
the curves drawn (and the PNG written), the log lookup, the errors, and
the exact numbers of ``cal_train_time``."""
import json
import math
import os
import os.path as osp

import cv2
import pytest

from tool_loading import load_tool

logs_tool = load_tool('tools/analysis/analyze_logs.py',
                      'vosbench_tool_analyze_logs')

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
#: training lines: iteration -> (loss, time); the gaps are 10, 10, 20, 10
TRAIN_A = {10: (0.9, 2.0), 20: (0.7, 1.0), 40: (0.5, 1.5), 50: (0.4, 0.5)}
TRAIN_B = {10: (0.8, 1.0), 20: (0.6, 1.0), 40: (0.3, 1.0), 50: (0.2, 1.0)}
JF_A, JF_B = 0.61, 0.72


def write_run(work_dir, timestamp, train, jf, val_time=9.0):
    """``work_dir/timestamp/vis_data/scalars.json`` as mmengine writes it:
    training lines, then the validation line (twice, as mmengine does)."""
    folder = osp.join(str(work_dir), timestamp, 'vis_data')
    os.makedirs(folder, exist_ok=True)
    lines = [dict(lr=1e-4, data_time=0.01, loss=loss, loss_ce=loss,
                  time=time, iter=it, step=it)
             for it, (loss, time) in train.items()]
    last = max(train)
    val = {'davis/J&F-Mean': jf, 'davis/J-Mean': jf - 0.01,
           'data_time': 0.001, 'time': val_time, 'step': last}
    lines += [val, val]
    path = osp.join(folder, 'scalars.json')
    with open(path, 'w') as f:
        f.write(''.join(json.dumps(line) + '\n' for line in lines))
    return path


@pytest.fixture
def two_logs(tmp_path):
    a = write_run(tmp_path / 'main_only', '20240101_000000', TRAIN_A, JF_A)
    b = write_run(tmp_path / 'full', '20240102_000000', TRAIN_B, JF_B)
    return a, b


def run_error(argv):
    with pytest.raises(SystemExit) as exc:
        logs_tool.main(argv)
    return str(exc.value.code)


def test_plot_curve_writes_a_png_with_one_curve_per_log_and_key(
        two_logs, tmp_path):
    out = str(tmp_path / 'figs' / 'curve.png')
    fig = logs_tool.main(['plot_curve', *two_logs, '--keys', 'loss',
                          'davis/J&F-Mean', '--out', out, '--legend',
                          'main only', 'full', '--figsize', '6', '3',
                          '--dpi', '50'])
    with open(out, 'rb') as f:
        assert f.read(8) == PNG_SIGNATURE
    image = cv2.imread(out)
    assert image is not None and image.shape == (150, 300, 3)
    assert not [n for n in os.listdir(osp.dirname(out)) if n != 'curve.png']

    loss_ax, jf_ax = fig.axes
    assert loss_ax.get_title() == 'loss'
    assert jf_ax.get_title() == 'davis/J&F-Mean'
    for ax in (loss_ax, jf_ax):
        assert [line.get_label() for line in ax.get_lines()] == [
            'main only', 'full']
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        'main only', 'full']
    for line, train in zip(loss_ax.get_lines(), (TRAIN_A, TRAIN_B)):
        assert list(line.get_xdata()) == list(train)
        assert list(line.get_ydata()) == [v[0] for v in train.values()]
    # the validation line written twice is one point
    for line, jf in zip(jf_ax.get_lines(), (JF_A, JF_B)):
        assert list(line.get_xdata()) == [50]
        assert list(line.get_ydata()) == [jf]


def test_time_is_read_from_the_training_lines_only(two_logs, tmp_path):
    fig = logs_tool.main(['plot_curve', two_logs[0], '--keys', 'time',
                          '--out', str(tmp_path / 'time.png')])
    (line, ) = fig.axes[0].get_lines()
    assert list(line.get_ydata()) == [v[1] for v in TRAIN_A.values()]


def test_run_folder_and_work_dir_are_found(tmp_path, capsys):
    work_dir = tmp_path / 'stm'
    write_run(work_dir, '20240101_000000', TRAIN_A, JF_A)
    write_run(work_dir, '20240301_120000', TRAIN_B, JF_B)
    out = str(tmp_path / 'c.png')
    fig = logs_tool.main(['plot_curve', str(work_dir), str(
        work_dir / '20240101_000000'), '--out', out])
    newest, run_folder = fig.axes[0].get_lines()
    assert list(newest.get_ydata()) == [v[0] for v in TRAIN_B.values()]
    assert list(run_folder.get_ydata()) == [v[0] for v in TRAIN_A.values()]
    # default legend: <work dir>/<timestamp>
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        'stm/20240301_120000', 'stm/20240101_000000']
    err = capsys.readouterr().err
    assert 'using the newest: 20240301_120000' in err
    assert '20240101_000000' in err

    empty = tmp_path / 'empty'
    empty.mkdir()
    message = run_error(['plot_curve', str(empty), '--out', out])
    assert str(empty) in message and 'scalars.json' in message


def test_a_missing_key_names_the_file_and_its_keys(two_logs, tmp_path):
    message = run_error(['plot_curve', *two_logs, '--keys', 'loss',
                         'davis/JF-Mean', '--out', str(tmp_path / 'x.png')])
    assert two_logs[0] in message
    assert "no key 'davis/JF-Mean'" in message
    assert 'the log has: data_time, davis/J&F-Mean, davis/J-Mean, iter, ' \
        'loss, loss_ce, lr, step, time' in message
    assert not osp.exists(tmp_path / 'x.png')


def test_bad_input_errors_name_the_file(two_logs, tmp_path, capsys):
    out = str(tmp_path / 'x.png')
    missing = str(tmp_path / 'nope.json')
    message = run_error(['plot_curve', missing, '--out', out])
    assert missing in message and 'no such file' in message

    message = run_error(['plot_curve', *two_logs, '--legend', 'one',
                         '--out', out])
    assert '1 legend name(s) for 2 log(s)' in message

    broken = tmp_path / 'broken.json'
    broken.write_text('{"loss": 1, "step": 1}\nnot json\n{"loss": 2}\n')
    message = run_error(['plot_curve', str(broken), '--out', out])
    assert str(broken) in message and 'line 2 is not JSON' in message

    # a truncated last line (a run still writing) is skipped
    truncated = tmp_path / 'truncated.json'
    truncated.write_text('{"loss": 1, "step": 1}\n{"loss": 2, "st')
    fig = logs_tool.main(['plot_curve', str(truncated), '--out', out])
    assert list(fig.axes[0].get_lines()[0].get_ydata()) == [1]
    assert 'line 2 is incomplete' in capsys.readouterr().err


def test_cal_train_time_numbers(two_logs, tmp_path, capsys):
    # resumed at 1000: the first line stands for one interval (10 iters)
    resumed = write_run(tmp_path / 'resumed', '20240103_000000',
                        {1010: (0.1, 3.0), 1020: (0.1, 1.0)}, 0.5)
    rows = logs_tool.main(['cal_train_time', *two_logs, resumed])
    out = capsys.readouterr().out
    (name_a, a), (name_b, b), (_, r) = rows
    assert name_a == 'main_only/20240101_000000'
    # the first value (2.0 at iteration 10) left out; weights 10, 20, 10
    assert a['mean'] == pytest.approx((1.0 * 10 + 1.5 * 20 + 0.5 * 10) / 40)
    assert (a['slowest'], a['slowest_iter']) == (1.5, 40)
    assert (a['fastest'], a['fastest_iter']) == (0.5, 50)
    assert a['std'] == pytest.approx(math.sqrt(1 / 6))
    # the total counts every value, the validation time (9.0) none
    assert a['total'] == pytest.approx(2.0 * 10 + 1.0 * 10 + 1.5 * 20 +
                                       0.5 * 10)
    assert (a['last_iter'], a['num_logged'], a['num_used']) == (50, 4, 3)
    assert b['mean'] == pytest.approx(1.0) and b['std'] == 0
    assert b['total'] == pytest.approx(50.0)
    assert r['total'] == pytest.approx(3.0 * 10 + 1.0 * 10)
    assert r['mean'] == pytest.approx(1.0)
    assert 'main_only/20240101_000000 | 50    | 1.1250 | 1.5000 (40)' in out
    assert '0:01:05' in out  # 65 s

    rows = logs_tool.main(['cal_train_time', two_logs[0],
                           '--include-outliers'])
    a = rows[0][1]
    assert a['mean'] == pytest.approx(65 / 50)
    assert (a['slowest'], a['slowest_iter']) == (2.0, 10)
    assert a['num_used'] == 4


def test_cal_train_time_without_training_lines(tmp_path):
    path = tmp_path / 'val_only.json'
    path.write_text('{"davis/J&F-Mean": 0.5, "time": 3.0, "step": 10}\n')
    message = run_error(['cal_train_time', str(path)])
    assert str(path) in message and 'no training line' in message
    assert 'davis/J&F-Mean, step, time' in message
