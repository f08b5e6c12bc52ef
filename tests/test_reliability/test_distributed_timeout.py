"""No hung distributed job (issue 12, item 7 and its table row).

The table row: one of two ``dist_train.sh`` ranks stopped (SIGSTOP, a stuck
worker); the other waited silently, for gloo's default 30 minutes. Now the
process group's timeout is ``env_cfg.dist_cfg.timeout`` (seconds; 300 in
``configs/_base_/default_runtime.py``): here a 2-process CPU run through
``tools/dist_train.sh`` with ``--cfg-options env_cfg.dist_cfg.timeout=10``
has rank 1 stopped mid-training, and rank 0 must exit non-zero with an error
naming the timeout about 10 s later.

``VOSBENCH_RELIABILITY_BASELINE=1`` runs with torch's default gloo timeout
(30 min, what applied before), to see the test fail.
"""
import datetime
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torch.distributed as torch_dist

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_RUNTIME = osp.join(REPO_ROOT, 'configs', '_base_',
                           'default_runtime.py')
BASELINE = os.environ.get('VOSBENCH_RELIABILITY_BASELINE') == '1'
TIMEOUT_S = 10
START_LIMIT_S = 120  # both ranks training (imports on a loaded machine)
EXIT_LIMIT_S = 90  # rank 0 gone after rank 1 was stopped

TOY_MODULE = 'vosbench_timeout_toy'
TOY_SOURCE = textwrap.dedent('''
    """A toy model and data set, and a hook that tells when a rank trains."""
    import os
    import os.path as osp

    import torch
    from mmengine.dist import get_rank
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel
    from torch.utils.data import Dataset

    from vosbench.registry import DATASETS, HOOKS, MODELS


    @MODELS.register_module(force=True)
    class TimeoutToyModel(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(inputs)
            if mode == 'loss':
                return dict(loss=((out.squeeze(1) - data_samples)**2).mean())
            return out


    @DATASETS.register_module(force=True)
    class TimeoutToyDataset(Dataset):
        METAINFO = dict()

        def __len__(self):
            return 64

        def __getitem__(self, index):
            x = torch.tensor([float(index % 8) / 4, 1.0])
            return dict(inputs=x, data_samples=torch.tensor(0.5 * index))


    @HOOKS.register_module(force=True)
    class TrainingStartedHook(Hook):
        """Writes <work_dir>/rank<r>.pid once the rank has trained 3
        iterations (so both ranks are in the process group)."""

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if runner.iter == 3:
                path = osp.join(runner.work_dir, f'rank{get_rank()}.pid')
                with open(path + '.tmp', 'w') as f:
                    f.write(str(os.getpid()))
                os.replace(path + '.tmp', path)
''')

CONFIG_SOURCE = textwrap.dedent(f'''
    _base_ = [{DEFAULT_RUNTIME!r}]
    custom_imports = dict(imports=[{TOY_MODULE!r}],
                          allow_failed_imports=False)
    model = dict(type='TimeoutToyModel')
    train_dataloader = dict(
        dataset=dict(type='TimeoutToyDataset'),
        sampler=dict(type='InfiniteSampler', shuffle=True),
        collate_fn=dict(type='default_collate'),
        batch_size=2, num_workers=0)
    train_cfg = dict(by_epoch=False, max_iters=10**9)
    optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-4))
    default_hooks = dict(
        logger=dict(interval=10**8),
        checkpoint=dict(interval=10**8, save_last=False))
    custom_hooks = [dict(type='TrainingStartedHook')]
''')

pytestmark = pytest.mark.skipif(
    not (torch_dist.is_available() and torch_dist.is_gloo_available()
         and shutil.which('bash')),
    reason='needs torch.distributed with gloo, and bash')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie counts as exited)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except (FileNotFoundError, ProcessLookupError):
        return True


def _kill(pid: int) -> None:
    for sig in (signal.SIGKILL, signal.SIGCONT):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='reads /proc')
