"""Names that moved from :mod:`vosbench.models` to :mod:`vosbench.inference`.

The old import paths (``from vosbench.models.vos import VideoStream``)
keep working through the packages' module ``__getattr__``; they import the
inference layer only when such a name is used, and warn.
"""
import importlib
import warnings
from typing import Iterable


def moved_attribute(package: str, name: str, names: Iterable[str]):
    """The object ``name`` of :mod:`vosbench.inference`, for a package's
    ``__getattr__``; AttributeError when ``name`` is not one that moved."""
    if name not in names:
        raise AttributeError(f'module {package!r} has no attribute {name!r}')
    warnings.warn(f'{package}.{name} moved to vosbench.inference.{name}',
                  DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module('vosbench.inference'), name)
