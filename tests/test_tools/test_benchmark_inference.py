"""tools/analysis/benchmark_inference.py on a tiny video."""
import os.path as osp
import runpy

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
