"""Metrics registered in ``vosbench.registry.METRICS``."""
from .davis_metric import DAVISMetric
from .youtube_vos_metric import YouTubeVOSMetric

__all__ = ['DAVISMetric']
__all__ += ['YouTubeVOSMetric']
