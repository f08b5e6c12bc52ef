from .soft_aggregation import aggregated_probs, soft_aggregate
from .stm import STM
from .video_stream import VideoStream, labels_to_onehot, pad_to_multiple

__all__ = [
    'STM', 'VideoStream', 'aggregated_probs', 'labels_to_onehot',
    'pad_to_multiple', 'soft_aggregate'
]
