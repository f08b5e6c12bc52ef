"""Averaging several video streams over the same video: the members of a
model ensemble or the views of test-time augmentation."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from vosbench.utils.frame_tensor import frames_to_tensor
from vosbench.utils.labels import object_ids as labels_object_ids
from .video_stream import labels_to_onehot, merge_new_objects


def merge_probabilities(probs: Sequence[Tensor],
                        weights: Optional[Sequence[float]] = None) -> Tensor:
    """Weighted mean of ``(K + 1, H, W)`` probabilities of the same frame
    (weights normalised to sum 1; equal weights by default)."""
    if len(probs) == 0:
        raise ValueError('nothing to merge')
    if weights is None:
        weights = [1.0 / len(probs)] * len(probs)
    merged = probs[0] * weights[0]
    for p, w in zip(probs[1:], weights[1:]):
        merged = merged + p.to(merged.device) * w
    return merged


def normalized_weights(weights: Optional[Sequence[float]],
                       count: int) -> List[float]:
    """``count`` weights that sum to 1 (equal ones for None)."""
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f'{len(weights)} weights for {count} members')
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f'weights must be >= 0 with a positive sum, got '
                         f'{weights}')
    total = sum(weights)
    return [w / total for w in weights]


class AveragingStream:
    """Several video streams over the same video, whose probabilities are
    averaged frame by frame.

    It has the :class:`VideoStream` API, so it can stand wherever a stream
    does (and be a member of another averaging stream). Each member
    stream keeps its own memory and runs the whole memory protocol; to
    segment a frame every member segments it, the probabilities are mapped
    to the original frame and averaged (weighted), and the average is what
    every member memorises (mapped into its geometry), so that all members
    encode the same prediction into memory.

    Members may see the video through a *view* (test-time augmentation,
    see :mod:`vosbench.models.tta.views`): frames, label maps and
    probabilities go through ``view.frame_to_view``, ``labels_to_view`` and
    ``probs_to_view``, and probabilities come back through
    ``view.probs_from_view``. Without views (a model ensemble) every member
    sees the video as it is.

    Args:
        streams (Sequence): Member streams (:class:`VideoStream` or
            averaging streams), all opened with the same object ids.
        weights (Sequence[float], optional): Weight of each member
            (normalised). Defaults to equal weights.
        views (Sequence, optional): The view of each member. Defaults to
            none (identity).
    """

    def __init__(self, streams: Sequence, weights: Optional[
            Sequence[float]] = None, views: Optional[Sequence] = None):
        if len(streams) == 0:
            raise ValueError('an averaging stream needs at least one stream')
        if views is not None and len(views) != len(streams):
            raise ValueError(f'{len(views)} views for {len(streams)} '
                             'streams')
        ids = [list(s.object_ids) for s in streams]
        if any(i != ids[0] for i in ids):
            raise ValueError(f'the streams track different objects: {ids}')
        self.streams = list(streams)
        self.views = list(views) if views is not None else None
        self.weights = normalized_weights(weights, len(self.streams))
        self.size = None
        self._current_probs: Optional[Tensor] = None

    @property
    def object_ids(self) -> List[int]:
        return self.streams[0].object_ids

    @property
    def num_objects(self) -> int:
        return self.streams[0].num_objects

    @property
    def frame_index(self) -> int:
        return self.streams[0].frame_index

    # mapping into and out of the members' geometry
    def _frame(self, frame):
        # converted once here, not once per view
        return frame if self.views is None else frames_to_tensor(frame)

    def _frame_to(self, i: int, frame):
        return frame if self.views is None else \
            self.views[i].frame_to_view(frame)

    def _labels_to(self, i: int, labels: np.ndarray) -> np.ndarray:
        return labels if self.views is None else \
            self.views[i].labels_to_view(labels)

    def _probs_to(self, i: int, probs: Tensor) -> Tensor:
        return probs if self.views is None else \
            self.views[i].probs_to_view(probs)

    def _probs_from(self, i: int, probs: Tensor) -> Tensor:
        return probs if self.views is None else \
            self.views[i].probs_from_view(probs, self.size)

    # the VideoStream API
    @torch.no_grad()
    def start(self, frame, labels: np.ndarray) -> Tensor:
        """Begin with frame 0 and its annotation (each member gets the
        annotation in its geometry); returns the ``(K + 1, H, W)`` one-hot
        probabilities of frame 0."""
        labels = np.asarray(labels)
        frame = self._frame(frame)
        self.size = tuple(labels.shape)
        for i, stream in enumerate(self.streams):
            member = stream.start(self._frame_to(i, frame),
                                  self._labels_to(i, labels))
        probs = labels_to_onehot(labels, self.object_ids).to(member)
        self._current_probs = probs
        return probs

    @torch.no_grad()
    def segment(self, frame) -> Tensor:
        """Segment the next frame in every member; returns the weighted
        mean ``(K + 1, H, W)`` of their probabilities, at the original
        size."""
        frame = self._frame(frame)
        probs = [self._probs_from(i, stream.segment(self._frame_to(i, frame)))
                 for i, stream in enumerate(self.streams)]
        self._current_probs = merge_probabilities(probs, self.weights)
        return self._current_probs

    def memorize(self, probs: Tensor) -> None:
        """Memorise ``(K + 1, H, W)`` probabilities (usually the average)
        in every member, mapped into its geometry."""
        self._current_probs = probs
        for i, stream in enumerate(self.streams):
            stream.memorize(self._probs_to(i, probs))

    @torch.no_grad()
    def add_objects(self, labels: np.ndarray,
                    object_ids: Optional[Sequence[int]] = None,
                    probs: Optional[Tensor] = None) -> Tensor:
        """Add objects first given in the current frame to every member
        (see :meth:`VideoStream.add_objects`). Each member adds them to the
        current probabilities (the average) in its geometry, with the given
        mask in its geometry, and memorises that.

        Returns:
            Tensor: ``(K + K_new + 1, H, W)`` probabilities at the original
            size; the new objects take their given masks.
        """
        if self._current_probs is None:
            raise RuntimeError('add_objects() needs a current frame: call '
                               'start() or segment() first')
        labels = np.asarray(labels)
        if tuple(labels.shape) != self.size:
            raise ValueError(f'the mask of the new objects has size '
                             f'{labels.shape}, the frame {self.size}')
        if object_ids is None:
            object_ids = labels_object_ids(labels,
                                           exclude=self.object_ids)
        object_ids = [int(i) for i in object_ids]
        if probs is None:
            probs = self._current_probs
        for i, stream in enumerate(self.streams):
            stream.add_objects(self._labels_to(i, labels), object_ids,
                               probs=self._probs_to(i, probs))
        if object_ids:
            probs = merge_new_objects(probs, labels, object_ids)
        self._current_probs = probs
        return probs

    @torch.no_grad()
    def step(self, frame, labels: Optional[np.ndarray] = None,
             object_ids: Optional[Sequence[int]] = None) -> Tensor:
        """:meth:`segment`, :meth:`memorize` and, with ``labels``,
        :meth:`add_objects`."""
        probs = self.segment(frame)
        self.memorize(probs)
        if labels is not None:
            probs = self.add_objects(labels, object_ids)
        return probs

    def __repr__(self) -> str:
        views = '' if self.views is None else f', views={self.views}'
        return (f'AveragingStream({len(self.streams)} streams, '
                f'weights={self.weights}{views})')
