"""Writing overlay videos with OpenCV."""
import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np

__all__ = ['OverlayVideoWriter', 'VIDEO_CODECS']

#: Codecs tried for each file extension, best first, with a word on where
#: the result plays. H.264 (``avc1``) plays everywhere but is missing from
#: many OpenCV builds (PyPI's among them); ``mp4v`` then plays in common
#: players (VLC, mpv, QuickTime) but not in browsers; VP8 WebM plays in
#: browsers and common players.
VIDEO_CODECS = {
    '.mp4': [('avc1', 'H.264: browsers and common players'),
             ('mp4v', 'MPEG-4 Part 2: common players (VLC, mpv), not '
              'browsers; write a .webm for a browser')],
    '.mov': [('avc1', 'H.264'), ('mp4v', 'MPEG-4 Part 2')],
    '.webm': [('VP80', 'VP8 WebM: browsers and common players')],
    '.avi': [('MJPG', 'Motion JPEG AVI: common players')],
}


class OverlayVideoWriter:
    """Frames in, a video file out: ``(H, W, 3)`` uint8 RGB frames of one
    size, written with the first codec of :data:`VIDEO_CODECS` that this
    OpenCV build can open for the file's extension (``codec`` and
    ``codec_note`` say which). The file is written under a temporary name
    and renamed by :meth:`close`, so an interrupted run leaves no
    half-written video under the final name.

    Args:
        path (str): ``.mp4``, ``.mov``, ``.webm`` or ``.avi``.
        fps (float): Frame rate.
    """

    def __init__(self, path: str, fps: float):
        self.path = str(path)
        extension = osp.splitext(self.path)[1].lower()
        if extension not in VIDEO_CODECS:
            raise ValueError(f'overlay video {self.path}: the extension must '
                             f'be one of {sorted(VIDEO_CODECS)}')
        self.fps = float(fps)
        self._extension = extension
        self._writer: Optional[cv2.VideoWriter] = None
        self._tmp = f'{self.path}.tmp{os.getpid()}{extension}'
        self.size: Optional[Tuple[int, int]] = None
        self.codec: Optional[str] = None
        self.codec_note = ''
        self.num_frames = 0

    def _open(self, height: int, width: int) -> None:
        folder = osp.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        tried: List[str] = []
        for codec, note in VIDEO_CODECS[self._extension]:
            writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*codec),
                                     self.fps, (width, height))
            if writer.isOpened():
                self._writer, self.codec, self.codec_note = writer, codec, note
                self.size = (height, width)
                return
            writer.release()
            tried.append(codec)
        raise OSError(f'cannot write the video {self.path}: this OpenCV '
                      f'build opens none of the codecs {tried}')

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame."""
        height, width = frame.shape[:2]
        if self._writer is None:
            self._open(height, width)
        elif (height, width) != self.size:
            raise ValueError(f'overlay video {self.path}: frame '
                             f'{self.num_frames} is {height}x{width}, the '
                             f'video {self.size[0]}x{self.size[1]}')
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.num_frames += 1

    def close(self) -> None:
        """Finish the file and move it to its name (nothing is written when
        no frame was)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file (after an error)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if osp.exists(self._tmp):
            os.remove(self._tmp)

    def __enter__(self) -> 'OverlayVideoWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
