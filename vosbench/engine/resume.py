"""Choosing the checkpoint that ``--resume`` resumes from, and checking it.

mmengine's auto-resume reads ``<work_dir>/last_checkpoint`` and hands the
name it holds to the runner unchecked: a truncated checkpoint ends in a
traceback from torch's zip reader, an empty ``last_checkpoint`` in
"checkpoint file not found: " with an empty name.
:func:`find_resume_checkpoint` opens the checkpoint first (with
:func:`~vosbench.engine.load_local_checkpoint`, ``weights_only``); when it
is damaged or missing it says which file and why,
and falls back to the newest intact ``iter_<N>.pth`` / ``epoch_<N>.pth`` of
the work dir, or fails naming both the file and the folder searched.
"""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import Callable, List, Optional, Tuple

from mmengine.logging import print_log

from vosbench.engine.checkpoint import load_local_checkpoint

#: Names of the checkpoints :class:`~mmengine.hooks.CheckpointHook` writes.
CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


class ResumeError(RuntimeError):
    """No intact checkpoint to resume from."""


def _default_warn(message: str) -> None:
    print_log(message, logger='current', level=logging.WARNING)


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None when it can.

    The file must exist, load with ``weights_only=True`` and be a runner
    checkpoint (a dict with ``meta`` and ``state_dict``).
    """
    if not path:
        return 'the name is empty'
    if not osp.exists(path):
        return 'the file does not exist'
    if not osp.isfile(path):
        return 'it is not a file'
    size = osp.getsize(path)
    if size == 0:
        return 'the file is empty (0 bytes)'
    try:
        checkpoint = load_local_checkpoint(path, map_location='cpu')
    except Exception as exc:  # noqa: BLE001 (any reason makes it unusable)
        reason = str(exc).splitlines()[0] if str(exc) else ''
        with open(path, 'rb') as f:
            head = f.read(4)
        what = ('truncated: a zip archive without its end (central '
                'directory)' if head == b'PK\x03\x04'
                and not zipfile.is_zipfile(path) else 'damaged')
        return (f'it does not open as a checkpoint, {what} ({size} bytes; '
                f'{type(exc).__name__}: {reason})')
    if not isinstance(checkpoint, dict):
        return f'it holds a {type(checkpoint).__name__}, not a checkpoint'
    missing = [k for k in ('meta', 'state_dict') if k not in checkpoint]
    if missing:
        return f'it is not a runner checkpoint (no {" or ".join(missing)})'
    return None


def _numbered_checkpoints(folders: List[str]) -> List[Tuple[int, str]]:
    """``(N, path)`` of every ``iter_N.pth`` / ``epoch_N.pth``, newest
    first."""
    found = {}
    for folder in folders:
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            match = CHECKPOINT_NAME.match(name)
            if match:
                path = osp.join(folder, name)
                found[osp.abspath(path)] = (int(match.group(1)), path)
    return sorted(found.values(), key=lambda item: -item[0])


def _newest_intact(folders: List[str], skip: Optional[str],
                   damaged: List[str]) -> Optional[str]:
    for _, path in _numbered_checkpoints(folders):
        if skip and osp.abspath(path) == osp.abspath(skip):
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        damaged.append(f'{path}: {problem}')
    return None


def find_resume_checkpoint(
        work_dir: str,
        checkpoint: Optional[str] = None,
        warn: Optional[Callable[[str], None]] = None) -> Optional[str]:
    """The checkpoint to resume from, checked to open.

    Args:
        work_dir (str): The run's work dir (where ``last_checkpoint`` is).
        checkpoint (str, optional): A checkpoint named by the user
            (``--resume CKPT``). It must be intact: a damaged one is an error
            that names it and the newest intact checkpoint of its folder.
            None: the one ``<work_dir>/last_checkpoint`` names.
        warn (callable, optional): Receives each message about a damaged
            or missing file (default: a warning in the current logger).

    Returns:
        str or None: The path to resume from; None when the work dir has no
        ``last_checkpoint`` and no intact checkpoint (a fresh start, as
        mmengine does without ``last_checkpoint``).

    Raises:
        ResumeError: when the checkpoint to resume from is damaged and no
            intact one can replace it; the message names both.
    """
    warn = warn or _default_warn
    if checkpoint is not None:
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint
        damaged: List[str] = []
        folder = osp.dirname(checkpoint) or '.'
        other = _newest_intact([folder], checkpoint, damaged)
        hint = (f'the newest intact checkpoint there is {other}: pass '
                f'--resume {other} to resume from it' if other else
                f'no other checkpoint in {folder} is intact either')
        raise ResumeError(
            f'cannot resume from {checkpoint}: {problem}; {hint}')

    last_file = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(last_file):
        with open(last_file) as f:
            named = f.read().strip()
        if not named:
            problem = f'{last_file} is empty'
        else:
            reason = checkpoint_problem(named)
            if reason is None:
                return named
            problem = (f'cannot resume from {named} (named by {last_file}): '
                       f'{reason}')
    elif _numbered_checkpoints([work_dir]):
        problem = f'{last_file} does not exist'
    else:
        return None  # nothing was saved yet: start from scratch

    folders = [work_dir]
    if named and osp.dirname(named):
        folders.append(osp.dirname(named))
    damaged = []
    other = _newest_intact(folders, named, damaged)
    if other is not None:
        for line in damaged:
            warn(f'skipping {line}')
        warn(f'{problem}; resuming from {other}, the newest intact '
             'checkpoint, instead')
        return other
    searched = ' and '.join(dict.fromkeys(folders))
    details = ('; damaged: ' + '; '.join(damaged)) if damaged else ''
    if not osp.isfile(last_file):
        # no checkpoint was ever recorded as complete (a run killed while
        # it wrote its first one): nothing to lose, start from scratch
        warn(f'{last_file} does not exist and no checkpoint in {searched} '
             f'is intact{details}: training from scratch')
        return None
    raise ResumeError(
        f'{problem}; and no intact iter_*.pth / epoch_*.pth in {searched} '
        f'can replace it{details}')
