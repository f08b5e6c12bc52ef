from .clip_transforms import ClipRandomFlip, ClipRandomResizedCrop, SelectObjects
from .formatting import PackClipInputs, PackVideoInputs
from .loading import LoadClipFrames, LoadClipMasks

__all__ = [
    'ClipRandomFlip', 'ClipRandomResizedCrop', 'LoadClipFrames',
    'LoadClipMasks', 'PackClipInputs', 'PackVideoInputs', 'SelectObjects'
]
from .clip_synthesis import (ClipColorJitter, ClipRandomCrop, ClipSharedAffine,
                             FrameRandomAffine, FrameThinPlateSpline,
                             PasteObjects, ResampleSmallObjects, StaticToClip)

__all__ += [
    'ClipColorJitter', 'ClipRandomCrop', 'ClipSharedAffine',
    'FrameRandomAffine', 'FrameThinPlateSpline', 'PasteObjects',
    'ResampleSmallObjects', 'StaticToClip'
]
from .lucid import LucidDreamClip, lucid_dream_clip, lucid_dream_pair

__all__ += ['LucidDreamClip', 'lucid_dream_clip', 'lucid_dream_pair']
