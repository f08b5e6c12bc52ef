"""What made a results folder: the manifest ``vosbench_run.json``.

``tools/test.py --out DIR`` writes ``DIR/vosbench_run.json`` before the
first video runs and again when the run ends::

    {"format": 1, "tool": "tools/test.py",
     "config": {"path": ..., "sha256": ...},   # sha256 of the file's text
     "cfg_options": {...} | null, "tta": false, "partial_load": false,
     "checkpoint": {"path": ..., "sha256": ...} | null,
     "member_checkpoints": [{"path": ..., "sha256": ...}, ...],
     "vosbench_version": "...", "command": [...],
     "start_time": "...", "end_time": "..." | null,
     "complete": true | false, "failed_videos": [{"video", "reason"}],
     "error": "..." | null, "mixed": false, "mixed_reason": null}

``complete`` is true only for a run that ended with every video segmented
and scored; ``end_time`` null means the run is going on or was killed. The
*identity* of a run is its config text, checkpoint contents (sha256),
``--cfg-options``, ``--tta`` and ``--partial-load``: a run into a folder
whose manifest names another identity is refused (:class:`ResultsFolderError`)
unless it may empty the folder first (``--overwrite``); a rerun of the same
identity writes over the earlier run. A folder that already held files but
no manifest is used as it is and the manifest says ``mixed``.

This module only uses the standard library (``tools/eval_results.py`` reads
manifests without torch).
"""
import datetime
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import socket
from typing import Any, List, Optional, Sequence

from vosbench.version import __version__
from .functional.davis_summary import write_text_atomically

__all__ = [
    'MANIFEST_NAME', 'ResultsFolderError', 'file_sha256', 'run_identity',
    'identity_differences', 'read_manifest', 'write_manifest',
    'ensure_writable_folder', 'clean_temporary_files',
    'prepare_results_folder', 'finish_manifest', 'manifest_warnings'
]

MANIFEST_NAME = 'vosbench_run.json'
_PROBE_PREFIX = '.vosbench_write_probe.'
MANIFEST_FORMAT = 1

#: Temporary files of vosbench's atomic writes, ``<file>.tmp<pid>`` and
#: ``<mask>.png.tmp<pid>.png`` (:func:`vosbench.utils.mask_io.write_mask`),
#: that a killed process leaves behind.
TEMPORARY_FILE = re.compile(
    r'\.(png|csv|json|zip|txt)\.tmp\d+(\.png)?$')

#: The keys of a manifest that make a run's identity, and what they are
#: called in messages.
IDENTITY_KEYS = {
    'config': 'config',
    'cfg_options': '--cfg-options',
    'checkpoint': 'checkpoint',
    'member_checkpoints': 'ensemble member checkpoints',
    'tta': '--tta',
    'partial_load': '--partial-load',
}


class ResultsFolderError(ValueError):
    """A results folder cannot be used (not writable, or holding the results
    of another run)."""


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec='seconds')


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def _file_entry(path: Optional[str]) -> Optional[dict]:
    if path is None:
        return None
    return dict(path=osp.abspath(path), sha256=file_sha256(path))


def _plain(value: Any) -> Any:
    """``value`` as JSON data (tuples become lists, others their text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def run_identity(config: str,
                 checkpoint: Optional[str],
                 cfg_options: Optional[dict] = None,
                 tta: bool = False,
                 partial_load: bool = False,
                 member_checkpoints: Sequence[str] = ()) -> dict:
    """The identity of a test run (see the module docstring).

    Args:
        config (str): The config file.
        checkpoint (str, optional): The checkpoint file (None for an
            ensemble, whose members name theirs: ``member_checkpoints``).
        cfg_options (dict, optional): ``--cfg-options``.
        tta (bool): ``--tta``.
        partial_load (bool): ``--partial-load``.
        member_checkpoints (Sequence[str]): Checkpoints of ensemble
            members.
    """
    return dict(
        config=_file_entry(config),
        cfg_options=_plain(cfg_options) if cfg_options else None,
        checkpoint=_file_entry(checkpoint),
        member_checkpoints=[_file_entry(p) for p in member_checkpoints],
        tta=bool(tta),
        partial_load=bool(partial_load))


def _identity_value(key: str, value: Any) -> Any:
    """What of an identity entry is compared: contents, not paths."""
    if key in ('config', 'checkpoint'):
        return None if not value else value.get('sha256')
    if key == 'member_checkpoints':
        return [None if not v else v.get('sha256') for v in value or []]
    if key in ('tta', 'partial_load'):
        return bool(value)
    return value or None


def _describe(key: str, value: Any) -> str:
    if key in ('config', 'checkpoint'):
        if not value:
            return 'none'
        return f'{value.get("path")} (sha256 {str(value.get("sha256"))[:12]})'
    if key == 'member_checkpoints':
        return ', '.join(_describe('checkpoint', v) for v in value or []) \
            or 'none'
    if key in ('tta', 'partial_load'):
        return 'on' if value else 'off'
    return json.dumps(value, sort_keys=True) if value else 'none'


def identity_differences(old: dict, new: dict) -> List[str]:
    """What differs between the identities of two runs, one line each,
    naming both (``'checkpoint: a.pth (sha256 ...) then, b.pth (sha256
    ...) now'``); empty when they are the same run."""
    lines = []
    for key, label in IDENTITY_KEYS.items():
        if _identity_value(key, old.get(key)) != \
                _identity_value(key, new.get(key)):
            lines.append(f'{label}: {_describe(key, old.get(key))} then, '
                         f'{_describe(key, new.get(key))} now')
    return lines


