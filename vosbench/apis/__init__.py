from .inference import (init_model, iter_segment_folder, list_frames,
                        segment_folder)

__all__ = ['init_model', 'iter_segment_folder', 'list_frames',
           'segment_folder']
