"""Metrics registered in ``vosbench.registry.METRICS``."""
from .davis_metric import DAVISMetric

__all__ = ['DAVISMetric']