def read_manifest(folder: str) -> Optional[dict]:
    """The manifest of a results folder; None if it has none.

    Raises:
        ResultsFolderError: if the manifest exists but cannot be read.
    """
    path = osp.join(folder, MANIFEST_NAME)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise ResultsFolderError(f'cannot read the manifest {path}: {exc}') \
            from exc
    if not isinstance(manifest, dict):
        raise ResultsFolderError(f'{path} is not a vosbench run manifest')
    return manifest


def write_manifest(folder: str, manifest: dict) -> str:
    """Write ``folder/vosbench_run.json`` through a temporary file and a
    rename. Returns its path."""
    path = osp.join(folder, MANIFEST_NAME)
    write_text_atomically(
        path, json.dumps(manifest, indent=1, default=str) + '\n')
    return path


def ensure_writable_folder(folder: str, what: str = 'output folder') -> str:
    """Create ``folder`` (and its parents) and prove it writable by writing
    and deleting a probe file. Returns its absolute path.

    Raises:
        ResultsFolderError: naming the folder and the reason.
    """
    folder = osp.abspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ResultsFolderError(
            f'{what} {folder} cannot be created: {exc.strerror or exc}'
            f'{_blocking_file(folder)}') from exc
    probe = osp.join(folder, f'{_PROBE_PREFIX}{os.getpid()}')
    try:
        with open(probe, 'wb') as f:
            f.write(b'vosbench write probe\n')
            f.flush()
            os.fsync(f.fileno())
        try:
            os.remove(probe)
        except FileNotFoundError:  # removed by a process emptying it
            pass
    except OSError as exc:
        raise ResultsFolderError(
            f'{what} {folder} is not writable: {exc.strerror or exc}') \
            from exc
    return folder


def _blocking_file(folder: str) -> str:
    """`` (... is a file)`` when a path above ``folder`` is not a folder."""
    path = folder
    while path and not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    if osp.exists(path) and not osp.isdir(path):
        return f' ({path} is a file)'
    return ''


