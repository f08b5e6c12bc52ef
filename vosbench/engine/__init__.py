"""Runner-side pieces: safe checkpoint loading, CPU distributed set-up, hooks."""
from .checkpoint import (RUNNER_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loader,
                         load_local_checkpoint)
from .distributed import setup_cpu_distributed, shutdown_distributed
from .hooks import *  # noqa: F401,F403

__all__ = [
    'RUNNER_CHECKPOINT_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_local_checkpoint',
    'setup_cpu_distributed', 'shutdown_distributed'
]
