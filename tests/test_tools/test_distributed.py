"""Distributed training and testing on CPU through the shell launchers.

Runs ``tools/dist_train.sh`` and ``tools/dist_test.sh`` with two gloo
processes on a tiny synthetic dataset, and checks what a user relies on:
the ranks train on different data but end with identical weights, the
checkpoint loads safely, and distributed testing (with sampler padding)
writes and scores every video exactly once, with the same J&F as a
single-process run.
"""
import collections
import csv
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'stm',
                  'stm_r18-tiny_1xb4-700iter_synthetic.py')
NUM_PROCS = 2
NUM_TRAIN, NUM_VAL, NUM_FRAMES = 4, 3, 8  # 3 val videos: one rank is padded
MAX_ITERS = 3
TIMEOUT = 300

pytestmark = [
    pytest.mark.skipif(
        not (torch_dist.is_available() and torch_dist.is_gloo_available()),
        reason='torch.distributed with the gloo backend is not available'),
    pytest.mark.skipif(shutil.which('bash') is None,
                       reason='the launch scripts need bash'),
]

# A test-only plugin, loaded in every rank through `custom_imports`.
PROBE_MODULE = 'vosbench_dist_probe'
PROBE_SOURCE = textwrap.dedent('''
    """Hooks that record what each rank did (test-only)."""
    import json
    import os
    import os.path as osp

    import torch
    from mmengine.dist import get_rank, get_world_size
    from mmengine.hooks import Hook
    from mmengine.model import is_model_wrapper

    import vosbench.engine.hooks.prediction_writer_hook as writer_module
    from vosbench.registry import HOOKS


    def _parameters(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return {name: p.detach().clone()
                for name, p in model.named_parameters()}


    def _state_dict(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return {k: v.detach().clone() for k, v in model.state_dict().items()}


    @HOOKS.register_module(force=True)
    class TrainProbeHook(Hook):
        """Writes <work_dir>/rank<r>.json (batches seen) and .pth (weights)."""

        def __init__(self):
            self.batches = []
            self.init_params = None

        def before_train(self, runner):
            self.init_params = _parameters(runner)

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            self.batches.append([
                dict(seq_name=str(s['seq_name']),
                     clip_indices=[int(i) for i in s['clip_indices']])
                for s in data_batch['data_samples']])

        def after_run(self, runner):
            rank = get_rank()
            torch.save(
                dict(init_params=self.init_params,
                     final_params=_parameters(runner),
                     final_state_dict=_state_dict(runner)),
                osp.join(runner.work_dir, f'rank{rank}.pth'))
            with open(osp.join(runner.work_dir, f'rank{rank}.json'), 'w') as f:
                json.dump(dict(rank=rank, world_size=get_world_size(),
                               pid=os.getpid(), batches=self.batches), f)


    @HOOKS.register_module(force=True)
    class MaskWriteCounterHook(Hook):
        """Logs every mask file PredictionWriterHook writes, per rank."""

        def __init__(self, log_dir):
            self.log_dir = log_dir
            self.paths = []

        def before_run(self, runner):
            original = writer_module.write_mask

            def counting_write_mask(path, *args, **kwargs):
                self.paths.append(osp.abspath(path))
                return original(path, *args, **kwargs)

            writer_module.write_mask = counting_write_mask

        def after_run(self, runner):
            os.makedirs(self.log_dir, exist_ok=True)
            out = osp.join(self.log_dir, f'writes_rank{get_rank()}.json')
            with open(out, 'w') as f:
                json.dump(dict(world_size=get_world_size(),
                               paths=self.paths), f)
''')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _run(cmd, env, cwd, what):
    """Run ``cmd``; fail with its output when it fails or hangs."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                              text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f'{what} did not finish in {TIMEOUT} s\n'
                    f'--- stdout ---\n{exc.stdout}\n--- stderr ---\n'
                    f'{exc.stderr}')
    seconds = time.perf_counter() - start
    print(f'{what}: {seconds:.1f} s')
    if proc.returncode != 0:
        pytest.fail(f'{what} exited with {proc.returncode}: {cmd}\n'
                    f'--- stdout ---\n{proc.stdout[-20000:]}\n'
                    f'--- stderr ---\n{proc.stderr[-20000:]}')
    return proc


def _env(probe_dir: str, launcher: bool) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (probe_dir, REPO_ROOT, env.get('PYTHONPATH')) if p)
    env['PYTHON'] = sys.executable
    # Same thread count as torchrun gives each rank, so that single- and
    # multi-process predictions are computed the same way.
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    if launcher:
        env.update(PORT=str(_free_port()), MASTER_ADDR='127.0.0.1',
                   NNODES='1', NODE_RANK='0')
    return env


def _data_root_options(data_root: str) -> list:
    return [f'{split}_dataloader.dataset.data_root={data_root}'
            for split in ('train', 'val', 'test')]


@pytest.fixture(scope='module')
def setup_dirs(tmp_path_factory):
    """Tiny dataset, probe plugin and derived configs."""
    from vosbench.datasets.synthetic import generate_synthetic_davis

    root = tmp_path_factory.mktemp('dist')
    data_root = str(root / 'data')
    info = generate_synthetic_davis(
        data_root, num_train=NUM_TRAIN, num_val=NUM_VAL,
        num_frames=NUM_FRAMES, height=64, width=96, seed=0, progress=False)
    probe_dir = root / 'plugins'
    probe_dir.mkdir()
    (probe_dir / f'{PROBE_MODULE}.py').write_text(PROBE_SOURCE)
    write_log = str(root / 'write_log')
    train_config = root / 'train_probe_config.py'
    train_config.write_text(textwrap.dedent(f'''
        _base_ = [{CONFIG!r}]
        custom_imports = dict(imports=[{PROBE_MODULE!r}],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='TrainProbeHook')]
    '''))
    test_config = root / 'test_probe_config.py'
    test_config.write_text(textwrap.dedent(f'''
        _base_ = [{CONFIG!r}]
        custom_imports = dict(imports=[{PROBE_MODULE!r}],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='MaskWriteCounterHook', log_dir='LOG')]
    '''))
    return dict(root=root, data_root=data_root, info=info,
                probe_dir=str(probe_dir), train_config=str(train_config),
                test_config=str(test_config), write_log=write_log)


@pytest.fixture(scope='module')
def dist_train_run(setup_dirs):
    """Two-process training through tools/dist_train.sh."""
    work_dir = str(setup_dirs['root'] / 'work_dir')
    cmd = [
        'bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'),
        setup_dirs['train_config'], str(NUM_PROCS),
        '--work-dir', work_dir, '--cfg-options',
        *_data_root_options(setup_dirs['data_root']),
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.batch_size=1',
        # one sample per video: each pass over the data splits the videos
        # between the ranks, so they must see different videos
        'train_dataloader.dataset.samples_per_video=1',
        f'train_cfg.max_iters={MAX_ITERS}', 'train_cfg.val_interval=1000',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        f'default_hooks.checkpoint.interval={MAX_ITERS}',
        'default_hooks.logger.interval=1', 'randomness.seed=0',
    ]
    proc = _run(cmd, _env(setup_dirs['probe_dir'], launcher=True),
                str(setup_dirs['root']), 'dist_train.sh')
    return dict(work_dir=work_dir, proc=proc)


def _load_probe(work_dir, rank):
    with open(osp.join(work_dir, f'rank{rank}.json')) as f:
        record = json.load(f)
    weights = torch.load(osp.join(work_dir, f'rank{rank}.pth'),
                         map_location='cpu', weights_only=True)
    return record, weights


def test_dist_train_cpu(dist_train_run, setup_dirs):
    from vosbench.engine import load_local_checkpoint

    work_dir = dist_train_run['work_dir']
    records, weights = zip(*(_load_probe(work_dir, r)
                             for r in range(NUM_PROCS)))

    # both ranks ran, in separate processes of one world
    assert [r['rank'] for r in records] == list(range(NUM_PROCS))
    assert all(r['world_size'] == NUM_PROCS for r in records)
    assert len({r['pid'] for r in records}) == NUM_PROCS
    for record in records:
        assert len(record['batches']) == MAX_ITERS
        assert all(len(batch) == 1 for batch in record['batches'])

    # the ranks saw different data: in every iteration another video, and
    # the first pass over the 4 videos gives each rank two of its own
    seqs = [[batch[0]['seq_name'] for batch in r['batches']]
            for r in records]
    for it in range(MAX_ITERS):
        assert seqs[0][it] != seqs[1][it], (it, seqs)
    first_pass = [set(s[:2]) for s in seqs]
    assert not first_pass[0] & first_pass[1], seqs
    assert first_pass[0] | first_pass[1] == set(setup_dirs['info']['train'])
    assert records[0]['batches'] != records[1]['batches']

    # DDP kept the parameters identical, and training changed them
    params = [w['final_params'] for w in weights]
    init = [w['init_params'] for w in weights]
    assert params[0].keys() == params[1].keys() and params[0]
    for name in params[0]:
        assert torch.equal(params[0][name], params[1][name]), name
        assert torch.equal(init[0][name], init[1][name]), name
    changed = [n for n in params[0]
               if not torch.equal(params[0][n], init[0][n])]
    assert len(changed) > len(params[0]) // 2, (
        f'only {len(changed)} of {len(params[0])} parameters changed')

    # rank 0 saved the checkpoint; it loads with weights_only=True
    ckpt_path = osp.join(work_dir, f'iter_{MAX_ITERS}.pth')
    assert osp.isfile(ckpt_path)
    ckpt = load_local_checkpoint(ckpt_path, map_location='cpu')
    assert ckpt['meta']['iter'] == MAX_ITERS
    state = ckpt['state_dict']
    # BN running statistics are per rank (broadcast_buffers=False, as in
    # mmengine); the checkpoint holds rank 0's model exactly
    final_state = weights[0]['final_state_dict']
    assert state.keys() == final_state.keys()
    for name, value in final_state.items():
        assert torch.equal(state[name], value), name


def _run_test(setup_dirs, checkpoint, out_dir, log_dir, distributed,
              extra=()):
    config = setup_dirs['test_config']
    options = ['--cfg-options',
               f'test_dataloader.dataset.data_root={setup_dirs["data_root"]}',
               f'custom_hooks.0.log_dir={log_dir}']
    work_dir = out_dir + '_work'
    if distributed:
        cmd = ['bash', osp.join(REPO_ROOT, 'tools', 'dist_test.sh'), config,
               checkpoint, str(NUM_PROCS)]
    else:
        cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'),
               config, checkpoint]
    cmd += ['--work-dir', work_dir, '--out', out_dir, *extra, *options]
    return _run(cmd, _env(setup_dirs['probe_dir'], launcher=distributed),
                str(setup_dirs['root']),
                'dist_test.sh' if distributed else 'test.py')


def _read_results(out_dir):
    with open(osp.join(out_dir, 'results-val.json')) as f:
        results = json.load(f)
    with open(osp.join(out_dir, 'per-sequence_results-val.csv')) as f:
        rows = list(csv.DictReader(f))
    return results, rows


def test_dist_test_cpu(dist_train_run, setup_dirs):
    from vosbench.utils.mask_io import read_mask

    checkpoint = osp.join(dist_train_run['work_dir'], f'iter_{MAX_ITERS}.pth')
    root = setup_dirs['root']
    out_dist, out_single = str(root / 'out_dist'), str(root / 'out_single')
    log_dist, log_single = str(root / 'log_dist'), str(root / 'log_single')
    _run_test(setup_dirs, checkpoint, out_dist, log_dist, distributed=True)
    _run_test(setup_dirs, checkpoint, out_single, log_single,
              distributed=False)

    val_seqs = setup_dirs['info']['val']
    assert len(val_seqs) % NUM_PROCS != 0  # the sampler pads one rank
    frames = [f'{i:05d}' for i in range(NUM_FRAMES)]
    expected_pngs = {osp.join(seq, f'{name}.png')
                     for seq in val_seqs for name in frames}

    # every frame of every video written exactly once, across both ranks
    writes = collections.Counter()
    ranks_that_wrote = 0
    for rank in range(NUM_PROCS):
        with open(osp.join(log_dist, f'writes_rank{rank}.json')) as f:
            log = json.load(f)
        assert log['world_size'] == NUM_PROCS
        ranks_that_wrote += bool(log['paths'])
        writes.update(osp.relpath(p, out_dist) for p in log['paths'])
    assert ranks_that_wrote == NUM_PROCS
    assert set(writes) == expected_pngs
    repeated = {p: n for p, n in writes.items() if n != 1}
    assert not repeated, f'mask files written more than once: {repeated}'
    # ... and nothing else (no temporary files) is left in --out
    found = {osp.relpath(osp.join(d, f), out_dist)
             for d, _, files in os.walk(out_dist) for f in files}
    assert found == expected_pngs | {
        'global_results-val.csv', 'per-sequence_results-val.csv',
        'results-val.json', 'vosbench_run.json'}

    # the metric saw every video once: each object listed once
    results, rows = _read_results(out_dist)
    assert sorted(results['sequences']) == sorted(val_seqs)
    names = [row['Sequence'] for row in rows]
    assert len(names) == len(set(names)), names
    expected_objects = []
    for seq in val_seqs:
        first = read_mask(osp.join(setup_dirs['data_root'], 'Annotations',
                                   '480p', seq, '00000.png'))
        expected_objects += [f'{seq}_{i}' for i in np.unique(first) if i]
    assert sorted(names) == sorted(expected_objects)

    # same predictions and scores as one process
    single_results, single_rows = _read_results(out_single)
    assert results['global']['J&F-Mean'] == single_results['global'][
        'J&F-Mean']
    assert results['global'] == single_results['global']
    assert rows == single_rows
    for rel in sorted(expected_pngs):
        assert np.array_equal(read_mask(osp.join(out_dist, rel)),
                              read_mask(osp.join(out_single, rel))), rel


def test_dist_test_tta_cpu(dist_train_run, setup_dirs):
    """``dist_test.sh ... --tta``: each rank streams its videos through
    every view; the predictions equal a single-process --tta run, every
    video is scored once, and TTA did change the predictions."""
    from vosbench.utils.mask_io import read_mask

    checkpoint = osp.join(dist_train_run['work_dir'], f'iter_{MAX_ITERS}.pth')
    root = setup_dirs['root']
    outs = {}
    for name, distributed, extra in (('tta_dist', True, ['--tta']),
                                     ('tta_single', False, ['--tta']),
                                     ('plain_single', False, [])):
        outs[name] = str(root / f'out_{name}')
        if not osp.isdir(outs[name]):
            _run_test(setup_dirs, checkpoint, outs[name],
                      str(root / f'log_{name}'), distributed, extra)
    results, rows = _read_results(outs['tta_dist'])
    single_results, single_rows = _read_results(outs['tta_single'])
    val_seqs = setup_dirs['info']['val']
    assert sorted(results['sequences']) == sorted(val_seqs)
    assert results['global'] == single_results['global']
    assert rows == single_rows
    differs = False
    for seq in val_seqs:
        for i in range(NUM_FRAMES):
            rel = osp.join(seq, f'{i:05d}.png')
            tta = read_mask(osp.join(outs['tta_dist'], rel))
            assert np.array_equal(
                tta, read_mask(osp.join(outs['tta_single'], rel))), rel
            differs |= not np.array_equal(
                tta, read_mask(osp.join(outs['plain_single'], rel)))
    assert differs, '--tta gave the plain predictions'


def _stub(path, name):
    """An executable that prints its arguments and the environment it got,
    one per line, instead of running anything."""
    stub = path / name
    stub.write_text('#!/usr/bin/env bash\n'
                    'printf "%s\\n" "$@"\n'
                    'echo "PYTHONPATH=${PYTHONPATH}"\n')
    stub.chmod(0o755)
    return str(stub)


def test_dist_scripts_pass_arguments(tmp_path):
    """dist_*.sh hand the environment and extra arguments to torchrun."""
    python = _stub(tmp_path, 'fake_python')
    env = dict(os.environ, PYTHON=python, NNODES='2', NODE_RANK='1',
               PORT='12345', MASTER_ADDR='10.0.0.1')
    train = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), 'cfg.py',
         '4', '--work-dir', 'w d', '--amp'],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    args = train.stdout.splitlines()
    assert args[:8] == [
        '-m', 'torch.distributed.run', '--nnodes=2', '--node_rank=1',
        '--master_addr=10.0.0.1', '--nproc_per_node=4',
        '--master_port=12345', osp.join(REPO_ROOT, 'tools', 'train.py')]
    assert args[8:14] == ['cfg.py', '--launcher', 'pytorch', '--work-dir',
                          'w d', '--amp']
    assert args[14].startswith(f'PYTHONPATH={REPO_ROOT}')

    test = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_test.sh'), 'cfg.py',
         'ckpt.pth', '2', '--out', 'o'],
        env=dict(os.environ, PYTHON=python), capture_output=True, text=True,
        timeout=60, check=True)
    args = test.stdout.splitlines()
    assert args[2:7] == ['--nnodes=1', '--node_rank=0',
                         '--master_addr=127.0.0.1', '--nproc_per_node=2',
                         '--master_port=29500']
    assert args[7:13] == [osp.join(REPO_ROOT, 'tools', 'test.py'), 'cfg.py',
                          'ckpt.pth', '--launcher', 'pytorch', '--out']


def test_slurm_scripts_pass_arguments(tmp_path):
    """slurm_*.sh build the srun command from GPUS, GPUS_PER_NODE, ..."""
    _stub(tmp_path, 'srun')
    env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
               PYTHON='py', GPUS='16', SRUN_ARGS='--qos=high --time=1:00')
    env.pop('GPUS_PER_NODE', None)
    env.pop('CPUS_PER_TASK', None)
    train = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'slurm_train.sh'), 'part',
         'job', 'cfg.py', 'wd', '--resume'],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    args = train.stdout.splitlines()
    for expected in ('-p', 'part', '--job-name=job', '--gres=gpu:8',
                     '--ntasks=16', '--ntasks-per-node=8',
                     '--cpus-per-task=5', '--qos=high', '--time=1:00'):
        assert expected in args, (expected, args)
    tail = args[args.index('py'):]
    assert tail[:8] == ['py', '-u', osp.join(REPO_ROOT, 'tools', 'train.py'),
                        'cfg.py', '--work-dir=wd', '--launcher', 'slurm',
                        '--resume']
    assert tail[8].startswith(f'PYTHONPATH={REPO_ROOT}')

    env.update(GPUS='2', GPUS_PER_NODE='1', CPUS_PER_TASK='3', SRUN_ARGS='')
    test = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'slurm_test.sh'), 'part',
         'job', 'cfg.py', 'ckpt.pth', '--out', 'o'],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    args = test.stdout.splitlines()
    for expected in ('--gres=gpu:1', '--ntasks=2', '--ntasks-per-node=1',
                     '--cpus-per-task=3'):
        assert expected in args, (expected, args)
    tail = args[args.index('py'):]
    assert tail[:8] == ['py', '-u', osp.join(REPO_ROOT, 'tools', 'test.py'),
                        'cfg.py', 'ckpt.pth', '--launcher', 'slurm', '--out']
