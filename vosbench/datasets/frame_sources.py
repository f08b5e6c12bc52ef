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

from vosbench.utils.image_io import FrameReadError, read_frame
from vosbench.utils.mask_io import MASK_FORMATS, MaskReadError, read_mask_as

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


def frame_size(path: str) -> Size:
    """``(H, W)`` of a frame image, read from its header (nothing decoded).

    Raises:
        FrameReadError: naming the file, when it is missing or not an image.
    """
    try:
        with Image.open(path) as img:
            width, height = img.size
    except FileNotFoundError as exc:
        raise FrameReadError(f'frame file not found: {path}') from exc
    except Exception as exc:  # PIL raises many types for corrupt files
        raise FrameReadError(f'cannot read frame {path}: {exc}') from exc
    return height, width


def video_size_problems(info: dict, max_problems: int = 10) -> List[str]:
    """Size problems of a test video, from the file headers only.

    Every frame (``frame_paths``) and every ground-truth mask
    (``mask_paths``, None where a frame has none) must have the size of the
    first given mask (``given_mask_paths``, default the first of
    ``mask_paths``): a frame of another size would stop the video when it
    is reached, a mask of another size its scoring after the video ran.

    Args:
        info (dict): A test entry of a dataset's data list (``seq_name``,
            ``frame_names``, ``frame_paths``, ``mask_paths``, optionally
            ``given_mask_paths``).
        max_problems (int): Stop after this many.

    Returns:
        list[str]: Messages naming the sequence, the frame and the file
        (empty when all agree).
    """
    seq = info['seq_name']
    names = info['frame_names']
    given = info.get('given_mask_paths') or info['mask_paths']
    reference = next((p for p in given if p is not None), None)
    if reference is None:
        return []
    try:
        size = mask_size(reference)
    except MaskReadError as exc:
        return [f'sequence {seq!r}: {exc}']
    problems = []
    files = [('frame', frame_size, names[t], p)
             for t, p in enumerate(info['frame_paths'])]
    files += [('mask', mask_size, names[t], p)
              for t, p in enumerate(info['mask_paths'])
              if p is not None and p != reference]
    for kind, read_size, name, path in files:
        try:
            found = read_size(path)
        except (FrameReadError, MaskReadError) as exc:
            problems.append(f'sequence {seq!r}, frame {name!r}: {exc}')
        else:
            if found != size:
                problems.append(
                    f'sequence {seq!r}, frame {name!r}: {kind} {path} is '
                    f'{found[0]}x{found[1]} (HxW) but the first mask '
                    f'{reference} is {size[0]}x{size[1]}')
        if len(problems) >= max_problems:
            break
    return problems


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
        mask_format (str): How the files hold the objects: 'labels'
            (palette or grey labels) or 'binary' (DAVIS 2016: 255 is the
            object, read as label 1; any other value is an error). See
            :func:`vosbench.utils.mask_io.read_mask_as`.
    """

    def __init__(self, paths: Sequence[Optional[str]],
                 mask_format: str = 'labels'):
        if mask_format not in MASK_FORMATS:
            raise ValueError(f'mask_format must be one of {MASK_FORMATS}, '
                             f'got {mask_format!r}')
        self.paths: List[Optional[str]] = [
            None if p is None else str(p) for p in paths]
        self.mask_format = mask_format

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Optional[np.ndarray]:
        """``(H, W)`` uint8 labels of frame ``index``, or None."""
        path = self.paths[index]
        return None if path is None else read_mask_as(path,
                                                      self.mask_format)

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
