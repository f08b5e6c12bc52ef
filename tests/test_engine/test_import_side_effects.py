"""Importing vosbench changes nothing in mmengine; the safe checkpoint
loader is installed by ``register_all_modules`` (and ``init_model`` and the
tools), and a runner built after it loads checkpoints only the safe way.

Each check runs in a fresh interpreter: other tests install the loader in
this one.
"""
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run_script(script: str, tmp_path) -> str:
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(script), str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_bare_imports_patch_nothing(tmp_path):
    out = run_script('''
        from mmengine.logging import HistoryBuffer
        from mmengine.runner.checkpoint import CheckpointLoader
        loader = CheckpointLoader._schemes['']
        getstate = HistoryBuffer.__dict__.get('__getstate__')
        import vosbench.apis, vosbench.datasets, vosbench.engine
        import vosbench.evaluation, vosbench.inference, vosbench.models
        import vosbench.visualization
        assert CheckpointLoader._schemes[''] is loader, 'loader replaced'
        assert HistoryBuffer.__dict__.get('__getstate__') is getstate
        from vosbench.utils import register_all_modules
        register_all_modules()
        from vosbench.engine import load_local_checkpoint
        assert CheckpointLoader._schemes[''] is load_local_checkpoint
        assert HistoryBuffer.__dict__.get('__getstate__') is not getstate
        print('ok')
    ''', tmp_path)
    assert out.strip() == 'ok'


def test_init_model_installs_the_safe_loader(tmp_path):
    out = run_script('''
        from mmengine.runner.checkpoint import CheckpointLoader
        from vosbench.apis import init_model
        from vosbench.engine import load_local_checkpoint
        assert CheckpointLoader._schemes[''] is not load_local_checkpoint
        init_model('configs/_base_/models/stm_r18-tiny.py')
        assert CheckpointLoader._schemes[''] is load_local_checkpoint
        print('ok')
    ''', tmp_path)
    assert out.strip() == 'ok'


def test_runner_after_register_all_modules_loads_only_safely(tmp_path):
    """A runner checkpoint (message hub with HistoryBuffer) loads; a
    pickle that runs code is refused by vosbench's loader and runs
    nothing."""
    out = run_script('''
        import os, os.path as osp, sys
        import torch
        from mmengine.config import Config
        from mmengine.logging import HistoryBuffer
        from mmengine.runner import Runner
        from vosbench.utils import register_all_modules
        from vosbench.engine import UnsafeCheckpointError
        register_all_modules()
        tmp = sys.argv[1]
        marker = osp.join(tmp, 'marker')

        class SystemCall:
            def __reduce__(self):
                return (os.system, (f'touch {marker}', ))

        cfg = Config.fromfile('configs/_base_/models/stm_r18-tiny.py')
        def runner(load_from, name):
            return Runner.from_cfg(Config(dict(
                model=cfg.model, work_dir=osp.join(tmp, name),
                load_from=load_from, default_scope='vosbench',
                experiment_name=name)))
        good = runner(None, 'good')
        history = HistoryBuffer()
        history.update(1.5)
        path = osp.join(tmp, 'runner_ckpt.pth')
        torch.save(dict(state_dict=good.model.state_dict(),
                        message_hub=dict(log_scalars={'loss': history}),
                        meta=dict(iter=3)), path)
        loaded = runner(path, 'loaded')
        loaded.load_or_resume()
        for key, value in good.model.state_dict().items():
            assert torch.equal(loaded.model.state_dict()[key], value), key
        evil = osp.join(tmp, 'evil.pth')
        torch.save(dict(state_dict={}, payload=SystemCall()), evil)
        try:
            runner(evil, 'evil').load_or_resume()
        except UnsafeCheckpointError as exc:
            assert 'evil.pth' in str(exc)
        else:
            raise AssertionError('the malicious checkpoint loaded')
        assert not osp.exists(marker), 'the pickle ran code'
        print('ok')
    ''', tmp_path)
    assert out.strip().splitlines()[-1] == 'ok'
