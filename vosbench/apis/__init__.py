from .finetune import finetune_on_first_frame, lucid_training_batch
from .inference import (init_model, iter_segment_folder, list_frames,
                        segment_folder)
from .inferencer import MaskInputError, VOSInferencer, VOSResult

__all__ = [
    'MaskInputError', 'VOSInferencer', 'VOSResult',
    'finetune_on_first_frame', 'init_model', 'iter_segment_folder',
    'list_frames', 'lucid_training_batch', 'segment_folder'
]
