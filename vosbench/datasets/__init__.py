from .collate import vos_collate
from .davis import DAVISDataset, DatasetLayoutError
from .davis2016 import DAVIS2016Dataset, DAVIS2016FramesDataset
from .transforms import *  # noqa: F401,F403
from .youtube_vos import YouTubeVOSDataset

__all__ = ['DAVISDataset', 'DAVIS2016Dataset', 'DAVIS2016FramesDataset',
           'DatasetLayoutError', 'vos_collate']
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
