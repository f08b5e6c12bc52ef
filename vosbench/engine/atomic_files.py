"""Files that are either complete or absent, whenever the process dies.

A file is written to a temporary name in its own folder, flushed to disk
(``fsync``) and renamed into place with :func:`os.replace`, which is atomic on
POSIX file systems: a reader (or a resumed run) sees the old file or the new
one, never a truncated mix. The folder is fsynced too, so that the rename
itself survives a power cut.
"""
import os
import os.path as osp
import shutil
from typing import Union

#: Suffix of the temporary names; a file ending with it is never a result.
TMP_SUFFIX = '.tmp'


def temporary_name(path: str) -> str:
    """The temporary name :func:`atomic_write` uses for ``path``:
    ``<folder>/.<name>.tmp``, hidden and with another extension so that
    nothing that lists ``*.pth`` (or reads ``last_checkpoint``) takes it for a
    result."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}{TMP_SUFFIX}')


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` (a base name) is one :func:`temporary_name` makes."""
    return name.startswith('.') and name.endswith(TMP_SUFFIX)


def fsync_path(path: str) -> None:
    """Flush a file (or a folder's entries) to disk; a no-op where the
    platform cannot fsync a folder."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rename_and_sync(tmp_path: str, path: str) -> None:
    os.replace(tmp_path, path)
    fsync_path(osp.dirname(osp.abspath(path)))


def replace_into_place(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` and rename it to ``path`` (same folder), then flush
    the folder. ``tmp_path`` may be a folder (DeepSpeed-style checkpoints);
    an existing folder at ``path`` is then removed first."""
    if osp.isdir(tmp_path):
        for root, _, files in os.walk(tmp_path):
            for name in files:
                fsync_path(osp.join(root, name))
        if osp.isdir(path):
            shutil.rmtree(path)
    else:
        fsync_path(tmp_path)
    _rename_and_sync(tmp_path, path)


def atomic_write(path: str, data: Union[bytes, str],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen incomplete.

    Args:
        path (str): The file to write (its folder must exist).
        data (bytes | str): The content; ``str`` is encoded with
            ``encoding``.
        encoding (str): Encoding of ``str`` data.
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    tmp_path = temporary_name(path)
    with open(tmp_path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    _rename_and_sync(tmp_path, path)
