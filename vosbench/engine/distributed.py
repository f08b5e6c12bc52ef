"""Distributed set-up that also works on CPU-only machines.

mmengine 0.10.x initialises distributed training with
``torch.cuda.set_device`` (pytorch, slurm and mpi launchers) and wraps the
model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without a GPU. On a
machine without CUDA, :func:`setup_cpu_distributed` initialises the process
group itself with the gloo backend and configures DDP with
``device_ids=None``; with CUDA it changes nothing.
"""
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


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` (and the process group) for CPU distributed runs.

    Args:
        cfg (Config): The runner config; ``env_cfg.dist_cfg.backend`` and
            ``model_wrapper_cfg`` are set when running on CPU.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.

    Returns:
        bool: True when the CPU path was taken (gloo initialised).
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
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
        if 'timeout' in kwargs and not hasattr(kwargs['timeout'], 'seconds'):
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
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
