from .soft_aggregation import aggregated_probs, soft_aggregate
from .stm import STM
from .video_stream import VideoStream, labels_to_onehot, pad_to_multiple
from .video_stream import MemoryGroup

__all__ = [
    'STM', 'VideoStream', 'aggregated_probs', 'labels_to_onehot',
    'pad_to_multiple', 'soft_aggregate'
]
__all__ += ['MemoryGroup']
from .ensemble import AveragingStream, VOSEnsemble, merge_probabilities
from .stm import StreamingSegmenterMixin
from .video_stream import merge_new_objects

__all__ += ['AveragingStream', 'VOSEnsemble', 'merge_probabilities',
            'StreamingSegmenterMixin', 'merge_new_objects']
