from .prediction_writer_hook import PredictionWriterHook
from .video_progress_hook import VideoProgressHook
from .visualization_hook import VOSVisualizationHook
from .youtube_vos_submission_hook import YouTubeVOSSubmissionHook

__all__ = [
    'PredictionWriterHook', 'VideoProgressHook', 'VOSVisualizationHook'
]
__all__ += ['YouTubeVOSSubmissionHook']
from .max_skip_schedule_hook import MaxSkipScheduleHook

__all__ += ['MaxSkipScheduleHook']
from .atomic_checkpoint_hook import AtomicCheckpointHook

__all__ += ['AtomicCheckpointHook']
