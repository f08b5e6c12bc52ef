from .allocator import keep_freed_memory
from .setup_env import register_all_modules

__all__ = ['keep_freed_memory', 'register_all_modules']
