from .clip_transforms import ClipRandomFlip, ClipRandomResizedCrop, SelectObjects
from .formatting import PackClipInputs, PackVideoInputs
from .loading import LoadClipFrames, LoadClipMasks

__all__ = [
    'ClipRandomFlip', 'ClipRandomResizedCrop', 'LoadClipFrames',
    'LoadClipMasks', 'PackClipInputs', 'PackVideoInputs', 'SelectObjects'
]
