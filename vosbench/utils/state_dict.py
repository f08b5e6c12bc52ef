"""Cleaning the keys of state dicts.

A checkpoint saved from a model wrapped in ``DataParallel`` /
``DistributedDataParallel`` has ``module.`` before every key; one saved from
a whole model holds a backbone under a prefix such as ``backbone.``. The
checkpoint converters, the STM checkpoint conversion and the backbones'
``Pretrained`` loading all remove such prefixes with :func:`strip_prefix`.
"""
from collections import OrderedDict
from typing import Any, Mapping, Optional

from torch import Tensor

__all__ = ['strip_prefix']


def strip_prefix(state_dict: Mapping[str, Any],
                 prefix: str = 'module.',
                 what: Optional[str] = None,
                 only_prefixed: bool = False) -> 'OrderedDict[str, Any]':
    """``state_dict`` with a leading ``prefix`` removed from its keys.

    Keys without the prefix are kept as they are (with ``only_prefixed``,
    left out), in the same order; the values are the same objects.

    Args:
        state_dict (Mapping[str, Any]): Names to tensors.
        prefix (str): What to remove. Defaults to ``'module.'``.
        what (str, optional): How error messages name the state dict, e.g.
            ``'the STM checkpoint'``. When given, the state dict is also
            checked: a mapping of string keys to tensors in which no name
            occurs both with and without the prefix. Without it nothing is
            checked and, of two keys that give the same name, the later
            one wins.
        only_prefixed (bool): Keep only the keys that start with
            ``prefix`` (e.g. the ``backbone.`` part of a whole model).
            Defaults to False.

    Returns:
        OrderedDict[str, Any]: The cleaned state dict.

    Raises:
        TypeError: With ``what``, when ``state_dict`` is not a mapping.
        ValueError: With ``what``, on a key that is not a string, a value
            that is not a tensor, or a name that occurs both with and
            without the prefix; the message names the key.
    """
    if what is not None and not isinstance(state_dict, Mapping):
        raise TypeError(f'{what}: expected a state dict (a mapping of names '
                        f'to tensors), got {type(state_dict).__name__}')
    out: 'OrderedDict[str, Any]' = OrderedDict()
    for key, value in state_dict.items():
        if what is not None and not isinstance(key, str):
            raise ValueError(f'{what}: key {key!r} is not a string')
        if key.startswith(prefix):
            name = key[len(prefix):]
        elif only_prefixed:
            continue
        else:
            name = key
        if what is not None:
            if name in out:
                raise ValueError(f'{what}: {name!r} occurs both with and '
                                 f'without the "{prefix}" prefix')
            if not isinstance(value, Tensor):
                raise ValueError(f'{what}: {key!r} is a '
                                 f'{type(value).__name__}, not a tensor')
        out[name] = value
    return out