def _kept(path: str, keep: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``keep`` or holds one of them."""
    path = osp.abspath(path)
    return any(k == path or k.startswith(path + os.sep) for k in keep)


def clean_temporary_files(folder: str,
                          keep: Sequence[str] = ()) -> List[str]:
    """Delete the temporary files (:data:`TEMPORARY_FILE`) a killed run left
    anywhere under ``folder`` (but in ``keep`` and what holds it). Returns
    their paths."""
    removed = []
    if not osp.isdir(folder):
        return removed
    keep = [osp.abspath(k) for k in keep]
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs
                   if not any(k == osp.abspath(osp.join(root, d))
                              for k in keep)]
        for name in files:
            if TEMPORARY_FILE.search(name):
                path = osp.join(root, name)
                try:
                    os.remove(path)
                except FileNotFoundError:
                    continue
                removed.append(path)
    return sorted(removed)


def _empty_folder(folder: str, keep: Sequence[str] = ()) -> None:
    """Delete everything in ``folder`` but the write probes of other
    processes of the same run and the entries that are or hold ``keep``."""
    for entry in os.scandir(folder):
        if entry.name.startswith(_PROBE_PREFIX) or _kept(entry.path, keep):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
        except FileNotFoundError:
            continue


def prepare_results_folder(folder: str,
                           identity: dict,
                           overwrite: bool = False,
                           command: Optional[Sequence[str]] = None,
                           write: bool = True,
                           keep: Sequence[str] = ()) -> dict:
    """Make ``folder`` ready for a run of ``identity``, before its first
    video, and write its manifest (``complete: false``).

    - The folder is created and proven writable.
    - An existing manifest of another identity: :class:`ResultsFolderError`
      naming what differs (both values), unless ``overwrite``, which
      empties the folder first. The same identity: the earlier run's files
      stay and are written over.
    - Files but no manifest: ``overwrite`` is refused (the folder is not
      known to be a results folder); without it the folder is used and the
      manifest says ``mixed``.
    - Temporary files a killed run left behind are deleted.

    Args:
        folder (str): The results folder (``--out``).
        identity (dict): :func:`run_identity` of this run.
        overwrite (bool): Empty a folder made by another run.
        command (Sequence[str], optional): The command line, recorded.
        write (bool): Change nothing on disk but the probe (the other
            ranks of a distributed run: only rank 0 prepares the folder);
            the checks are the same.
        keep (Sequence[str]): Paths inside ``folder`` that are not results
            (the run's work dir, when it is inside ``--out``): never
            emptied, cleaned or counted.

    Returns:
        dict: The manifest written (or that would be written).

    Raises:
        ResultsFolderError: see above.
    """
    folder = ensure_writable_folder(folder, 'results folder (--out)')
    keep = [osp.abspath(k) for k in keep]
    old = read_manifest(folder)
    entries = [e for e in os.listdir(folder)
               if e != MANIFEST_NAME and not TEMPORARY_FILE.search(e)
               and not e.startswith(_PROBE_PREFIX)
               and not _kept(osp.join(folder, e), keep)]
    mixed, mixed_reason = False, None
    emptied = False
    if old is not None:
        differences = identity_differences(old, identity)
        if differences:
            if not overwrite:
                raise ResultsFolderError(
                    f'results folder {folder} holds the results of another '
                    f'run ({MANIFEST_NAME}, started '
                    f'{old.get("start_time")}); what differs:\n  '
                    + '\n  '.join(differences)
                    + '\nIts predictions would mix with this run\'s: choose '
                    'another --out, or pass --overwrite to empty it first')
            if write:
                _empty_folder(folder, keep)
            emptied = True
        else:
            mixed = bool(old.get('mixed'))
            mixed_reason = old.get('mixed_reason')
    elif entries:
        if overwrite:
            raise ResultsFolderError(
                f'results folder {folder} is not empty ({len(entries)} '
                f'entries, e.g. {sorted(entries)[0]!r}) and has no '
                f'{MANIFEST_NAME}, so it was not made by tools/test.py: '
                '--overwrite empties only results folders. Remove its '
                'contents yourself or choose another --out')
        mixed = True
        mixed_reason = (f'the folder held {len(entries)} entries and no '
                        f'{MANIFEST_NAME} before the run of '
                        f'{_now()}: files of an unknown run may remain')
    if write:
        clean_temporary_files(folder, keep)
    manifest = dict(
        format=MANIFEST_FORMAT,
        tool='tools/test.py',
        **identity,
        vosbench_version=__version__,
        command=list(command) if command is not None else None,
        host=socket.gethostname(),
        pid=os.getpid(),
        start_time=_now(),
        end_time=None,
        complete=False,
        failed_videos=[],
        error=None,
        mixed=mixed,
        mixed_reason=mixed_reason,
        emptied_earlier_run=emptied)
    if write:
        write_manifest(folder, manifest)
    return manifest


def finish_manifest(folder: str, manifest: dict,
                    failed_videos: Sequence[dict] = (),
                    error: Optional[str] = None) -> dict:
    """Record the end of a run: ``end_time``, ``failed_videos`` (dicts with
    ``video`` and ``reason``), ``error`` (what stopped the run, if
    anything) and ``complete`` (neither). Returns the manifest written."""
    manifest = dict(manifest)
    manifest['end_time'] = _now()
    manifest['failed_videos'] = [dict(v) for v in failed_videos]
    manifest['error'] = error
    manifest['complete'] = error is None and not failed_videos
    write_manifest(folder, manifest)
    return manifest


def manifest_warnings(folder: str) -> List[str]:
    """Why the predictions of a results folder may not be one whole run,
    from its manifest (none without a manifest: a folder of another
    method's predictions)."""
    try:
        manifest = read_manifest(folder)
    except ResultsFolderError as exc:
        return [str(exc)]
    if manifest is None:
        return []
    path = osp.join(folder, MANIFEST_NAME)
    checkpoint = _describe('checkpoint', manifest.get('checkpoint'))
    run = (f'the run of {manifest.get("start_time")} (checkpoint '
           f'{checkpoint})')
    warnings = []
    if not manifest.get('complete'):
        if manifest.get('end_time') is None:
            state = 'never ended (it was killed, or is still running)'
        elif manifest.get('error'):
            state = f'stopped: {manifest["error"]}'
        else:
            state = 'ended incomplete'
        failed = manifest.get('failed_videos') or []
        if failed:
            names = ', '.join(str(v.get('video')) for v in failed[:5])
            state += (f'; {len(failed)} video(s) failed: {names}'
                      f'{", ..." if len(failed) > 5 else ""}')
        warnings.append(f'{path}: {run} {state}; its predictions may be '
                        'missing or partial')
    if manifest.get('mixed'):
        warnings.append(f'{path}: the folder may mix runs: '
                        f'{manifest.get("mixed_reason")}')
    return warnings
