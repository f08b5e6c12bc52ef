"""Evaluation: pure measures (``functional``), scoring of results folders
(``davis_results``) and mmengine metrics (``metrics``).

The metrics need mmengine's evaluator (and so torch); they are imported on
first use (``from vosbench.evaluation import DAVISMetric`` works), so that
``tools/eval_results.py`` and the functional code stay light. The metric
registry imports ``vosbench.evaluation.metrics`` itself.
"""
import importlib

from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_all

__all__ = list(_functional_all) + ['DAVISMetric']


def __getattr__(name: str):
    # metric classes (DAVISMetric, and any other in .metrics) on first use
    if name[:1].isupper():
        metrics = importlib.import_module('.metrics', __name__)
        if hasattr(metrics, name):
            return getattr(metrics, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