def test_stopped_rank_makes_the_other_fail_with_the_timeout(tmp_path):
    plugin_dir = tmp_path / 'plugins'
    plugin_dir.mkdir()
    (plugin_dir / f'{TOY_MODULE}.py').write_text(TOY_SOURCE)
    config = tmp_path / 'config.py'
    config.write_text(CONFIG_SOURCE)
    work_dir = tmp_path / 'work'
    log_path = tmp_path / 'dist_train.log'
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHON=sys.executable, PORT=str(_free_port()),
               MASTER_ADDR='127.0.0.1', NNODES='1', NODE_RANK='0',
               PYTHONPATH=os.pathsep.join(
                   p for p in (str(plugin_dir), REPO_ROOT,
                               os.environ.get('PYTHONPATH')) if p))
    cmd = ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'),
           str(config), '2', '--work-dir', str(work_dir)]
    # the baseline: torch's default gloo timeout, which applied before
    timeout = 1800 if BASELINE else TIMEOUT_S
    cmd += ['--cfg-options', f'env_cfg.dist_cfg.timeout={timeout}']
    pids = {}
    with open(log_path, 'w') as log:
        launcher = subprocess.Popen(cmd, env=env, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)

        def output():
            return log_path.read_text(errors='replace')

        try:
            deadline = time.monotonic() + START_LIMIT_S
            while len(pids) < 2:
                for rank in (0, 1):
                    path = work_dir / f'rank{rank}.pid'
                    if rank not in pids and path.exists():
                        pids[rank] = int(path.read_text())
                if launcher.poll() is not None:
                    pytest.fail('dist_train.sh ended before both ranks '
                                f'trained:\n{output()[-5000:]}')
                if time.monotonic() > deadline:
                    pytest.fail(f'the ranks did not start training in '
                                f'{START_LIMIT_S} s:\n{output()[-5000:]}')
                time.sleep(0.2)

            os.kill(pids[1], signal.SIGSTOP)  # a stuck worker
            stopped = time.monotonic()
            while not _gone(pids[0]):
                if time.monotonic() - stopped > EXIT_LIMIT_S:
                    pytest.fail(
                        f'rank 0 still waits {EXIT_LIMIT_S} s after rank 1 '
                        f'was stopped (timeout {timeout} s):\n'
                        f'{output()[-5000:]}')
                time.sleep(0.2)
            waited = time.monotonic() - stopped
        finally:
            for pid in pids.values():
                _kill(pid)  # the stopped rank, and rank 0 if still there
            try:
                launcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(launcher.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            launcher.wait()

    text = output()
    # it waited for the timeout (not less), then failed with it
    assert waited >= TIMEOUT_S * 0.8, (waited, text[-5000:])
    assert launcher.returncode != 0
    # gloo: "RuntimeError: [...] Timed out waiting 10000ms for recv
    # operation to complete"
    timeout_lines = [line for line in text.splitlines()
                     if re.search(r'timed out', line, re.IGNORECASE)]
    assert timeout_lines, text[-5000:]
    assert any(f'{TIMEOUT_S * 1000}ms' in line for line in timeout_lines), \
        timeout_lines
    # torchrun's summary: rank 0 itself exited with an error status
    exit_codes = re.findall(rf'exitcode\s*:\s*(-?\d+) \(pid: {pids[0]}\)',
                            text)
    assert exit_codes and int(exit_codes[0]) != 0, text[-3000:]
    print(f'rank 0 exited {waited:.1f} s after rank 1 was stopped '
          f'(timeout {TIMEOUT_S} s): {timeout_lines[0].strip()}')


def _default_dist_cfg():
    from mmengine.config import Config
    return Config.fromfile(DEFAULT_RUNTIME).env_cfg.dist_cfg


def test_default_timeout_reaches_gloo_as_timedelta(monkeypatch):
    """The CPU path (vosbench's setup_cpu_distributed) passes the default
    config's timeout to ``init_process_group`` as a timedelta."""
    from mmengine.config import Config

    import vosbench.engine.distributed as distributed
    calls = []
    monkeypatch.setattr(distributed.torch.cuda, 'is_available',
                        lambda: False)
    monkeypatch.setattr(distributed.torch_dist, 'is_initialized',
                        lambda: False)
    monkeypatch.setattr(distributed.torch_dist, 'init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    cfg = Config(dict(env_cfg=dict(dist_cfg=_default_dist_cfg())))
    assert distributed.setup_cpu_distributed(cfg, 'pytorch') is True
    assert calls == [dict(backend='gloo',
                          timeout=datetime.timedelta(seconds=300))]
    bad = Config(dict(env_cfg=dict(dist_cfg=dict(timeout='soon'))))
    with pytest.raises(TypeError, match='env_cfg.dist_cfg.timeout'):
        distributed.setup_cpu_distributed(bad, 'pytorch')


def test_default_timeout_reaches_nccl_as_timedelta(monkeypatch):
    """The GPU path: mmengine's ``init_dist`` (what the runner calls with
    ``env_cfg.dist_cfg``) converts the default config's seconds to the
    timedelta that ``init_process_group`` takes. Checked without a GPU:
    ``set_device`` and ``init_process_group`` are recorded, not run."""
    import mmengine.dist.utils as dist_utils
    calls = []
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setattr(dist_utils.mp, 'get_start_method',
                        lambda allow_none=False: 'fork')
    monkeypatch.setattr(dist_utils.torch.cuda, 'set_device',
                        lambda device: None)
    monkeypatch.setattr(dist_utils.torch_dist, 'init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    dist_utils.init_dist('pytorch', **_default_dist_cfg())
    assert calls == [dict(backend='nccl',
                          timeout=datetime.timedelta(seconds=300))]
