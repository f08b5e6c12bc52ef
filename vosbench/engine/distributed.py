"""Distributed set-up that also works on CPU-only machines.

mmengine 0.10.x initialises distributed training with
``torch.cuda.set_device`` (pytorch, slurm and mpi launchers) and wraps the
model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without a GPU. On a
machine without CUDA, :func:`setup_cpu_distributed` initialises the process
group itself with the gloo backend and configures DDP with
``device_ids=None``; with CUDA it changes nothing.

Either way the process group's timeout is ``env_cfg.dist_cfg.timeout``
(seconds; 300 in ``configs/_base_/default_runtime.py``): a rank that waits
longer for the others in a collective, because one of them is stuck, fails
with an error naming the timeout instead of hanging for torch's default 30
minutes (gloo). On the GPU path mmengine's ``init_dist`` converts the same
number to the ``timedelta`` that ``init_process_group`` takes.
"""
import datetime
import numbers
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def _env_from_slurm(port: Optional[str] = None) -> None:
    """Fill torch's env:// variables from SLURM's."""
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    if 'MASTER_ADDR' not in os.environ:
        addr = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
        os.environ['MASTER_ADDR'] = addr
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['RANK'] = str(proc_id)
    os.environ.setdefault('LOCAL_RANK',
                          os.environ.get('SLURM_LOCALID', '0'))


def _env_from_mpi() -> None:
    """Fill torch's env:// variables from Open MPI's."""
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', '29500')


def _checked_timeout(dist_cfg) -> Optional[datetime.timedelta]:
    """``dist_cfg['timeout']`` (seconds or a timedelta) as a timedelta;
    None when unset. Anything but a positive number is an error naming the
    config key."""
    timeout = dist_cfg.get('timeout')
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif (isinstance(timeout, numbers.Real)
          and not isinstance(timeout, bool)):
        seconds = float(timeout)
    else:
        raise TypeError('env_cfg.dist_cfg.timeout must be a number of '
                        f'seconds, got {timeout!r}')
    if not seconds > 0:
        raise ValueError('env_cfg.dist_cfg.timeout must be a positive '
                         f'number of seconds, got {timeout!r}')
    return datetime.timedelta(seconds=seconds)


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` (and the process group) for CPU distributed runs.

    Args:
        cfg (Config): The runner config; ``env_cfg.dist_cfg.backend`` and
            ``model_wrapper_cfg`` are set when running on CPU, and
            ``env_cfg.dist_cfg.timeout`` (seconds) is checked and passed to
            ``init_process_group``.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.

    Returns:
        bool: True when the CPU path was taken (gloo initialised).
    """
    if launcher == 'none':
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    timeout = _checked_timeout(dist_cfg)
    if torch.cuda.is_available():
        return False
    dist_cfg['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if launcher == 'slurm':
        _env_from_slurm(dist_cfg.get('port'))
    elif launcher == 'mpi':
        _env_from_mpi()
    elif launcher != 'pytorch':
        raise ValueError(f'unknown launcher {launcher!r}: use none, '
                         'pytorch, slurm or mpi')
    if not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items()
                  if k not in ('backend', 'port')}
        if timeout is not None:
            kwargs['timeout'] = timeout
        torch_dist.init_process_group(backend='gloo', **kwargs)
    return True


def shutdown_distributed() -> None:
    """Wait for every rank, then destroy the default process group.

    Call it once a distributed run has finished its work. A rank whose
    interpreter exits with the group still alive can abort at exit
    ("terminate called without an active exception", seen with gloo on a
    loaded CPU machine), and the launcher then reports the whole run as
    failed although every result was written. No-op without a group.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
