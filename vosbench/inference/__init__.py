"""Running a VOS network over a video: the stream and its memory groups,
the memory bank, averaging of TTA views and ensemble members, and the
whole-video driver.

The layer builds on :mod:`vosbench.models` (it drives a network through
its ``encode_*`` / ``decode_objects`` methods) and is never imported by the
networks at import time.
"""
from .averaging_stream import (AveragingStream, merge_probabilities,
                               normalized_weights)
from .memory_bank import MemoryBank
from .stream_options import STREAM_DEFAULTS, stream_options
from .video_segmenter import (GivenLabels, StreamingSegmenterMixin,
                              given_label_dict, object_start_frames,
                              predict_videos, segment_video)
from .video_stream import (MemoryGroup, VideoStream, labels_to_onehot,
                           merge_new_objects, pad_to_multiple)

__all__ = [
    'AveragingStream', 'GivenLabels', 'MemoryBank', 'MemoryGroup',
    'STREAM_DEFAULTS', 'StreamingSegmenterMixin', 'VideoStream',
    'given_label_dict', 'labels_to_onehot', 'merge_new_objects',
    'merge_probabilities', 'normalized_weights', 'object_start_frames',
    'pad_to_multiple', 'predict_videos', 'segment_video', 'stream_options'
]
