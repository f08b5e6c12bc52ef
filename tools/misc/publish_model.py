"""Make a training checkpoint into a file to publish.

    python tools/misc/publish_model.py IN.pth OUT.pth

Loads IN with ``weights_only=True`` (vosbench's safe loader: it allows only
the types mmengine's runner writes), keeps ``state_dict`` and ``meta`` and
drops the training state (``optimizer``, ``message_hub``,
``param_schedulers`` and anything else). Meta values that are not plain
data (numbers, strings, lists, dicts) are dropped too (numpy scalars become
Python numbers), so that the result loads with a plain
``torch.load(path, weights_only=True)``, which is checked before the file
is named. The file is written to a temporary name beside OUT and renamed to
``<OUT stem>-<first 8 hex digits of its sha256><OUT extension>``, the
OpenMMLab model-zoo naming; the final path is printed last.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Any, List, Tuple

try:
    import vosbench  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vosbench.engine.atomic_files import (replace_into_place,  # noqa: E402
                                          temporary_name)
from vosbench.engine.checkpoint import load_local_checkpoint  # noqa: E402
from vosbench.evaluation.results_manifest import file_sha256  # noqa: E402

PROG = 'tools/misc/publish_model.py'
_DROP = object()


class PublishError(Exception):
    """A user-facing error; the message names the file concerned."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Keep the weights and meta of a checkpoint, and name '
        'the file by its sha256')
    parser.add_argument('in_file', metavar='IN', help='training checkpoint')
    parser.add_argument('out_file', metavar='OUT',
                        help='output name; the sha256 prefix is added to '
                        'its stem')
    return parser.parse_args(argv)


def _plain(value: Any) -> Any:
    """``value`` as plain data (numpy scalars as Python numbers), or
    ``_DROP`` when it holds anything else."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        if any(v is _DROP for v in items):
            return _DROP
        return list(items) if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        items = {k: _plain(v) for k, v in value.items()}
        if (any(v is _DROP for v in items.values())
                or not all(isinstance(k, (str, int)) for k in items)):
            return _DROP
        return items
    return _DROP


def plain_meta(meta: dict) -> Tuple[dict, List[str]]:
    """``(the plain entries of meta, names of the dropped ones)``."""
    kept, dropped = {}, []
    for key, value in meta.items():
        value = _plain(value)
        if value is _DROP:
            dropped.append(str(key))
        else:
            kept[key] = value
    return kept, dropped


def published_checkpoint(path: str) -> Tuple[dict, List[str], List[str]]:
    """``(dict(state_dict, meta), dropped top-level keys, dropped meta
    keys)`` of the checkpoint at ``path``."""
    if not osp.isfile(path):
        raise PublishError(f'{path}: no such file')
    try:
        ckpt = load_local_checkpoint(path, map_location='cpu')
    except Exception as exc:  # unsafe types, not a checkpoint, ...
        raise PublishError(f'{path}: cannot be loaded as a checkpoint '
                           f'({type(exc).__name__}: {exc})') from exc
    if not isinstance(ckpt, dict) or not isinstance(
            ckpt.get('state_dict'), dict):
        what = (f'top-level keys: {", ".join(map(str, ckpt))}' if isinstance(
            ckpt, dict) else f'it holds a {type(ckpt).__name__}')
        raise PublishError(f"{path}: no 'state_dict' entry ({what}); "
                           'expected a training checkpoint')
    not_tensors = [k for k, v in ckpt['state_dict'].items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise PublishError(f'{path}: state_dict entries that are not '
                           f'tensors: {", ".join(map(str, not_tensors[:5]))}')
    meta = ckpt.get('meta') or {}
    if not isinstance(meta, dict):
        raise PublishError(f"{path}: 'meta' is a {type(meta).__name__}, "
                           'not a dict')
    meta, dropped_meta = plain_meta(meta)
    dropped = sorted(str(k) for k in ckpt if k not in ('state_dict', 'meta'))
    return (dict(state_dict=ckpt['state_dict'], meta=meta), dropped,
            dropped_meta)


def publish(in_file: str, out_file: str) -> Tuple[str, List[str], List[str]]:
    """Write the published checkpoint of ``in_file`` as ``<out stem>-<sha256
    prefix><ext>`` beside ``out_file``. Returns ``(final path, dropped keys,
    dropped meta keys)``."""
    ckpt, dropped, dropped_meta = published_checkpoint(in_file)
    folder, name = osp.split(out_file)
    stem, ext = osp.splitext(name)
    tmp = temporary_name(out_file)
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(tmp, 'wb') as f:
            torch.save(ckpt, f)
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(tmp)
        if unsafe:  # plain_meta should make this impossible
            raise PublishError(f'{out_file}: would not load with '
                               f'weights_only=True (types {unsafe})')
        final = osp.join(folder,
                         f'{stem}-{file_sha256(tmp)[:8]}{ext or ".pth"}')
        replace_into_place(tmp, final)
    except OSError as exc:
        raise PublishError(f'{out_file}: cannot be written ({exc})') from exc
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return final, dropped, dropped_meta


def main(argv=None) -> str:
    """Returns the final path."""
    args = parse_args(argv)
    try:
        final, dropped, dropped_meta = publish(args.in_file, args.out_file)
    except PublishError as exc:
        raise SystemExit(f'{PROG}: error: {exc}') from None
    print(f'dropped: {", ".join(dropped) or "nothing"}')
    if dropped_meta:
        print(f'dropped meta entries that are not plain data: '
              f'{", ".join(dropped_meta)}')
    size = osp.getsize(final) / 2**20
    print(f'published ({size:.1f} MiB): {final}')
    return final


if __name__ == '__main__':
    main()
