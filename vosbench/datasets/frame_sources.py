"""Lazy sources of a video's frames and given masks.

A test sample carries its video as a frame source (and its given masks as
:class:`GivenMasks`) instead of decoded arrays: frame ``i`` is decoded when
it is accessed, so a model streams a video of any length without ever
holding it. Errors name the file.

The sources are deliberately not registered as
:class:`collections.abc.Sequence`: mmengine's ``cast_data`` and collate
functions walk sequences element by element, which would decode the whole
video.
"""
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, \
    Union

import numpy as np
from PIL import Image

from vosbench.utils.image_io import read_frame
from vosbench.utils.mask_io import MaskReadError, read_mask

Size = Tuple[int, int]


def mask_size(path: str) -> Size:
    """``(H, W)`` of a mask file, read from its header (nothing decoded).

    Raises:
        MaskReadError: naming the file, when it is missing or not an image.
    """
    try:
        with Image.open(path) as img:
            width, height = img.size
    except FileNotFoundError as exc:
        raise MaskReadError(f'mask file not found: {path}') from exc
    except Exception as exc:  # PIL raises many types for corrupt files
        raise MaskReadError(f'cannot read mask {path}: {exc}') from exc
    return height, width


class ImageFrames:
    """The frames of a video stored as image files, decoded on access.

    Args:
        paths (Sequence[str]): One image file per frame, in order.
        size (tuple | callable, optional): ``(H, W)`` every frame must have
            (the size of the given masks), or a function returning it,
            called at the first access (so that packing a sample reads no
            file); a frame of another size raises naming it.
        size_reference (str, optional): Where ``size`` comes from (a mask
            file), named in that error.
    """

    def __init__(self, paths: Sequence[str],
                 size: Union[Size, Callable[[], Optional[Size]],
                             None] = None,
                 size_reference: Optional[str] = None):
        self.paths: List[str] = [str(p) for p in paths]
        self._size = size if callable(size) or size is None else tuple(size)
        self.size_reference = size_reference

    @property
    def size(self) -> Optional[Size]:
        """``(H, W)`` every frame must have (None: any)."""
        if callable(self._size):
            size = self._size()
            self._size = None if size is None else tuple(size)
        return self._size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(H, W, 3)`` uint8 RGB."""
        path = self.paths[index]
        frame = read_frame(path)
        size = self.size
        if size is not None and frame.shape[:2] != size:
            reference = f' ({self.size_reference})' \
                if self.size_reference else ''
            raise ValueError(f'{path}: frame size {frame.shape[:2]} differs '
                             f'from the given mask {size}{reference}')
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self[index]

    def __repr__(self) -> str:
        first = self.paths[0] if self.paths else ''
        return f'ImageFrames({len(self)} frames, first {first!r})'


class GivenMasks:
    """The given masks of a video, per frame: a mask file where objects are
    given (frame 0 for DAVIS; the frame each object first appears in for
    YouTube-VOS), None elsewhere. Masks are decoded on access.

    Args:
        paths (Sequence[str | None]): One entry per frame.
    """

    def __init__(self, paths: Sequence[Optional[str]]):
        self.paths: List[Optional[str]] = [
            None if p is None else str(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Optional[np.ndarray]:
        """``(H, W)`` uint8 labels of frame ``index``, or None."""
        path = self.paths[index]
        return None if path is None else read_mask(path)

    @property
    def indices(self) -> List[int]:
        """Frames that have a given mask."""
        return [t for t, p in enumerate(self.paths) if p is not None]

    @property
    def first_path(self) -> Optional[str]:
        """The first given mask file (None if there is none)."""
        indices = self.indices
        return self.paths[indices[0]] if indices else None

    def size(self) -> Optional[Size]:
        """``(H, W)`` of the first given mask, from its header."""
        first = self.first_path
        return None if first is None else mask_size(first)

    def load(self) -> dict:
        """``{frame index: (H, W) labels}`` of every given mask (a video
        has few: they are decoded at once so that every object's first
        frame is known before the video runs)."""
        return {t: self[t] for t in self.indices}

    def __repr__(self) -> str:
        return f'GivenMasks({len(self)} frames, given at {self.indices})'
