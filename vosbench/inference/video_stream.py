"""Frame-by-frame inference of a memory network over one video."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vosbench.utils.frame_tensor import frames_to_tensor
from vosbench.utils.labels import object_ids as labels_object_ids
from .memory_bank import MemoryBank, concat_frames
from .stream_options import STREAM_DEFAULTS


def pad_to_multiple(size: Tuple[int, int], divisor: int) -> Tuple[int, ...]:
    """Padding ``(left, right, top, bottom)`` that makes ``size`` a multiple
    of ``divisor``: ``floor(d / 2)`` before, the rest after (as STM)."""
    height, width = size
    pad_h = (divisor - height % divisor) % divisor
    pad_w = (divisor - width % divisor) % divisor
    return (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)


def processing_size(size: Tuple[int, int],
                    max_size: Optional[int]) -> Tuple[int, int]:
    """The ``(H, W)`` a frame of ``size`` is processed at: ``size`` itself
    when its shorter side is at most ``max_size`` (or ``max_size`` is
    None), else scaled so that the shorter side is ``max_size`` (aspect
    kept, sides rounded)."""
    height, width = size
    if max_size is None or min(height, width) <= max_size:
        return (height, width)
    scale = max_size / min(height, width)
    return (max(1, int(round(height * scale))),
            max(1, int(round(width * scale))))


def resize_probs(probs: Tensor, size: Tuple[int, int]) -> Tensor:
    """``(C, h, w)`` probabilities -> ``(C, H, W)`` at ``size``, bilinear
    with half-pixel centres (``F.interpolate(..., align_corners=False)``).

    On the CPU OpenCV resizes the ``(h, w, C)`` view and the result comes
    back as a ``(C, H, W)`` view of OpenCV's ``(H, W, C)`` array (the
    layout :func:`channel_argmax` reads fastest): 7 ms against
    ``F.interpolate``'s 143 ms for 3 channels from 480x853 to 1080x1920 on
    one thread, which was most of what ``max_size`` left of the cost of a
    1080p frame (docs/benchmarks.md). The two agree to 1e-4.
    """
    channels = probs.shape[0]
    if (probs.device.type != 'cpu' or probs.dtype != torch.float32
            or channels > 512):  # OpenCV's channel limit
        return F.interpolate(probs[None], size, mode='bilinear',
                             align_corners=False)[0]
    height, width = size
    resized = cv2.resize(np.ascontiguousarray(probs.permute(1, 2, 0).numpy()),
                         (width, height), interpolation=cv2.INTER_LINEAR)
    if resized.ndim == 2:  # OpenCV drops a single channel
        resized = resized[..., None]
    return torch.from_numpy(resized).permute(2, 0, 1)


def labels_to_onehot(labels: np.ndarray, object_ids: Sequence[int]) -> Tensor:
    """``(H, W)`` label map -> ``(K + 1, H, W)`` float one-hot over
    background and ``object_ids`` (any other label, e.g. void 255, is
    background)."""
    labels_t = torch.from_numpy(np.ascontiguousarray(labels))
    objects = torch.stack([labels_t == i for i in object_ids]).float()
    background = 1 - objects.sum(0, keepdim=True).clamp(max=1)
    return torch.cat([background, objects], dim=0)


def merge_new_objects(probs: Tensor, labels: np.ndarray,
                      object_ids: Sequence[int]) -> Tensor:
    """Add objects given by a mask to a frame's probabilities.

    Args:
        probs (Tensor): ``(K + 1, H, W)`` probabilities of the frame.
        labels (np.ndarray): ``(H, W)`` labels holding the new objects.
        object_ids (Sequence[int]): The new objects' labels.

    Returns:
        Tensor: ``(K + K_new + 1, H, W)``: the new objects' channels (their
        given masks) appended; inside those masks the other channels are 0.
    """
    new = labels_to_onehot(labels, object_ids)[1:].to(probs)
    inside = new.sum(dim=0, keepdim=True).clamp(max=1)
    return torch.cat([probs * (1 - inside), new], dim=0)


class MemoryGroup:
    """Objects that entered a :class:`VideoStream` at the same frame, with
    the memory bank they share.

    STM's memory is per object (the memory encoder sees the object's mask),
    so an object added mid-video has no memory of the frames before its
    first mask; it gets a group and a bank of its own, which start at that
    frame.

    Args:
        object_ids (list[int]): Labels of the group's objects.
        start_index (int): Stream frame index of the group's first mask.
        bank (MemoryBank): The group's memory.
    """

    def __init__(self, object_ids: Sequence[int], start_index: int,
                 bank: MemoryBank):
        self.object_ids = list(object_ids)
        self.start_index = start_index
        self.bank = bank

    def keeps(self, frame_index: int) -> bool:
        """Whether the group keeps a frame it encoded: its first frame and
        the stream's memory frames."""
        return (frame_index == self.start_index
                or self.bank.is_memory_frame(frame_index))

    def __repr__(self) -> str:
        return (f'MemoryGroup(object_ids={self.object_ids}, '
                f'start_index={self.start_index}, '
                f'memory_frames={self.bank.frame_indices})')


