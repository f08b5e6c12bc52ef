from .overlay import overlay_masks, side_by_side
from .video_writer import VIDEO_CODECS, OverlayVideoWriter

__all__ = ['OverlayVideoWriter', 'VIDEO_CODECS', 'overlay_masks',
           'side_by_side']
