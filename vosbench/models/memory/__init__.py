from .key_value_projection import KeyValueProjection
from .space_time_memory_reader import SpaceTimeMemoryReader

__all__ = ['KeyValueProjection', 'SpaceTimeMemoryReader']

#: Moved to vosbench.inference (the old path still resolves, with a warning).
_MOVED = ('MemoryBank',)


def __getattr__(name):
    from .._moved import moved_attribute
    return moved_attribute(__name__, name, _MOVED)
