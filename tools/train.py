"""Train a vosbench model.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402

from vosbench.utils.cli import (add_runner_arguments,  # noqa: E402
                                load_runner_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a VOS model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work '
        'dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision: float16 with loss scaling on a CUDA '
        'GPU, bfloat16 autocast on a CPU (fast where it has AMX or AVX-512 '
        'BF16)')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def apply_amp(cfg: Config) -> None:
    """``--amp``: mmengine's ``AmpOptimWrapper`` on a CUDA GPU, vosbench's
    ``CPUAutocastOptimWrapper`` (bf16 autocast, no loss scale) without one.
    A config that already names another optim wrapper is refused rather
    than silently kept."""
    import torch
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    target = ('AmpOptimWrapper' if torch.cuda.is_available() else
              'CPUAutocastOptimWrapper')
    if wrapper == target:
        return
    if wrapper != 'OptimWrapper':
        raise SystemExit(
            f'--amp: optim_wrapper.type is {wrapper!r}; --amp replaces only '
            f"'OptimWrapper' (by {target!r} on this machine)")
    cfg.optim_wrapper.type = target
    if target == 'AmpOptimWrapper':
        cfg.optim_wrapper.loss_scale = 'dynamic'


def build_train_cfg(args) -> Config:
    """Load the config and apply the command line to it."""
    cfg = load_runner_config(args)
    if args.amp:
        apply_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def choose_resume_checkpoint(cfg: Config) -> None:
    """Check the checkpoint ``--resume`` resumes from (it must open as a
    checkpoint) and set ``cfg.load_from`` to it. With ``--resume`` and no
    path, a damaged or missing checkpoint named by ``last_checkpoint`` is
    reported and the newest intact ``iter_*.pth`` of the work dir is used
    instead; with no intact one, or a damaged ``--resume CKPT``, the run
    stops with a message naming the files."""
    if not cfg.get('resume', False):
        return
    from vosbench.engine import ResumeError, find_resume_checkpoint
    try:
        path = find_resume_checkpoint(cfg.work_dir, cfg.get('load_from'))
    except ResumeError as exc:
        raise SystemExit(f'tools/train.py: {exc}') from None
    if path is None:
        # nothing saved in the work dir yet: train from scratch, as mmengine
        cfg.resume = False
        cfg.load_from = None
    else:
        cfg.load_from = path


def main(argv=None):
    args = parse_args(argv)
    from vosbench.engine import (build_runner, setup_cpu_distributed,
                                 shutdown_distributed)
    from vosbench.utils import keep_freed_memory, register_all_modules

    keep_freed_memory()  # see vosbench/utils/allocator.py
    register_all_modules(init_default_scope=False)
    cfg = build_train_cfg(args)
    choose_resume_checkpoint(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    main()
