"""Convert an original STM (ResNet-50) checkpoint to a vosbench checkpoint.

Usage::

    python tools/model_converters/stm_to_vosbench.py STM_weights.pth \\
        checkpoints/stm_r50_official.pth

The source is the plain state dict released with STM (Oh et al., ICCV 2019),
with or without the ``module.`` prefix of ``DataParallel``; it is loaded with
``weights_only=True``. The result, ``dict(state_dict=..., meta=...)``, loads
into ``STM`` (ResNet-50 encoders, stages 1-3) with ``strict=True``, e.g. via
``load_from`` in a config. See
:mod:`vosbench.models.utils.stm_checkpoint` for the key correspondence.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
import tempfile
from importlib.util import find_spec

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if find_spec('vosbench') is None:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

from vosbench.models.utils.stm_checkpoint import \
    convert_official_stm_state_dict  # noqa: E402

#: Buffers, not parameters, of the converted state dict.
_BUFFER_SUFFIXES = ('.running_mean', '.running_var', '.num_batches_tracked')


class ConversionError(Exception):
    """A user-facing error; the message names the file concerned."""


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_source(src: str) -> dict:
    """Load the original state dict (a plain dict of tensors; a
    ``{'state_dict': ...}`` wrapper is accepted too)."""
    if not osp.isfile(src):
        raise ConversionError(f'{src}: no such file')
    try:
        ckpt = torch.load(src, map_location='cpu', weights_only=True)
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
    """``torch.save`` to a temporary file beside ``dst``, then rename, so
    that ``dst`` is never left half written."""
    directory = osp.dirname(osp.abspath(dst))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(dst)}.',
                                   suffix='.tmp',
                                   dir=directory)
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


def convert(src: str, dst: str) -> str:
    """Convert ``src`` to ``dst``; returns a one-line summary."""
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ConversionError(f'{dst}: the destination is the source file')
    source = load_source(src)
    try:
        state_dict = convert_official_stm_state_dict(source)
    except (TypeError, ValueError) as exc:
        raise ConversionError(f'{src}: {exc}') from exc
    num_parameters = sum(v.numel() for k, v in state_dict.items()
                         if not k.endswith(_BUFFER_SUFFIXES))
    meta = dict(converted_from=osp.basename(src),
                source_sha256=sha256_of(src),
                source_format='official STM (Oh et al., ICCV 2019), ResNet-50',
                converter='tools/model_converters/stm_to_vosbench.py',
                model='STM (ResNet-50 encoders, stages 1-3)',
                num_tensors=len(state_dict),
                num_parameters=num_parameters)
    save_atomically(dict(state_dict=state_dict, meta=meta), dst)
    return (f'converted {src} ({len(source)} tensors) -> {dst} '
            f'({len(state_dict)} tensors, {num_parameters:,} parameters)')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an original STM (ResNet-50) checkpoint to '
        'vosbench\'s STM parameter names.')
    parser.add_argument('src', help='the original checkpoint (a state dict)')
    parser.add_argument('dst', help='where to write the vosbench checkpoint')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        print(convert(args.src, args.dst))
    except ConversionError as exc:
        print(f'stm_to_vosbench: error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
