"""Model utilities."""
from .stm_checkpoint import (IMAGENET_MEAN, IMAGENET_STD,
                             convert_official_stm_state_dict,
                             official_stm_shapes, to_official_stm_state_dict)

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'convert_official_stm_state_dict',
    'official_stm_shapes', 'to_official_stm_state_dict'
]
