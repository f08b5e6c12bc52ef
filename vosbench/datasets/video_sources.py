"""Frame sources over a user's own video: a video file or a frame folder.

Both decode one frame at a time, like :class:`~.frame_sources.ImageFrames`
(a frame folder *is* an :class:`ImageFrames`), and feed the same inference
path as ``tools/test.py``. Errors name the file.
"""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

from vosbench.utils.frame_lists import IMAGE_EXTENSIONS, folder_frames
from .frame_sources import ImageFrames, Size

__all__ = ['VideoFileFrames', 'VideoReadError', 'open_frame_source']


class VideoReadError(ValueError):
    """A video file cannot be opened, or ends before its frame count."""


class VideoFileFrames:
    """The frames of a video file (anything OpenCV's ``VideoCapture``
    opens: mp4, avi, mov, webm, ...), decoded in order as they are iterated.

    The frame count, frame rate and size are read from the file when the
    source is made. Iterating yields ``(H, W, 3)`` uint8 RGB frames; a video
    that ends before its frame count raises :class:`VideoReadError` naming
    the file and the frame, after the frames before it were yielded.

    Args:
        path (str): The video file.
        size (tuple, optional): ``(H, W)`` every frame must have (that of
            the given masks); checked against the file's when the source is
            made.
        size_reference (str, optional): Where ``size`` comes from, for the
            error.

    Raises:
        VideoReadError: if the file is missing, OpenCV cannot open it, it
            reports no frames, or its size is not ``size``.
    """

    def __init__(self, path: str, size: Optional[Size] = None,
                 size_reference: Optional[str] = None):
        self.path = str(path)
        if not osp.isfile(self.path):
            raise VideoReadError(f'video file not found: {self.path}')
        capture = cv2.VideoCapture(self.path)
        try:
            if not capture.isOpened():
                raise VideoReadError(
                    f'OpenCV cannot open the video {self.path} (not a '
                    'video, or a codec this OpenCV build lacks)')
            self.num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0
            self.frame_size: Size = (
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
        finally:
            capture.release()
        if self.num_frames <= 0:
            raise VideoReadError(f'the video {self.path} reports no frames '
                                 f'(frame count {self.num_frames})')
        if size is not None and tuple(size) != self.frame_size:
            reference = f' ({size_reference})' if size_reference else ''
            raise VideoReadError(
                f'{self.path}: frames are {self.frame_size[0]}x'
                f'{self.frame_size[1]} (HxW) but the given mask is '
                f'{size[0]}x{size[1]}{reference}')
        self.size = self.frame_size

    @property
    def names(self) -> List[str]:
        """Frame names: the frame index, five digits (``00000``, ...)."""
        return [f'{t:05d}' for t in range(self.num_frames)]

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        capture = cv2.VideoCapture(self.path)
        try:
            for t in range(self.num_frames):
                ok, frame = capture.read()
                if not ok or frame is None:
                    raise VideoReadError(
                        f'the video {self.path} ended at frame {t} of the '
                        f'{self.num_frames} it reports (truncated or '
                        'damaged file)')
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    def __repr__(self) -> str:
        return (f'VideoFileFrames({self.path!r}, {self.num_frames} frames, '
                f'{self.fps:g} fps)')


def open_frame_source(path: str, size: Optional[Size] = None,
                      size_reference: Optional[str] = None
                      ) -> Tuple[object, List[str], float]:
    """A lazy frame source over ``path``: a folder of frames (by name
    order, :data:`IMAGE_EXTENSIONS`) or a video file.

    Returns:
        tuple: ``(source, frame names, fps)``; a folder's fps is 25.

    Raises:
        VideoReadError / FileNotFoundError: naming ``path``.
    """
    if osp.isdir(path):
        frames = folder_frames(path, IMAGE_EXTENSIONS)
        if not frames:
            raise FileNotFoundError(
                f'no frames ({", ".join(IMAGE_EXTENSIONS)}) in {path}')
        source = ImageFrames([osp.join(path, f) for f in frames.values()],
                             size=size, size_reference=size_reference)
        return source, list(frames), 25.0
    source = VideoFileFrames(path, size=size, size_reference=size_reference)
    return source, source.names, source.fps
