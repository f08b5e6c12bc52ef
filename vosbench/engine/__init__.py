"""Runner-side pieces: safe checkpoint loading, atomic checkpoint saving and
checked resuming, CPU distributed set-up, hooks."""
from .checkpoint import (RUNNER_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loader,
                         load_local_checkpoint)
from .distributed import setup_cpu_distributed, shutdown_distributed
from .resume import ResumeError, checkpoint_problem, find_resume_checkpoint
from .hooks import *  # noqa: F401,F403

__all__ = [
    'RUNNER_CHECKPOINT_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_local_checkpoint',
    'setup_cpu_distributed', 'shutdown_distributed', 'ResumeError',
    'checkpoint_problem', 'find_resume_checkpoint'
]

# strict checkpoint loading and the runner that uses it
from .runner import VOSRunner, build_runner  # noqa: E402
from .strict_loading import (CheckpointMismatchError,  # noqa: E402
                             load_checkpoint_checked,
                             load_state_dict_checked)

__all__ += [
    'CheckpointMismatchError', 'VOSRunner', 'build_runner',
    'load_checkpoint_checked', 'load_state_dict_checked'
]

# the test loop of tools/test.py: a failed video is recorded, the others go on
from .loops import VOSTestLoop, format_failures  # noqa: E402

__all__ += ['VOSTestLoop', 'format_failures']

# bf16 autocast training on a CPU (tools/train.py --amp without CUDA)
from .cpu_autocast import CPUAutocastOptimWrapper  # noqa: E402

__all__ += ['CPUAutocastOptimWrapper']
