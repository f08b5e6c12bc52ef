"""Which encoded frames stay in memory during inference."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from .stream_options import STREAM_DEFAULTS


class MemoryBank:
    """Memory of one video stream, with STM's policy.

    The memory used to segment frame ``t`` is every kept frame (frame 0 and
    then every ``mem_every``-th frame, at most ``max_frames`` of them, oldest
    after frame 0 dropped first) plus, if ``keep_previous``, frame ``t - 1``.

    Keys and values are stored per frame as ``(N, C, 1, H, W)`` tensors.

    Args:
        mem_every (int): Keep every ``mem_every``-th frame. Defaults to 5.
        keep_previous (bool): Use the previous frame as temporary memory.
            Defaults to True.
        max_frames (int, optional): Cap on kept frames (frame 0 is never
            dropped). Defaults to None (no cap, as the reference).
    """

    def __init__(self, mem_every: int = STREAM_DEFAULTS['mem_every'],
                 keep_previous: bool = STREAM_DEFAULTS['keep_previous'],
                 max_frames: Optional[int] = STREAM_DEFAULTS[
                     'max_memory_frames']):
        if mem_every < 1:
            raise ValueError(f'mem_every must be >= 1, got {mem_every}')
        if max_frames is not None and max_frames < 1:
            raise ValueError(f'max_frames must be >= 1, got {max_frames}')
        self.mem_every = mem_every
        self.keep_previous = keep_previous
        self.max_frames = max_frames
        self.keys: List[Tensor] = []
        self.values: List[Tensor] = []
        self.frame_indices: List[int] = []

    def __len__(self) -> int:
        return len(self.keys)

    def is_memory_frame(self, frame_index: int) -> bool:
        """Whether an encoded frame is kept permanently."""
        return frame_index % self.mem_every == 0

    def add(self, key: Tensor, value: Tensor, frame_index: int) -> None:
        """Keep an encoded frame. ``key``: ``(N, Ck, H, W)``, ``value``:
        ``(N, Cv, H, W)``."""
        self.keys.append(key.unsqueeze(2))
        self.values.append(value.unsqueeze(2))
        self.frame_indices.append(frame_index)
        if self.max_frames is not None and len(self.keys) > self.max_frames:
            del self.keys[1], self.values[1], self.frame_indices[1]

    def frames(self, previous: Optional[Tuple[Tensor, Tensor, int]] = None
               ) -> Tuple[List[Tensor], List[Tensor]]:
        """The frames to read from, not concatenated: lists of keys
        ``(N, Ck, 1, H, W)`` and values ``(N, Cv, 1, H, W)``, oldest first.
        A later :meth:`add` does not change the lists returned.

        Args:
            previous (tuple, optional): ``(key, value, frame_index)`` of the
                previous frame, used if ``keep_previous`` or if it is a
                memory frame, and not already kept.
        """
        keys, values = list(self.keys), list(self.values)
        # a memory frame is read as soon as it is encoded, also without
        # keep_previous (it is kept from then on anyway)
        if previous is not None and (self.keep_previous or not keys or
                                     self.is_memory_frame(previous[2])):
            key, value, index = previous
            if not self.frame_indices or self.frame_indices[-1] != index:
                keys.append(key.unsqueeze(2))
                values.append(value.unsqueeze(2))
        if not keys:
            raise RuntimeError('the memory is empty: add a frame first')
        return keys, values

    def gather(self, previous: Optional[Tuple[Tensor, Tensor, int]] = None
               ) -> Tuple[Tensor, Tensor]:
        """The memory to read from (:meth:`frames`, concatenated).

        Returns:
            tuple: keys ``(N, Ck, T, H, W)`` and values ``(N, Cv, T, H, W)``.
        """
        keys, values = self.frames(previous)
        return concat_frames(keys), concat_frames(values)


def concat_frames(frames: List[Tensor], start: int = 0,
                  stop: Optional[int] = None) -> Tensor:
    """Objects ``start:stop`` of per-frame ``(N, C, 1, H, W)`` tensors as one
    ``(stop - start, C, T, H, W)`` tensor (a view when there is one frame),
    so that a chunk of objects is read without copying every object's
    memory."""
    if len(frames) == 1:
        return frames[0][start:stop]
    return torch.cat([f[start:stop] for f in frames], dim=2)
