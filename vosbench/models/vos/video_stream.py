"""Frame-by-frame inference of a memory network over one video."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vosbench.models.memory import MemoryBank


def pad_to_multiple(size: Tuple[int, int], divisor: int) -> Tuple[int, ...]:
    """Padding ``(left, right, top, bottom)`` that makes ``size`` a multiple
    of ``divisor``: ``floor(d / 2)`` before, the rest after (as STM)."""
    height, width = size
    pad_h = (divisor - height % divisor) % divisor
    pad_w = (divisor - width % divisor) % divisor
    return (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)


def labels_to_onehot(labels: np.ndarray, object_ids: Sequence[int]) -> Tensor:
    """``(H, W)`` label map -> ``(K + 1, H, W)`` float one-hot over
    background and ``object_ids`` (any other label, e.g. void 255, is
    background)."""
    labels_t = torch.from_numpy(np.ascontiguousarray(labels))
    objects = torch.stack([labels_t == i for i in object_ids]).float()
    background = 1 - objects.sum(0, keepdim=True).clamp(max=1)
    return torch.cat([background, objects], dim=0)


class VideoStream:
    """Segments one video frame by frame with a memory network.

    The protocol of STM (REFERENCE 1.2): to segment frame ``t``, frame
    ``t - 1`` is encoded with its soft probabilities and read together with
    the kept memory frames; after that it is kept if it is a memory frame.
    Frames are passed in one at a time, so the video is never held in
    memory. All objects are processed in one batch.

    Usage::

        stream = VideoStream(model, object_ids=[1, 2])
        probs0 = stream.start(frame0, labels0)
        for frame in frames[1:]:
            probs = stream.segment(frame)   # (K + 1, H, W)
            stream.memorize(probs)          # or the probabilities of an
                                            # ensemble / TTA average

    Args:
        model: An STM-like model with ``encode_memory``, ``encode_query``
            and ``decode``.
        object_ids (Sequence[int]): Labels of the objects, in channel order.
        mem_every (int): Keep every ``mem_every``-th frame. Defaults to 5.
        keep_previous (bool): Read the previous frame too. Defaults to True.
        max_memory_frames (int, optional): Cap on kept frames.
        pad_divisor (int): Pad frames to a multiple of this. Defaults to 16.
        aggregation_channels (int, optional): See
            :func:`vosbench.models.vos.soft_aggregation.aggregated_probs`.
    """

    def __init__(self, model, object_ids: Sequence[int], mem_every: int = 5,
                 keep_previous: bool = True,
                 max_memory_frames: Optional[int] = None,
                 pad_divisor: int = 16,
                 aggregation_channels: Optional[int] = None):
        if len(object_ids) == 0:
            raise ValueError('a video stream needs at least one object')
        self.model = model
        self.object_ids = list(object_ids)
        self.bank = MemoryBank(mem_every, keep_previous, max_memory_frames)
        self.pad_divisor = pad_divisor
        self.aggregation_channels = aggregation_channels
        self.frame_index = -1
        self.size: Optional[Tuple[int, int]] = None
        self._padding: Tuple[int, ...] = (0, 0, 0, 0)
        self._current_frame: Optional[Tensor] = None
        self._previous: Optional[Tuple[Tensor, Tensor]] = None

    @property
    def num_objects(self) -> int:
        return len(self.object_ids)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _prepare_frame(self, frame) -> Tensor:
        """``(H, W, 3)`` uint8 RGB array or ``(3, H, W)`` float tensor in
        [0, 1] -> ``(1, 3, H', W')`` padded tensor on the model's device."""
        if isinstance(frame, np.ndarray):
            frame = torch.from_numpy(np.ascontiguousarray(frame)).permute(
                2, 0, 1).float().div_(255)
        frame = frame.to(self.device, torch.float32)
        size = tuple(frame.shape[-2:])
        if self.size is None:
            self.size = size
            self._padding = pad_to_multiple(size, self.pad_divisor)
        elif size != self.size:
            raise ValueError(f'frame {self.frame_index + 1} has size {size}, '
                             f'but the video started with {self.size}')
        return F.pad(frame[None], self._padding)

    def _pad(self, x: Tensor) -> Tensor:
        return F.pad(x, self._padding)

    def _crop(self, x: Tensor) -> Tensor:
        left, _, top, _ = self._padding
        height, width = self.size
        return x[..., top:top + height, left:left + width]

    @torch.no_grad()
    def start(self, frame, labels: np.ndarray) -> Tensor:
        """Begin with frame 0 and its annotation.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB or ``(3, H, W)`` float in [0, 1].
            labels (np.ndarray): ``(H, W)`` labels of frame 0.

        Returns:
            Tensor: ``(K + 1, H, W)`` one-hot probabilities of frame 0.
        """
        self.frame_index = 0
        self._current_frame = self._prepare_frame(frame)
        if labels.shape != self.size:
            raise ValueError(f'the first mask has size {labels.shape}, the '
                             f'frame {self.size}')
        probs = labels_to_onehot(labels, self.object_ids).to(self.device)
        self.memorize(probs)
        return probs

    @torch.no_grad()
    def segment(self, frame) -> Tensor:
        """Segment the next frame.

        Returns:
            Tensor: ``(K + 1, H, W)`` probabilities of background and
            objects, at the frame's own size.
        """
        if self._previous is None:
            raise RuntimeError('call start() with the first frame and mask, '
                               'and memorize() after each segment()')
        prev_frame, prev_probs = self._previous
        key, value = self.model.encode_memory(prev_frame,
                                              self._pad(prev_probs[None, 1:]))
        memory_key, memory_value = self.bank.gather(
            (key, value, self.frame_index))
        self._current_frame = self._prepare_frame(frame)
        logits = self.model.segment_frame(self._current_frame, memory_key,
                                          memory_value)
        probs = self.model.probs_from_logits(logits,
                                             self.aggregation_channels)
        if self.bank.is_memory_frame(self.frame_index):
            self.bank.add(key, value, self.frame_index)
        self.frame_index += 1
        self._previous = None
        return self._crop(probs[0])

    def memorize(self, probs: Tensor) -> None:
        """Set the probabilities ``(K + 1, H, W)`` of the frame just
        segmented (or started), which encode it into memory at the next
        step."""
        self._previous = (self._current_frame, probs.to(self.device))
