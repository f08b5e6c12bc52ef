from .key_value_projection import KeyValueProjection
from .memory_bank import MemoryBank
from .space_time_memory_reader import SpaceTimeMemoryReader

__all__ = ['KeyValueProjection', 'MemoryBank', 'SpaceTimeMemoryReader']
