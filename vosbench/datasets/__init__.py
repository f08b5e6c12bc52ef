from .collate import vos_collate
from .davis import DAVISDataset, DatasetLayoutError
from .transforms import *  # noqa: F401,F403
from .youtube_vos import YouTubeVOSDataset

__all__ = ['DAVISDataset', 'DatasetLayoutError', 'vos_collate']
__all__ += ['YouTubeVOSDataset']
from .coco import COCOInstanceDataset
from .mixed import RatioConcatDataset
from .saliency import SaliencyDataset
from .shared_state import SharedInt, SharedIntAttribute
from .static_image import StaticImageDataset
from .voc import VOCInstanceDataset
from .ytvos_frames import YouTubeVOSFramesDataset

__all__ += [
    'COCOInstanceDataset', 'RatioConcatDataset', 'SaliencyDataset',
    'SharedInt', 'SharedIntAttribute', 'StaticImageDataset',
    'VOCInstanceDataset', 'YouTubeVOSFramesDataset'
]
