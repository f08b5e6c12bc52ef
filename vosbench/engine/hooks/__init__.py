from .prediction_writer_hook import PredictionWriterHook
from .video_progress_hook import VideoProgressHook
from .visualization_hook import VOSVisualizationHook

__all__ = [
    'PredictionWriterHook', 'VideoProgressHook', 'VOSVisualizationHook'
]
