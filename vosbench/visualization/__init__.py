from vosbench.utils.image_io import write_rgb_image
from .overlay import overlay_masks, side_by_side
from .video_writer import VIDEO_CODECS, OverlayVideoWriter
from .vis_backends import VOSLocalVisBackend
from .vos_visualizer import VOSVisualizer

__all__ = ['OverlayVideoWriter', 'VIDEO_CODECS', 'VOSLocalVisBackend',
           'VOSVisualizer',
           'overlay_masks', 'side_by_side', 'write_rgb_image']
