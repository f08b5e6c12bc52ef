"""vosbench: semi-supervised video object segmentation with Space-Time Memory networks.

Importing the package is cheap: models, datasets and metrics are imported lazily
through the registries' ``locations`` (or explicitly via
:func:`vosbench.utils.register_all_modules`).
"""
from .version import __version__

__all__ = ['__version__']
