"""Result folders say what made them (issue 12, item 6).

Rows: "a rerun with another checkpoint into the same ``--out``, interrupted:
the old CSVs are deleted but the PNGs are a mix of both runs, and
``tools/eval_results.py`` scores the mix silently"; "``tools/eval_results.py``
run again with a wrong argument: it deletes the earlier run's CSVs first,
then fails"; "``kill -9`` during ``tools/test.py --out`` while a PNG is
written: zero-byte ``*.tmp*.png`` files stay behind for ever".

``--out`` gets ``vosbench_run.json`` (config, checkpoint, their sha256,
version, command, times, complete, failed videos); a run of another config
or checkpoint into it is refused naming both, or with ``--overwrite``
empties it first; ``tools/eval_results.py`` warns when the manifest says the
run was incomplete or the folder mixed, and deletes earlier result files
only once its arguments are validated; temporary files of a killed run are
deleted by the next run.

Data: 2 synthetic videos of 3 frames at 32x48; the tiny STM with random
weights (two checkpoints).
"""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest


from tool_loading import load_tool, run_tool_main
from tool_run_helpers import (REPO, save_tiny_checkpoint,
                              write_synthetic_davis,
                              write_test_config as write_config)

VIDEOS = ['synth_val_0000', 'synth_val_0001']
MANIFEST = 'vosbench_run.json'

pytestmark = pytest.mark.usefixtures('one_torch_thread')

test_tool = load_tool('tools/test.py', 'vosbench_tool_test_result_folders')
eval_tool = load_tool('tools/eval_results.py',
                      'vosbench_tool_eval_result_folders')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_synthetic_davis(
        str(tmp_path_factory.mktemp('result_folders_data')), num_val=2,
        num_frames=3)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp('ckpts')
    return (save_tiny_checkpoint(str(folder / 'model_a.pth'), seed=1),
            save_tiny_checkpoint(str(folder / 'model_b.pth'), seed=2))


def run_eval(argv, capsys):
    capsys.readouterr()  # only this run's output
    return run_tool_main(eval_tool, argv, capsys)


