"""tools/analysis/benchmark_inference.py on a tiny video."""
import os.path as osp
import runpy

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis', 'benchmark_inference.py')
TINY = osp.join(REPO, 'configs', '_base_', 'models', 'stm_r18-tiny.py')


def test_modes_are_measured_against_the_original_loop(tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    results = tool['main'](['--config', TINY, '--size', '48', '80',
                            '--frames', '3', '--objects', '2',
                            '--modes', 'original', 'plain', 'flip',
                            '--threads', '1',
                            '--json', str(tmp_path / 'out.json')])
    assert [r['mode'] for r in results] == ['original', 'plain', 'flip']
    for r in results:
        assert r['seconds_per_frame'] > 0 and r['peak_rss_mb'] > 0
        assert r['threads'] == 1
    assert [r['views'] for r in results] == [1, 1, 2]
    table = capsys.readouterr().out
    rows = {line.split('|')[1].strip(): line.split('|')[2:-1]
            for line in table.splitlines() if line.startswith('| ')}
    assert rows['original STM inference loop (baseline)'][2].strip() == \
        '1.00'
    # each mode's ratio to the baseline is its time over the baseline's
    base = results[0]['seconds_per_frame']
    for r in results[1:]:
        assert abs(float(rows[r['mode']][2]) -
                   r['seconds_per_frame'] / base) < 0.01
    assert 'not comparable here' in table  # neither 480x854 nor 384x384
    assert (tmp_path / 'out.json').is_file()


def test_controls_suite_against_its_baseline(capsys, monkeypatch):
    from tool_loading import load_tool
    tool = load_tool('tools/analysis/benchmark_inference.py')
    suite = tool.controls((480, 854), (1080, 1920))
    assert [(label, objects, cfg) for label, _, objects, cfg in suite] == [
        ('480x854, 2 objects (baseline)', 2, {}),
        ('1080x1920 at full size', 2, {}),
        ('1080x1920, max_size=480', 2, {'max_size': 480}),
        ('6 objects', 6, {}), ('12 objects', 12, {}),
        ('2 objects, object_chunk_size=2', 2, {'object_chunk_size': 2}),
        ('6 objects, object_chunk_size=2', 6, {'object_chunk_size': 2}),
        ('12 objects, object_chunk_size=2', 12, {'object_chunk_size': 2}),
        ('top_k=30', 2, {'top_k': 30})]
    # run three entries of it (each one is a subprocess)
    full = tool.controls
    monkeypatch.setitem(tool.SUITES, 'controls',
                        lambda size, large: [full(size, large)[i]
                                             for i in (0, 2, 7)])
    results = tool.main(['--config', TINY, '--size', '32', '48',
                         '--large-size', '64', '96', '--frames', '3',
                         '--threads', '1', '--suite', 'controls'])
    assert [r['label'] for r in results] == [
        '32x48, 2 objects (baseline)', '64x96, max_size=32',
        '12 objects, object_chunk_size=2']
    table = capsys.readouterr().out
    rows = {line.split('|')[1].strip(): line.split('|')[2:-1]
            for line in table.splitlines() if line.startswith('| ')}
    base = results[0]['seconds_per_frame']
    for r in results:
        assert abs(float(rows[r['label']][1]) -
                   r['seconds_per_frame'] / base) < 0.01


def test_precision_suite_runs_bf16_against_fp32(capsys):
    from tool_loading import load_tool
    tool = load_tool('tools/analysis/benchmark_inference.py')
    assert tool.parse_args(['--test-cfg', 'precision=bf16', 'top_k=30'
                            ]).test_cfg == dict(precision='bf16', top_k=30)
    with pytest.raises(SystemExit):
        tool.parse_args(['--test-cfg', 'precision'])
    results = tool.main(['--config', TINY, '--size', '32', '48',
                         '--frames', '3', '--threads', '1',
                         '--suite', 'precision'])
    assert [(r['label'], r['test_cfg']) for r in results] == [
        ('32x48, 2 objects, fp32 (baseline)', {}),
        ('precision=bf16', {'precision': 'bf16'})]
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith('| precision=bf16')]
    ratio = results[1]['seconds_per_frame'] / results[0]['seconds_per_frame']
    assert abs(float(rows[0].split('|')[3]) - ratio) < 0.01
