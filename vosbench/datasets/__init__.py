from .collate import vos_collate
from .davis import DAVISDataset, DatasetLayoutError
from .transforms import *  # noqa: F401,F403

__all__ = ['DAVISDataset', 'DatasetLayoutError', 'vos_collate']