def folder_bytes(folder):
    """``{relative path: bytes}`` of every file under ``folder``."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, folder)] = f.read()
    return files


def manifest_of(out):
    with open(osp.join(out, MANIFEST)) as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# the table row: another checkpoint into the same --out
# ---------------------------------------------------------------------------
def test_another_checkpoint_into_the_same_out(tmp_path, data_root,
                                              checkpoints, monkeypatch,
                                              capsys):
    """Before: the second run deletes the first one's CSVs, writes its PNGs
    over the first one's until it is interrupted, and tools/eval_results.py
    scores the mix without a word."""
    ckpt_a, ckpt_b = checkpoints
    out = tmp_path / 'out'
    work = str(tmp_path / 'work')
    config = write_config(tmp_path, 'folders_run_a', data_root)
    test_tool.main([config, ckpt_a, '--out', str(out), '--work-dir', work])
    before = folder_bytes(out)
    assert 'global_results-val.csv' in before

    # another checkpoint: refused, naming both; nothing touched
    config_b = write_config(tmp_path, 'folders_run_b', data_root)
    with open(config_b) as f:  # the same text: only the checkpoint differs
        text = f.read().replace("'folders_run_b'", "'folders_run_a'")
    with open(config_b, 'w') as f:
        f.write(text)
    with pytest.raises(SystemExit) as info:
        test_tool.main([config_b, ckpt_b, '--out', str(out), '--work-dir',
                        work])
    message = str(info.value.code)
    assert ckpt_a in message and ckpt_b in message
    assert '--overwrite' in message
    assert folder_bytes(out) == before
    manifest = manifest_of(out)  # what made the folder
    assert manifest['complete'] is True and manifest['end_time']
    assert manifest['checkpoint']['path'] == ckpt_a
    assert len(manifest['checkpoint']['sha256']) == 64
    assert manifest['config']['path'] == config
    assert manifest['failed_videos'] == [] and manifest['vosbench_version']
    assert '--out' in manifest['command']

    # --overwrite empties it first; interrupted in video 2 (Ctrl-C)
    import vosbench.inference
    original = vosbench.inference.predict_videos

    def interrupted(model, data_samples):
        if data_samples[0]['seq_name'] == VIDEOS[1]:
            raise KeyboardInterrupt
        return original(model, data_samples)
    monkeypatch.setattr(vosbench.inference, 'predict_videos', interrupted)
    config_c = write_config(tmp_path, 'folders_run_c', data_root)
    with pytest.raises(KeyboardInterrupt):
        test_tool.main([config_c, ckpt_b, '--out', str(out), '--work-dir',
                        work, '--overwrite'])
    after = folder_bytes(out)
    assert not any(name.startswith(VIDEOS[1]) for name in after)
    assert not any(name.endswith('.csv') for name in after)
    assert {n for n in after if n.startswith(VIDEOS[0])} == \
        {n for n in before if n.startswith(VIDEOS[0])}
    manifest = manifest_of(out)
    assert manifest['checkpoint']['path'] == ckpt_b
    assert manifest['complete'] is False
    assert 'KeyboardInterrupt' in manifest['error']

    # the evaluator warns: the run did not complete
    code, _, err = run_eval([data_root, str(out), '--quiet'], capsys)
    assert code == 1  # video 2 has no predictions
    assert 'stopped: KeyboardInterrupt' in err
    assert 'predictions may be missing or partial' in err
    code, _, err = run_eval([data_root, str(out), '--quiet', '--sequences',
                             VIDEOS[0]], capsys)
    assert code == 0 and 'stopped: KeyboardInterrupt' in err


def test_a_folder_without_manifest_is_marked_mixed(tmp_path):
    from vosbench.evaluation.results_manifest import (ResultsFolderError,
                                                      manifest_warnings,
                                                      prepare_results_folder,
                                                      run_identity)
    config = tmp_path / 'cfg.py'
    config.write_text('x = 1\n')
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'weights')
    identity = run_identity(str(config), str(ckpt))
    out = tmp_path / 'out'
    os.makedirs(out / 'seq')
    (out / 'seq' / '00000.png').write_bytes(b'an older run')
    with pytest.raises(ResultsFolderError, match='not made by tools/test'):
        prepare_results_folder(str(out), identity, overwrite=True)
    assert (out / 'seq' / '00000.png').exists()
    manifest = prepare_results_folder(str(out), identity)
    assert manifest['mixed'] is True
    assert any('may mix runs' in w for w in manifest_warnings(str(out)))
    # the same identity again: kept; other options: refused, naming them
    assert prepare_results_folder(str(out), identity)['mixed'] is True
    other = run_identity(str(config), str(ckpt),
                         cfg_options={'model.test_cfg.mem_every': 2})
    with pytest.raises(ResultsFolderError, match='--cfg-options: none then'):
        prepare_results_folder(str(out), other)
    manifest = prepare_results_folder(str(out), other, overwrite=True)
    assert os.listdir(out) == [MANIFEST] and manifest['mixed'] is False
    # the run's own work dir inside --out is no earlier result
    work = out / 'work' / '20261201_000000'
    os.makedirs(work)
    (work / 'log.json.tmp12.json').write_text('')
    assert prepare_results_folder(str(out), identity, overwrite=True,
                                  keep=[str(work)])['mixed'] is False
    assert (work / 'log.json.tmp12.json').exists()
    assert sorted(os.listdir(out)) == [MANIFEST, 'work']


# ---------------------------------------------------------------------------
# the table row: tools/eval_results.py with a wrong argument
# ---------------------------------------------------------------------------
def test_eval_results_keeps_earlier_results_on_a_wrong_argument(
        tmp_path, data_root, capsys):
    """Before: each wrong argument deleted the earlier run's CSVs, then
    failed."""
    results = tmp_path / 'results'
    for video in VIDEOS:
        shutil.copytree(osp.join(data_root, 'Annotations', '480p', video),
                        results / video)
    code, _, _ = run_eval([data_root, str(results), '--quiet'], capsys)
    assert code == 0
    earlier = {n: (results / n).read_bytes() for n in os.listdir(results)
               if n.endswith(('.csv', '.json'))}
    assert len(earlier) == 3
    (tmp_path / 'a_file').write_text('x')
    wrong = [
        ['--resolution', '1080p'],
        ['--sequences', 'synth_val_0009'],
        ['--split', 'val', '--year', '2016'],  # no ImageSets/2016
        ['--out-dir', str(tmp_path / 'a_file' / 'out')],
    ]
    for args in wrong:
        code, _, err = run_eval([data_root, str(results), '--quiet', *args],
                                capsys)
        assert code == 1, args
        assert 'removed the result file' not in err, args
        assert {n: (results / n).read_bytes() for n in earlier} == earlier
    code, _, err = run_eval([str(tmp_path / 'no_such_root'), str(results),
                             '--quiet'], capsys)
    assert code == 1 and 'ground-truth root not found' in err
    assert {n: (results / n).read_bytes() for n in earlier} == earlier


# ---------------------------------------------------------------------------
# the table row: kill -9 while a PNG is written
# ---------------------------------------------------------------------------
KILLED_RUN = '''
import os, runpy, signal, sys
from PIL import Image

save = Image.Image.save
count = [0]

def killing_save(self, fp, *args, **kwargs):
    if isinstance(fp, str) and '.tmp' in fp:
        count[0] += 1
        if count[0] == 4:  # the 4th mask: its temporary file is created
            open(fp, 'wb').close()
            os.kill(os.getpid(), signal.SIGKILL)
    return save(self, fp, *args, **kwargs)

Image.Image.save = killing_save
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def test_kill_9_while_a_png_is_written(tmp_path, data_root, checkpoints,
                                       capsys):
    """Before: the zero-byte temporary file stays after the next run."""
    ckpt_a, _ = checkpoints
    out = tmp_path / 'out'
    config = write_config(tmp_path, 'folders_killed', data_root)
    argv = [osp.join(REPO, 'tools', 'test.py'), config, ckpt_a, '--out',
            str(out), '--work-dir', str(tmp_path / 'work')]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(KILLED_RUN), *argv],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    leftovers = [osp.join(root, n) for root, _, names in os.walk(out)
                 for n in names if '.tmp' in n]
    assert len(leftovers) == 1 and leftovers[0].endswith('.png')
    assert osp.getsize(leftovers[0]) == 0
    killed = tmp_path / 'killed_copy'
    shutil.copytree(out, killed)

    # the next run (same config and checkpoint: allowed) cleans them up
    test_tool.main([config, ckpt_a, '--out', str(out), '--work-dir',
                    str(tmp_path / 'work')])
    assert not [n for _, _, names in os.walk(out) for n in names
                if '.tmp' in n]

    # the killed run's manifest said so, and the evaluator warned
    assert manifest_of(killed)['end_time'] is None
    code, _, err = run_eval([data_root, str(killed), '--quiet'], capsys)
    assert 'never ended (it was killed, or is still running)' in err
    manifest = manifest_of(out)
    assert manifest['complete'] is True and manifest['end_time']
    code, _, err = run_eval([data_root, str(out), '--quiet'], capsys)
    assert code == 0 and 'warning' not in err
