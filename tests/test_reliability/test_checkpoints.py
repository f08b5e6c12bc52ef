"""Checkpoints are never lost (issue 12, item 2 and its table rows).

A toy model is trained through ``tools/train.py`` with the default runtime
config (so with ``configs/_base_/default_runtime.py``'s checkpoint hook), and
the training process is killed with SIGKILL at every moment that matters: at
the start and end of each iteration, inside the write of each checkpoint
(after a third and two thirds of its bytes), before and after each rename,
before and after each removal of an old checkpoint, and (mmengine's plain
hook) between truncating and writing ``last_checkpoint``. Each time,
``tools/train.py --resume`` must finish the run with the uninterrupted run's
weights and optimizer state, bit for bit; once with the default
``max_keep_ckpts`` and once with ``max_keep_ckpts=1``. A truncated
checkpoint, an empty checkpoint file and an empty ``last_checkpoint`` must
each give a message naming the file and why, and resume from the newest
intact checkpoint; with no intact one the run must stop naming both.

The runs are made by one driver process (this file run as a script), which
imports torch, mmengine and vosbench once and forks a child per run, so that
the ~60 runs take seconds. A forked child is a real process: it is killed
with SIGKILL and resumed by another.

``VOSBENCH_RELIABILITY_BASELINE=1`` runs the same scenarios with the code as
it was before (mmengine's plain ``CheckpointHook``, ``tools/train.py``
without the resume check), to see the tests fail.
"""
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import traceback

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_RUNTIME = osp.join(REPO_ROOT, 'configs', '_base_',
                           'default_runtime.py')
BASELINE = os.environ.get('VOSBENCH_RELIABILITY_BASELINE') == '1'
MAX_ITERS, INTERVAL = 4, 2
KEEPS = (3, 1)  # the default of default_runtime.py, and 1
DRIVER_TIMEOUT = 240

TOY_MODULE = 'vosbench_reliability_toy'
TOY_SOURCE = textwrap.dedent('''
    """A toy model, data set and a hook that saves the final state."""
    import os.path as osp

    import torch
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel, is_model_wrapper
    from torch.utils.data import Dataset

    from vosbench.registry import DATASETS, HOOKS, MODELS


    @MODELS.register_module(force=True)
    class ReliabilityToyModel(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(inputs)
            if mode == 'loss':
                return dict(loss=((out.squeeze(1) - data_samples)**2).mean())
            return out


    @DATASETS.register_module(force=True)
    class ReliabilityToyDataset(Dataset):
        METAINFO = dict()

        def __len__(self):
            return 8  # 4 batches: the loader is not restarted (a 2 s pause)

        def __getitem__(self, index):
            x = torch.tensor([float(index) / 4, 1.0])
            return dict(inputs=x, data_samples=torch.tensor(0.5 * index))


    @HOOKS.register_module(force=True)
    class FinalStateHook(Hook):
        """Saves the model and optimizer state at the end of training."""

        def after_train(self, runner):
            model = runner.model
            if is_model_wrapper(model):
                model = model.module
            torch.save(
                dict(model=model.state_dict(),
                     optimizer=runner.optim_wrapper.state_dict(),
                     iter=runner.iter),
                osp.join(runner.work_dir, 'final_state.pth'))
''')


def config_source(keep: int) -> str:
    return textwrap.dedent(f'''
        _base_ = [{DEFAULT_RUNTIME!r}]
        custom_imports = dict(imports=[{TOY_MODULE!r}],
                              allow_failed_imports=False)
        model = dict(type='ReliabilityToyModel')
        train_dataloader = dict(
            dataset=dict(type='ReliabilityToyDataset'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2, num_workers=0)
        train_cfg = dict(by_epoch=False, max_iters={MAX_ITERS})
        optim_wrapper = dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
        param_scheduler = [dict(type='MultiStepLR', milestones=[3],
                                by_epoch=False)]
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval={INTERVAL}, max_keep_ckpts={keep}))
        custom_hooks = [dict(type='FinalStateHook')]
    ''')