class VideoStream:
    """Segments one video frame by frame with a memory network.

    The protocol of STM (Oh et al., ICCV 2019): to segment frame ``t``, frame
    ``t - 1`` is encoded with its soft probabilities and read together with
    the kept memory frames; after that it is kept if it is a memory frame.
    Frames are passed in one at a time, so the video is never held in
    memory.

    Objects may join mid-video (YouTube-VOS): :meth:`add_objects` gives
    their masks at the frame they first appear in. Objects that join at the
    same frame form a :class:`MemoryGroup` with its own memory bank, which
    holds that frame and the later memory frames. Each frame is encoded by
    the query encoder once; every group reads its own memory and decodes
    its objects' foreground probabilities, and the probabilities of all
    objects are soft-aggregated together. The memory encoder sees, for each
    object, its own mask and the other objects' masks of all groups. With a
    single group (all objects given in frame 0, as DAVIS) a step encodes the
    previous frame with all objects in one batch, and the result is the
    same as STM's ``encode_memory`` then ``segment_frame``.

    Frame indices count from the frame passed to :meth:`start` (frame 0);
    memory frames are every ``mem_every``-th of them, and a group also keeps
    its first frame.

    Usage::

        stream = VideoStream(model, object_ids=[1, 2])
        probs0 = stream.start(frame0, labels0)
        for frame in frames[1:]:
            probs = stream.segment(frame)   # (K + 1, H, W)
            stream.memorize(probs)          # or the probabilities of an
                                            # ensemble / TTA average
            if new objects 3 and 5 are first given in this frame:
                probs = stream.add_objects(labels, [3, 5])  # (K + 3, H, W)

    or, with the same effect, ``probs = stream.step(frame, labels)``.

    Args:
        model: An STM-like network with ``encode_memory``, ``encode_query``,
            ``decode_objects``, ``aggregate`` and ``probs_from_logits``
            (and ``probs_in_place`` with ``object_chunk_size``).
        object_ids (Sequence[int]): Labels of the objects given to
            :meth:`start`, in channel order.
        mem_every (int): Keep every ``mem_every``-th frame.
        keep_previous (bool): Read the previous frame too.
        max_memory_frames (int, optional): Cap on kept frames (per group).
        pad_divisor (int): Pad frames to a multiple of this.
        aggregation_channels (int, optional): See
            :func:`vosbench.models.vos.soft_aggregation.aggregated_probs`.
        max_size (int, optional): Process frames whose shorter side is
            larger at that shorter side (:func:`processing_size`, as XMem's
            ``--size`` and Cutie's ``max_internal_size``): frames are
            resized (bilinear, antialiased) before the network, the
            probabilities given to :meth:`memorize` resized down (area)
            for the memory, and the probabilities returned resized back to
            the frame's size (bilinear), so the argmax is at full size.
            None (default) processes every frame at its own size.
        object_chunk_size (int, optional): Encode and decode at most this
            many objects at once, so that the peak memory of a step stops
            growing with the number of objects (the memory bank still holds
            every object's keys and values). The result equals the
            unchunked one up to float rounding. None (default): all at once.

        The defaults are :data:`~vosbench.inference.stream_options.
        STREAM_DEFAULTS`.
    """

    def __init__(self, model, object_ids: Sequence[int],
                 mem_every: int = STREAM_DEFAULTS['mem_every'],
                 keep_previous: bool = STREAM_DEFAULTS['keep_previous'],
                 max_memory_frames: Optional[int] = STREAM_DEFAULTS[
                     'max_memory_frames'],
                 pad_divisor: int = STREAM_DEFAULTS['pad_divisor'],
                 aggregation_channels: Optional[int] = STREAM_DEFAULTS[
                     'aggregation_channels'],
                 max_size: Optional[int] = STREAM_DEFAULTS['max_size'],
                 object_chunk_size: Optional[int] = STREAM_DEFAULTS[
                     'object_chunk_size']):
        if len(object_ids) == 0:
            raise ValueError('a video stream needs at least one object')
        if len(set(object_ids)) != len(object_ids):
            raise ValueError(f'object ids must be unique, got {object_ids}')
        self.model = model
        self.mem_every = mem_every
        self.keep_previous = keep_previous
        self.max_memory_frames = max_memory_frames
        self.groups: List[MemoryGroup] = [
            MemoryGroup(object_ids, 0, self._new_bank())]
        self.pad_divisor = pad_divisor
        self.aggregation_channels = aggregation_channels
        self.max_size = max_size
        self.object_chunk_size = object_chunk_size
        self.frame_index = -1
        self.size: Optional[Tuple[int, int]] = None
        #: the size frames are processed at (``size`` unless ``max_size``)
        self.internal_size: Optional[Tuple[int, int]] = None
        #: the last probabilities returned at frame size, and the same at
        #: the internal size (memorize() takes them without resizing)
        self._returned: Optional[Tuple[Tensor, Tensor]] = None
        self._padding: Tuple[int, ...] = (0, 0, 0, 0)
        self._current_frame: Optional[Tensor] = None
        self._current_probs: Optional[Tensor] = None
        self._previous: Optional[Tuple[Tensor, Tensor]] = None

    def _new_bank(self) -> MemoryBank:
        return MemoryBank(self.mem_every, self.keep_previous,
                          self.max_memory_frames)

    @property
    def object_ids(self) -> List[int]:
        """Labels of all objects, in channel order (groups in the order
        they joined)."""
        return [i for group in self.groups for i in group.object_ids]

    @property
    def num_objects(self) -> int:
        return sum(len(group.object_ids) for group in self.groups)

    @property
    def bank(self) -> MemoryBank:
        """The memory of the objects given to :meth:`start`."""
        return self.groups[0].bank

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _prepare_frame(self, frame) -> Tensor:
        """``(H, W, 3)`` uint8 RGB array or ``(3, H, W)`` float tensor in
        [0, 1] -> ``(1, 3, H', W')`` padded tensor on the model's device."""
        frame = frames_to_tensor(frame).to(self.device)
        size = tuple(frame.shape[-2:])
        if self.size is None:
            self.size = size
            self.internal_size = processing_size(size, self.max_size)
            self._padding = pad_to_multiple(self.internal_size,
                                            self.pad_divisor)
        elif size != self.size:
            raise ValueError(f'frame {self.frame_index + 1} has size {size}, '
                             f'but the video started with {self.size}')
        frame = frame[None]
        if self.internal_size != self.size:
            frame = F.interpolate(frame, self.internal_size, mode='bilinear',
                                  align_corners=False, antialias=True)
        return F.pad(frame, self._padding)

    def _to_internal(self, probs: Tensor) -> Tensor:
        """``(C, H, W)`` at frame size -> at the internal size (area
        averaging keeps them probabilities)."""
        if self.internal_size == self.size:
            return probs
        return F.interpolate(probs[None], self.internal_size,
                             mode='area')[0]

    def _to_frame_size(self, probs: Tensor) -> Tensor:
        """``(C, h, w)`` at the internal size -> at frame size."""
        if self.internal_size == self.size:
            return probs
        return resize_probs(probs, self.size)

    def _pad(self, x: Tensor) -> Tensor:
        return F.pad(x, self._padding)

    def _crop(self, x: Tensor) -> Tensor:
        left, _, top, _ = self._padding
        height, width = self.internal_size
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
        probs = self._segment_groups(frame)
        self.frame_index += 1
        self._previous = None
        internal = self._crop(probs[0])
        self._current_probs = self._to_frame_size(internal)
        self._returned = (self._current_probs, internal)
        return self._current_probs

    def _segment_groups(self, frame) -> Tensor:
        """Per memory group: encode the previous frame with the group's
        objects and gather the group's memory; then one query encoding,
        each group's objects decoded from its memory, and soft aggregation
        over all objects. (The memory encoder runs first, so that its
        activations are freed before the query encoder's skips are made:
        0.1-0.2 GB less peak memory for a ResNet-50 STM at 480x854.)

        Returns:
            Tensor: ``(1, K + 1, H', W')`` padded probabilities.
        """
        prev_frame, prev_probs = self._previous
        prev_objects = self._pad(prev_probs[None, 1:])  # (1, K, H', W')
        chunk = self.object_chunk_size
        one_batch = len(self.groups) == 1 and (
            chunk is None or chunk >= prev_objects.shape[1])
        total = None if one_batch else prev_objects.sum(dim=1, keepdim=True)
        memories, first = [], 0
        for group in self.groups:
            last = first + len(group.object_ids)
            keys, values = [], []
            for lo, hi in self._chunks(first, last):
                own = prev_objects[:, lo:hi]
                # the objects of the other chunks and groups count as
                # "other objects" too
                others = None if one_batch else total - own.sum(dim=1,
                                                            keepdim=True)
                key, value = self.model.encode_memory(prev_frame, own,
                                                      other_probs=others)
                keys.append(key)
                values.append(value)
            key = keys[0] if len(keys) == 1 else torch.cat(keys)
            value = values[0] if len(values) == 1 else torch.cat(values)
            # per-frame lists: a chunk of objects is read from its own
            # slices, without a copy of every object's memory
            memories.append(group.bank.frames((key, value, self.frame_index)))
            if group.keeps(self.frame_index):
                group.bank.add(key, value, self.frame_index)
            first = last
        # the previous frame's probabilities are encoded: let them go before
        # the query frame's activations and probabilities are made
        del prev_probs, prev_objects, total, own, others, key, value, keys
        del values
        self._previous = self._returned = self._current_probs = None
        self._current_frame = self._prepare_frame(frame)
        query_key, query_value, skips = self.model.encode_query(
            self._current_frame)
        if chunk is not None:
            return self._decode_in_chunks(memories, query_key, query_value,
                                          skips)
        object_probs = [
            self.model.decode_objects(concat_frames(keys),
                                      concat_frames(values), query_key,
                                      query_value, skips)
            for keys, values in memories]
        logits = self.model.aggregate(torch.cat(object_probs, dim=1))
        return self.model.probs_from_logits(logits,
                                            self.aggregation_channels)

    def _decode_in_chunks(self, memories, query_key: Tensor,
                          query_value: Tensor, skips: List[Tensor]
                          ) -> Tensor:
        """Decode ``object_chunk_size`` objects at a time into one buffer
        and aggregate it in place (:func:`~vosbench.models.vos.
        soft_aggregation.aggregated_probs_in_place`, the model's
        ``probs_in_place``): decoding then holds one frame-size plane per
        object, instead of the several that separate chunk outputs, their
        concatenation and :meth:`STM.aggregate` make.

        Returns:
            Tensor: ``(1, K + 1, H', W')`` padded probabilities.
        """
        buffer, channel = None, 1
        for keys, values in memories:
            for lo, hi in self._chunks(0, keys[0].shape[0]):
                probs = self.model.decode_objects(
                    concat_frames(keys, lo, hi), concat_frames(values, lo, hi),
                    query_key, query_value, skips)  # (1, k, H', W')
                if buffer is None:
                    buffer = probs.new_empty(1, self.num_objects + 1,
                                             *probs.shape[-2:])
                buffer[:, channel:channel + hi - lo] = probs
                channel += hi - lo
                del probs
        return self.model.probs_in_place(buffer, self.aggregation_channels)

    def _chunks(self, start: int, stop: int) -> List[Tuple[int, int]]:
        """``[(lo, hi), ...]`` covering objects ``start:stop`` in chunks of
        ``object_chunk_size`` (one chunk when it is None)."""
        step = self.object_chunk_size or max(1, stop - start)
        return [(lo, min(lo + step, stop)) for lo in range(start, stop, step)]

    def memorize(self, probs: Tensor) -> None:
        """Set the probabilities ``(K + 1, H, W)`` of the frame just
        segmented (or started), which encode it into memory at the next
        step."""
        probs = probs.to(self.device)
        self._current_probs = probs
        if self._returned is not None and probs is self._returned[0]:
            internal = self._returned[1]  # segment()'s own, not resized
        else:
            internal = self._to_internal(probs)
        self._previous = (self._current_frame, internal)

    @torch.no_grad()
    def add_objects(self, labels: np.ndarray,
                    object_ids: Optional[Sequence[int]] = None,
                    probs: Optional[Tensor] = None) -> Tensor:
        """Add objects whose first mask is given in the current frame (the
        one just started or segmented).

        The new objects' probabilities are their given masks (1 inside, 0
        outside); inside those masks the background and the other objects
        get 0. The result is memorised (so the frame is encoded with it at
        the next step, the new objects into a new memory group starting at
        this frame) and returned; its argmax takes the given mask for the
        new objects.

        Args:
            labels (np.ndarray): ``(H, W)`` labels of the current frame.
            object_ids (Sequence[int], optional): Labels in ``labels`` to
                add. Defaults to every label except 0, 255 and the objects
                already tracked.
            probs (Tensor, optional): ``(K + 1, H, W)`` probabilities of the
                current frame to add the objects to. Defaults to the last
                ones returned by :meth:`segment` (or :meth:`start`) or set
                by :meth:`memorize`.

        Returns:
            Tensor: ``(K + K_new + 1, H, W)`` probabilities, the new objects'
            channels last.
        """
        if self._current_frame is None:
            raise RuntimeError('add_objects() needs a current frame: call '
                               'start() or segment() first')
        labels = np.asarray(labels)
        if labels.shape != self.size:
            raise ValueError(f'the mask of the new objects has size '
                             f'{labels.shape}, the frame {self.size}')
        tracked = set(self.object_ids)
        if object_ids is None:
            object_ids = labels_object_ids(labels, exclude=tracked)
        object_ids = [int(i) for i in object_ids]
        if len(set(object_ids)) != len(object_ids):
            raise ValueError(f'object ids must be unique, got {object_ids}')
        again = [i for i in object_ids if i in tracked]
        if again:
            raise ValueError(f'objects {again} are already tracked')
        if probs is None:
            probs = self._current_probs
        probs = probs.to(self.device)
        if probs.shape != (self.num_objects + 1, *self.size):
            raise ValueError(
                f'probs must be ({self.num_objects + 1}, {self.size[0]}, '
                f'{self.size[1]}), got {tuple(probs.shape)}')
        if not object_ids:
            return probs
        merged = merge_new_objects(probs, labels, object_ids)
        group = self.groups[-1]
        if group.start_index == self.frame_index and len(group.bank) == 0:
            # nothing of this frame is encoded yet: join the group that
            # started here
            group.object_ids.extend(object_ids)
        else:
            self.groups.append(
                MemoryGroup(object_ids, self.frame_index, self._new_bank()))
        self.memorize(merged)
        return merged

    @torch.no_grad()
    def step(self, frame, labels: Optional[np.ndarray] = None,
             object_ids: Optional[Sequence[int]] = None) -> Tensor:
        """Segment the next frame, add the objects first given in it and
        memorise the result (:meth:`segment`, :meth:`memorize`,
        :meth:`add_objects`).

        Args:
            frame: The next frame.
            labels (np.ndarray, optional): ``(H, W)`` labels of new objects
                given in this frame.
            object_ids (Sequence[int], optional): See :meth:`add_objects`.

        Returns:
            Tensor: ``(K + 1, H, W)`` probabilities (with the new objects).
        """
        probs = self.segment(frame)
        self.memorize(probs)
        if labels is not None:
            probs = self.add_objects(labels, object_ids)
        return probs
