"""File handling shared by the checkpoint converters.

Used by ``stm_to_vosbench.py``, ``resnest_to_vosbench.py`` and
``mmpretrain_resnet_to_vosbench.py``: read a checkpoint with
``weights_only=True``, convert its state dict with a pure function of
:mod:`vosbench.models.utils.backbone_converters` (or
:mod:`~vosbench.models.utils.stm_checkpoint`), and write
``dict(state_dict=..., meta=...)`` through a temporary file and
``os.replace`` so that the destination is never left half written. Every
user-facing error is a :class:`ConversionError` whose message names the file;
:func:`run_conversion` prints it as ``<tool>: error: ...`` and gives exit
status 1.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
import tempfile
from importlib.util import find_spec
from typing import Callable, Iterable, Mapping, Optional

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if find_spec('vosbench') is None:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

from vosbench.engine.checkpoint import load_local_checkpoint  # noqa: E402
from vosbench.utils.state_dict import strip_prefix  # noqa: E402

#: Buffers, not parameters, of a backbone state dict.
BUFFER_SUFFIXES = ('.running_mean', '.running_var', '.num_batches_tracked')


class ConversionError(Exception):
    """A user-facing error; the message names the file concerned."""


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_state_dict_file(src: str) -> dict:
    """The state dict in ``src`` (a plain state dict, or a checkpoint dict
    with a ``state_dict`` entry, as mmpretrain saves), loaded with
    ``torch.load(weights_only=True)``."""
    if not osp.isfile(src):
        raise ConversionError(f'{src}: no such file')
    try:
        ckpt = load_local_checkpoint(src, map_location='cpu')
    except Exception as exc:  # pickle, zip or torch errors
        raise ConversionError(
            f'{src}: cannot be loaded as a PyTorch checkpoint with '
            f'weights_only=True ({type(exc).__name__}: {exc})') from exc
    if isinstance(ckpt, dict) and isinstance(ckpt.get('state_dict'), dict):
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict):
        raise ConversionError(f'{src}: holds a {type(ckpt).__name__}, not a '
                              'state dict')
    return ckpt


def save_atomically(obj: dict, dst: str) -> None:
    """``torch.save`` to a temporary file beside ``dst``, then rename."""
    directory = osp.dirname(osp.abspath(dst))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f'.{osp.basename(dst)}.', suffix='.tmp', dir=directory)
    except OSError as exc:
        raise ConversionError(f'{dst}: cannot write here ({exc})') from exc
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
        os.replace(tmp, dst)
    except BaseException as exc:
        if osp.exists(tmp):
            os.remove(tmp)
        if isinstance(exc, OSError):
            raise ConversionError(f'{dst}: cannot be written ({exc})') from exc
        raise


def convert_file(src: str, dst: str,
                 convert: Callable[[Mapping], Mapping],
                 plan: Optional[Callable[[Iterable[str]], object]],
                 meta: dict) -> str:
    """Convert ``src`` to ``dst`` with ``convert`` (a pure state-dict
    function). ``plan(keys)`` (keys without ``module.``), if given, returns
    the :class:`ConversionPlan`, whose dropped keys, and the target keys no
    source key gives (filled ``num_batches_tracked``), go into the summary
    and the ``meta``. Returns the summary; raises :class:`ConversionError`
    naming the file."""
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ConversionError(f'{dst}: the destination is the source file')
    source = load_state_dict_file(src)
    try:
        state_dict = convert(source)
        conversion = None if plan is None else plan(
            list(strip_prefix(source)))
    except (TypeError, ValueError) as exc:
        raise ConversionError(f'{src}: {exc}') from exc
    num_parameters = sum(v.numel() for k, v in state_dict.items()
                         if not k.endswith(BUFFER_SUFFIXES))
    meta = dict(meta,
                converted_from=osp.basename(src),
                source_sha256=sha256_of(src),
                num_tensors=len(state_dict),
                num_parameters=num_parameters)
    dropped, filled = {}, []
    if conversion is not None:
        dropped = conversion.dropped
        renamed = set(conversion.renames.values())
        filled = [k for k in state_dict if k not in renamed]
        meta.update(dropped_keys=sorted(dropped), filled_keys=filled)
    save_atomically(dict(state_dict=state_dict, meta=meta), dst)
    summary = (f'converted {src} ({len(source)} tensors) -> {dst} '
               f'({len(state_dict)} tensors, {num_parameters:,} parameters)')
    reasons = {}
    for key, reason in dropped.items():
        reasons.setdefault(reason, []).append(key)
    for reason, keys in reasons.items():
        summary += f'\n  dropped {len(keys)}: {", ".join(keys)} ({reason})'
    if filled:
        summary += (f'\n  filled {len(filled)} num_batches_tracked with 0 '
                    '(the source has none)')
    return summary


def converter_parser(description: str,
                     src_help: str) -> argparse.ArgumentParser:
    """The command line of a converter: ``SRC DST``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='where to write the vosbench checkpoint')
    return parser


def run_conversion(prog: str, convert: Callable[[], str]) -> int:
    """Print the summary ``convert()`` returns and give exit status 0, or
    print a :class:`ConversionError` as ``<prog>: error: ...`` on stderr
    and give 1."""
    try:
        print(convert())
    except ConversionError as exc:
        print(f'{prog}: error: {exc}', file=sys.stderr)
        return 1
    return 0