# ---------------------------------------------------------------------------
# the driver (this file run as a script)
# ---------------------------------------------------------------------------
class _Events:
    """Moments at which a child may kill itself; see :func:`_instrument`."""

    def __init__(self, kill_at):
        self.kill_at = kill_at
        self.labels = []

    def __call__(self, label):
        self.labels.append(label)
        if self.kill_at is not None and len(self.labels) == self.kill_at:
            with open(os.environ['RELIABILITY_KILL_NOTE'], 'w') as f:
                f.write(label)
            os.kill(os.getpid(), signal.SIGKILL)


def _instrument(events):
    """Patch, in the forked child only, the calls through which training
    writes, renames and removes files, and the train loop's iterations, so
    that ``events`` sees (and may be killed at) each of those moments."""
    import builtins

    from mmengine.fileio.backends import LocalBackend
    from mmengine.runner.loops import IterBasedTrainLoop

    def put(self, obj, filepath):
        filepath = str(filepath)
        os.makedirs(osp.dirname(filepath), exist_ok=True)
        name, total = osp.basename(filepath), len(obj)
        cuts = [0, total // 3, 2 * total // 3, total]
        with open(filepath, 'wb') as f:
            for start, end in zip(cuts[:-1], cuts[1:]):
                if start:
                    f.flush()
                    events(f'inside the write of {name}: {start} of '
                           f'{total} bytes written')
                f.write(obj[start:end])
        events(f'{name} written ({total} bytes)')

    LocalBackend.put = put

    original_replace, original_remove = os.replace, os.remove

    def replace(src, dst, *args, **kwargs):
        what = f'{osp.basename(src)} -> {osp.basename(dst)}'
        events(f'before renaming {what}')
        original_replace(src, dst, *args, **kwargs)
        events(f'after renaming {what}')

    def remove(path, *args, **kwargs):
        events(f'before removing {osp.basename(path)}')
        original_remove(path, *args, **kwargs)
        events(f'after removing {osp.basename(path)}')

    os.replace, os.remove = replace, remove

    original_open = builtins.open

    def open_(file, mode='r', *args, **kwargs):
        f = original_open(file, mode, *args, **kwargs)
        if (isinstance(file, str) and osp.basename(file) == 'last_checkpoint'
                and 'w' in mode):
            events('last_checkpoint truncated, not yet written')
        return f

    builtins.open = open_

    original_run_iter = IterBasedTrainLoop.run_iter

    def run_iter(self, data_batch):
        events(f'start of iteration {self._iter + 1}')
        original_run_iter(self, data_batch)
        if self._iter == self._max_iters:
            events(f'end of iteration {self._iter} (after its checkpoint)')

    IterBasedTrainLoop.run_iter = run_iter

    # Speed only: the config's text (in the log and each checkpoint's meta)
    # is not reformatted with yapf, which takes most of a toy run's time;
    # and fsync returns at once: a killed process loses nothing the kernel
    # has (fsync matters for power cuts, which are not simulated here;
    # test_best_and_published_checkpoints_are_written_atomically checks
    # that each file is fsynced before its rename).
    import mmengine.config.config as config_module
    config_module.FormatCode = lambda text, **kwargs: (text, False)
    os.fsync = lambda fd: None


def _fork_train(train_tool, argv, log_path, kill_at=None, events_path=None):
    """Run ``tools/train.py argv`` in a forked child; returns its wait
    status as ``('signal', n)`` or ``('exit', code)``."""
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ['RELIABILITY_KILL_NOTE'] = log_path + '.kill'
            events = _Events(kill_at)
            _instrument(events)
            try:
                train_tool.main(argv)
                code = 0
            except SystemExit as exc:
                print(f'SystemExit: {exc}', flush=True)
                code = exc.code if isinstance(exc.code, int) else 1
            if events_path:
                with open(events_path, 'w') as f:
                    json.dump(events.labels, f)
        except BaseException:  # noqa: B036
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return ['signal', os.WTERMSIG(status)]
    return ['exit', os.WEXITSTATUS(status)]


def _read(path):
    if not osp.exists(path):
        return ''
    with open(path, errors='replace') as f:
        return f.read()


def drive(out_dir):
    """Make every run; write ``out_dir/results.json``."""
    import importlib.util

    import torch
    torch.set_num_threads(1)
    # imported once, before the forks (the runner imports them lazily)
    import matplotlib.pyplot  # noqa: F401 (the visualizer's figure)
    import mmengine.runner  # noqa: F401
    import torch._dynamo  # noqa: F401 (the optimizer's first build)
    from mmengine.utils.dl_utils import collect_env
    collect_env()  # the runner's first log lines (imports setuptools)

    import vosbench.engine  # noqa: F401
    from vosbench.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    plugin_dir = osp.join(out_dir, 'plugins')
    os.makedirs(plugin_dir, exist_ok=True)
    with open(osp.join(plugin_dir, f'{TOY_MODULE}.py'), 'w') as f:
        f.write(TOY_SOURCE)
    sys.path.insert(0, plugin_dir)
    spec = importlib.util.spec_from_file_location(
        'reliability_train_tool', osp.join(REPO_ROOT, 'tools', 'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    options = []
    if BASELINE:
        options = ['--cfg-options', 'default_hooks.checkpoint.type='
                   'CheckpointHook']
        if hasattr(train_tool, 'choose_resume_checkpoint'):
            train_tool.choose_resume_checkpoint = lambda cfg: None

    results = dict(baseline=BASELINE, runs={})
    for keep in KEEPS:
        base = osp.join(out_dir, f'keep{keep}')
        os.makedirs(base)
        config = osp.join(base, 'config.py')
        with open(config, 'w') as f:
            f.write(config_source(keep))

        def run(name, kill_at=None, resume=False, events=False):
            work_dir = osp.join(base, name)
            argv = [config, '--work-dir', work_dir] + options
            if resume:
                argv.insert(1, '--resume')
            log = osp.join(base, f'{name}.{"resume" if resume else "run"}'
                           '.log')
            status = _fork_train(
                train_tool, argv, log, kill_at,
                osp.join(base, f'{name}.events.json') if events else None)
            return dict(status=status, log=_read(log),
                        kill_note=_read(log + '.kill'), work_dir=work_dir)

        reference = run('reference', events=True)
        labels = json.loads(_read(osp.join(base, 'reference.events.json'))
                            or '[]')
        results['runs'][f'keep{keep}/reference'] = dict(
            reference, labels=labels)
        for index, label in enumerate(labels, start=1):
            name = f'kill{index:02d}'
            killed = run(name, kill_at=index)
            resumed = run(name, resume=True)
            results['runs'][f'keep{keep}/{name}'] = dict(
                label=label, killed=killed, resumed=resumed,
                work_dir=resumed['work_dir'])

        if keep != KEEPS[0]:
            continue
        # damaged files in a copy of the reference's work dir
        ref_dir = osp.join(base, 'reference')
        last = osp.join(ref_dir, 'iter_4.pth')
        size = osp.getsize(last)
        damages = {
            'truncated': [('iter_4.pth', size // 2)],
            'empty_checkpoint': [('iter_4.pth', 0)],
            'empty_last_checkpoint': [('last_checkpoint', 0)],
            'none_intact': [('iter_4.pth', size // 2),
                            ('iter_2.pth', size // 3)],
        }
        for name, cuts in damages.items():
            work_dir = osp.join(base, name)
            shutil.copytree(ref_dir, work_dir)
            os.remove(osp.join(work_dir, 'final_state.pth'))
            for file, length in cuts:
                with open(osp.join(work_dir, file), 'r+b') as f:
                    f.truncate(length)
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                named = f.read()
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                # the copy's last_checkpoint names the copy's iter_4.pth
                f.write(named.replace(ref_dir, work_dir))
            results['runs'][f'keep{keep}/{name}'] = dict(
                resumed=run(name, resume=True), work_dir=work_dir)
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
    drive(sys.argv[1])
    sys.exit(0)


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('ckpt_kills'))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   p for p in (REPO_ROOT, os.environ.get('PYTHONPATH'))
                   if p))
    proc = subprocess.run(
        [sys.executable, osp.abspath(__file__), out_dir], env=env,
        capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
    if proc.returncode != 0:
        pytest.fail(f'the driver failed ({proc.returncode}):\n'
                    f'{proc.stdout[-5000:]}\n{proc.stderr[-10000:]}')
    with open(osp.join(out_dir, 'results.json')) as f:
        return json.load(f)


def _final_state(work_dir):
    path = osp.join(work_dir, 'final_state.pth')
    if not osp.exists(path):
        return None
    return torch.load(path, weights_only=True)


def _differences(expected, actual, prefix=''):
    """Where two nested states differ (tensors compared bit for bit)."""
    if isinstance(expected, torch.Tensor):
        if not (isinstance(actual, torch.Tensor)
                and expected.dtype == actual.dtype
                and torch.equal(expected, actual)):
            return [prefix]
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(expected) != set(actual):
            return [f'{prefix} (keys)']
        return [d for key in expected for d in _differences(
            expected[key], actual[key], f'{prefix}.{key}')]
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(expected) != len(
                actual):
            return [f'{prefix} (length)']
        return [d for i, (e, a) in enumerate(zip(expected, actual))
                for d in _differences(e, a, f'{prefix}[{i}]')]
    return [] if expected == actual else [prefix]


def _tail(text, lines=15):
    return '\n'.join(text.strip().splitlines()[-lines:])


def _checkpoint_files(work_dir):
    """The checkpoints and temporary files a run left."""
    return sorted(name for name in os.listdir(work_dir)
                  if name.endswith(('.pth', '.tmp'))
                  and name != 'final_state.pth')


def _check_kills(runs, keep):
    reference = runs['runs'][f'keep{keep}/reference']
    assert reference['status'] == ['exit', 0], reference['log'][-3000:]
    expected = _final_state(reference['work_dir'])
    expected_files = _checkpoint_files(reference['work_dir'])
    assert len(expected_files) == min(keep, MAX_ITERS // INTERVAL)
    assert expected is not None and expected['iter'] == MAX_ITERS
    labels = reference['labels']
    saves = [label for label in labels if label.startswith('inside the')]
    # the kills cover the middle of every checkpoint write
    assert len(saves) >= 2 * (MAX_ITERS // INTERVAL), labels
    failures = []
    for index, label in enumerate(labels, start=1):
        run = runs['runs'][f'keep{keep}/kill{index:02d}']
        where = f'killed {label!r} (moment {index} of {len(labels)})'
        if run['killed']['status'] != ['signal', signal.SIGKILL]:
            failures.append(f'{where}: the kill did not happen: '
                            f'{run["killed"]["status"]}')
            continue
        if run['resumed']['status'] != ['exit', 0]:
            failures.append(f'{where}: --resume exited with '
                            f'{run["resumed"]["status"]}:\n'
                            f'{_tail(run["resumed"]["log"])}')
            continue
        actual = _final_state(run['work_dir'])
        differences = (['final_state.pth missing'] if actual is None else
                       _differences(expected, actual))
        if differences:
            failures.append(f'{where}: the resumed run differs from the '
                            f'uninterrupted one in {differences[:5]}')
        elif _checkpoint_files(run['work_dir']) != expected_files:
            # max_keep_ckpts holds and no temporary file is left behind
            failures.append(f'{where}: the work dir holds '
                            f'{_checkpoint_files(run["work_dir"])}, not '
                            f'{expected_files}')
    assert not failures, (f'{len(failures)} of {len(labels)} kills lost '
                          'the run:\n' + '\n'.join(failures))


def test_kill_at_any_moment_resumes_bit_identical(runs):
    """SIGKILL at every moment of a run (default max_keep_ckpts), then
    ``--resume``: always the uninterrupted run's weights and optimizer."""
    _check_kills(runs, KEEPS[0])


def test_kill_with_max_keep_ckpts_1_resumes_bit_identical(runs):
    """The table row: ``max_keep_ckpts=1``, kill -9 while the next
    checkpoint is written. mmengine's hook had already deleted the previous
    checkpoint and ``last_checkpoint`` named it: the run was lost."""
    _check_kills(runs, 1)


def _damaged(runs, name):
    run = runs['runs'][f'keep{KEEPS[0]}/{name}']
    return run, run['resumed']['log']


@pytest.mark.parametrize('name,reason', [
    ('truncated', 'does not open as a checkpoint, truncated'),
    ('empty_checkpoint', 'the file is empty (0 bytes)'),
    ('empty_last_checkpoint', 'last_checkpoint is empty'),
])
def test_damaged_resume_names_file_and_falls_back(runs, name, reason):
    """The table row: ``--resume`` on a truncated checkpoint (or an empty
    ``last_checkpoint``) gave a traceback from torch's zip reader or
    "checkpoint file not found: " with an empty name."""
    run, log = _damaged(runs, name)
    damaged = osp.join(run['work_dir'],
                       'last_checkpoint' if name == 'empty_last_checkpoint'
                       else 'iter_4.pth')
    # the newest intact checkpoint: iter_4.pth itself when only
    # last_checkpoint is damaged
    fallback = osp.join(run['work_dir'],
                        'iter_4.pth' if name == 'empty_last_checkpoint'
                        else 'iter_2.pth')
    assert run['resumed']['status'] == ['exit', 0], _tail(log, 40)
    assert 'checkpoint file not found: \n' not in log
    message = [line for line in log.splitlines()
               if damaged in line and 'resuming from' in line]
    assert message, _tail(log, 40)
    assert reason in message[0] and f'resuming from {fallback}' in \
        message[0], message[0]
    # it went on from there to the uninterrupted run's end state
    expected = _final_state(
        runs['runs'][f'keep{KEEPS[0]}/reference']['work_dir'])
    assert not _differences(expected, _final_state(run['work_dir']))


def test_no_intact_checkpoint_fails_naming_both(runs):
    run, log = _damaged(runs, 'none_intact')
    assert run['resumed']['status'][0] == 'exit'
    assert run['resumed']['status'][1] != 0
    work_dir = run['work_dir']
    lines = [line for line in log.splitlines()
             if 'no intact iter_*.pth' in line]
    assert lines, _tail(log, 40)
    assert osp.join(work_dir, 'iter_4.pth') in lines[-1]
    assert osp.join(work_dir, 'iter_2.pth') in lines[-1]
    assert 'Traceback' not in log, _tail(log, 40)


def test_resume_from_a_damaged_named_checkpoint_is_an_error(tmp_path):
    """``--resume CKPT`` with a damaged CKPT stops, naming it and the newest
    intact checkpoint of its folder (it does not resume silently from
    another file than the one asked for)."""
    from vosbench.engine import ResumeError, find_resume_checkpoint
    good = tmp_path / 'iter_2.pth'
    torch.save(dict(meta=dict(iter=2), state_dict={}), good)
    bad = tmp_path / 'iter_4.pth'
    bad.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ResumeError) as info:
        find_resume_checkpoint(str(tmp_path), str(bad))
    assert str(bad) in str(info.value)
    assert f'--resume {good}' in str(info.value)
    assert find_resume_checkpoint(str(tmp_path), str(good)) == str(good)
    # a fresh work dir: nothing to resume, train from scratch
    assert find_resume_checkpoint(str(tmp_path / 'new')) is None
    # no last_checkpoint (the first save was interrupted; mmengine's own
    # hook writes it in place) and no intact checkpoint: from scratch too
    first = tmp_path / 'first'
    first.mkdir()
    (first / 'iter_2.pth').write_bytes(good.read_bytes()[:40])
    warnings = []
    assert find_resume_checkpoint(str(first), warn=warnings.append) is None
    assert len(warnings) == 1 and str(first / 'iter_2.pth') in warnings[0]
    assert 'training from scratch' in warnings[0]


def test_configs_use_the_atomic_hook():
    """Every config's checkpoint hook is the atomic one, and importing
    vosbench leaves mmengine's own hook and runner untouched."""
    from mmengine.config import Config
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import Runner

    import vosbench.engine  # noqa: F401
    configs = [DEFAULT_RUNTIME] + [
        osp.join(REPO_ROOT, 'configs', 'stm', name) for name in (
            'stm_r18-tiny_1xb4-700iter_synthetic.py',
            'stm_r18-tiny_1xb4-1000iter_synthetic-static-pretrain.py')]
    for path in configs:
        hook = Config.fromfile(path).default_hooks.checkpoint
        assert hook.type == 'AtomicCheckpointHook', path
    assert CheckpointHook._save_checkpoint_with_step.__module__ == \
        'mmengine.hooks.checkpoint_hook'
    assert Runner.save_checkpoint.__module__ == 'mmengine.runner.runner'


def test_best_and_published_checkpoints_are_written_atomically(
        tmp_path, monkeypatch):
    """``save_best`` and ``published_keys`` go through the same write and
    rename; the previous best is removed only after the new one exists."""
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from torch.utils.data import Dataset

    from vosbench.engine import (install_safe_checkpoint_loader,
                                 load_local_checkpoint)
    from vosbench.engine.hooks import AtomicCheckpointHook
    install_safe_checkpoint_loader()  # as the tools do
    import vosbench.engine.hooks.atomic_checkpoint_hook as hook_module
    atomic_writes, renames = [], []
    original_write = hook_module.atomic_write
    original_replace = hook_module.replace_into_place

    def atomic_write(path, data):
        atomic_writes.append((osp.basename(path), data))
        original_write(path, data)

    def replace_into_place(tmp, path):
        renames.append(osp.basename(path))
        original_replace(tmp, path)

    monkeypatch.setattr(hook_module, 'atomic_write', atomic_write)
    monkeypatch.setattr(hook_module, 'replace_into_place',
                        replace_into_place)
    synced, original_fsync, original_rename = [], os.fsync, os.replace

    def fsync(fd):
        synced.append(os.readlink(f'/proc/self/fd/{fd}'))
        original_fsync(fd)

    def rename(src, dst):
        # the file and its folder were flushed before it is renamed
        renamed_unsynced.extend([src] if src not in synced else [])
        original_rename(src, dst)

    renamed_unsynced = []
    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', rename)

    class Model(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(inputs)
            if mode == 'loss':
                return dict(loss=((out.squeeze(1) - data_samples)**2).mean())
            return [out]

    class Data(Dataset):

        def __len__(self):
            return 4

        def __getitem__(self, index):
            return dict(inputs=torch.tensor([float(index), 1.0]),
                        data_samples=torch.tensor(float(index)))

    class Rising(BaseMetric):
        """acc = the number of evaluations so far: each one is the best."""
        calls = 0

        def process(self, data_batch, data_samples):
            self.results.append(0)

        def compute_metrics(self, results):
            Rising.calls += 1
            return dict(acc=float(Rising.calls))

    loader = dict(dataset=Data(), sampler=dict(type='DefaultSampler',
                                               shuffle=False),
                  collate_fn=dict(type='default_collate'), batch_size=2,
                  num_workers=0)
    hook = AtomicCheckpointHook(interval=2, by_epoch=False, save_best='acc',
                                rule='greater', max_keep_ckpts=1,
                                published_keys=['meta', 'state_dict'])
    runner = Runner(
        model=Model(), work_dir=str(tmp_path), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=[Rising()],
        val_cfg=dict(), optim_wrapper=dict(optimizer=dict(type='SGD',
                                                          lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=4, val_interval=2),
        default_hooks=dict(checkpoint=hook), default_scope='vosbench')
    runner.train()
    names = sorted(os.listdir(tmp_path))
    assert 'best_acc_iter_4.pth' in names and 'best_acc_iter_2.pth' not in \
        names, names
    assert 'iter_4.pth' in names and 'iter_2.pth' not in names, names
    assert not [n for n in names if n.endswith('.tmp')], names
    published = [n for n in names if n.startswith('iter_4-')]
    assert len(published) == 1, names
    assert set(load_local_checkpoint(str(tmp_path / published[0]))) == {
        'meta', 'state_dict'}
    for name in ('best_acc_iter_4.pth', 'iter_4.pth'):
        assert 'state_dict' in load_local_checkpoint(str(tmp_path / name))
    # every checkpoint, and last_checkpoint each time (also when saved
    # again after a new best), was renamed into place
    last = str(tmp_path / 'iter_4.pth')
    assert (tmp_path / 'last_checkpoint').read_text() == last
    saves = [name for name in renames if re.match(r'iter_\d+\.pth$', name)]
    assert [name for name, _ in atomic_writes] == ['last_checkpoint'] * len(
        saves), (atomic_writes, renames)
    assert set(renames) >= {'iter_2.pth', 'iter_4.pth', 'best_acc_iter_2.pth',
                            'best_acc_iter_4.pth', published[0]}, renames
    if sys.platform.startswith('linux'):  # /proc/self/fd names the files
        assert not renamed_unsynced, renamed_unsynced
        assert str(tmp_path) in synced  # the folder, after the renames
