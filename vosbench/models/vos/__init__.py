from .ensemble import VOSEnsemble
from .soft_aggregation import (aggregated_probs, aggregated_probs_in_place,
                               soft_aggregate)
from .stm import STM

__all__ = ['STM', 'VOSEnsemble', 'aggregated_probs',
           'aggregated_probs_in_place', 'soft_aggregate']

#: Moved to vosbench.inference (old paths still resolve, with a warning).
_MOVED = ('AveragingStream', 'MemoryGroup', 'StreamingSegmenterMixin',
          'VideoStream', 'labels_to_onehot', 'merge_new_objects',
          'merge_probabilities', 'pad_to_multiple')


def __getattr__(name):
    from .._moved import moved_attribute
    return moved_attribute(__name__, name, _MOVED)
