"""Whole-video inference: frames and given masks in, labels per frame out.

Works with any model that opens video streams (``new_stream(object_ids) ->
stream`` with the :class:`~vosbench.inference.VideoStream` API): STM, its
test-time augmentation and ensembles all segment videos and read mmengine
data samples through the same functions here.
"""
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, \
    Sequence, Union

import numpy as np
import torch

from vosbench.utils.labels import is_object_label

#: Given masks: ``{frame index: (H, W) labels}`` or one entry per frame
#: (None where no mask is given).
GivenLabels = Union[Mapping[int, np.ndarray],
                    Sequence[Optional[np.ndarray]]]


def given_label_dict(first_labels: Optional[np.ndarray],
                     given_labels: Optional[GivenLabels]
                     ) -> Dict[int, np.ndarray]:
    """``{frame index: (H, W) labels}`` from the two ways of giving masks."""
    if given_labels is None:
        given = {}
    elif isinstance(given_labels, Mapping):
        given = {int(t): labels for t, labels in given_labels.items()
                 if labels is not None}
    else:
        given = {t: labels for t, labels in enumerate(given_labels)
                 if labels is not None}
    if first_labels is not None:
        if 0 in given:
            raise ValueError('frame 0 is given twice (first_labels and '
                             'given_labels)')
        given[0] = first_labels
    if not given:
        raise ValueError('segment_video needs the mask of at least one '
                         'frame (first_labels or given_labels)')
    return {t: np.asarray(given[t]) for t in sorted(given)}


def object_start_frames(given: Dict[int, np.ndarray],
                        object_ids: Optional[Sequence[int]]
                        ) -> Dict[int, int]:
    """``{object id: frame it starts at}`` in channel order."""
    first_seen: Dict[int, int] = {}
    for t, labels in given.items():
        for label in np.unique(labels).tolist():
            if is_object_label(label):
                first_seen.setdefault(int(label), t)
    if object_ids is None:
        return first_seen
    first_given = min(given)
    return {int(i): first_seen.get(int(i), first_given) for i in object_ids}


@torch.no_grad()
def segment_video(model, frames: Iterable,
                  first_labels: Optional[np.ndarray] = None,
                  object_ids: Optional[Sequence[int]] = None,
                  given_labels: Optional[GivenLabels] = None
                  ) -> Iterator[np.ndarray]:
    """Segment a video given the masks of its objects.

    DAVIS: every object is given in frame 0 (``first_labels``).
    YouTube-VOS: an object is given by the mask of the frame it first
    appears in (``given_labels``); it is added to the stream there (see
    :meth:`VideoStream.add_objects`) and predicted from the next frame on.
    Frames before the first given object are all background.

    Args:
        model: Anything with ``new_stream(object_ids)``.
        frames (Iterable): ``(H, W, 3)`` uint8 RGB frames (arrays, or
            ``(3, H, W)`` float tensors in [0, 1]), frame 0 first, consumed
            lazily (a frame source from :mod:`vosbench.datasets.
            frame_sources` decodes each one when it is reached).
        first_labels (np.ndarray, optional): ``(H, W)`` labels of frame 0;
            short for ``given_labels={0: first_labels}``.
        object_ids (Sequence[int], optional): Objects to track. Each starts
            at the first given mask that contains it (one contained in none
            starts, empty, at the first given mask). Defaults to every
            object label of the given masks, each from the first given mask
            that contains it; a label of a later given mask that is already
            tracked is not re-initialised.
        given_labels (Mapping[int, np.ndarray] | Sequence, optional):
            ``(H, W)`` labels by frame index, or a per-frame sequence with
            None where no mask is given.

    Yields:
        np.ndarray: ``(H, W)`` uint8 labels of every frame; at a frame with
        given objects these take their given masks (void is background).
    """
    given = given_label_dict(first_labels, given_labels)
    start_frames = object_start_frames(given, object_ids)
    shape = given[min(given)].shape
    stream = None
    lut = np.zeros(1, dtype=np.uint8)
    for t, frame in enumerate(frames):
        new_ids = [i for i, start in start_frames.items() if start == t]
        if stream is None:
            if not new_ids:
                yield np.zeros(shape, dtype=np.uint8)
                continue
            stream = model.new_stream(new_ids)
            probs = stream.start(frame, given[t])
        else:
            probs = stream.step(frame, given[t] if new_ids else None,
                                new_ids)
        if len(lut) != stream.num_objects + 1:
            lut = np.array([0] + stream.object_ids, dtype=np.uint8)
        labels = lut[channel_argmax(probs)]
        probs = None  # not held while the next frame is segmented
        yield labels


def channel_argmax(probs: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` probabilities -> ``(H, W)`` channel indices (the first
    maximum on ties, as ``torch.argmax``).

    On the CPU numpy's argmax over the leading axis is used: torch's
    reduction over a non-innermost dimension took 109 ms for a 3 x 480 x
    854 frame against numpy's 20 ms (2 threads), about 5% of a tiny-STM
    step.
    """
    if probs.device.type != 'cpu':
        return probs.argmax(0).cpu().numpy()
    return probs.numpy().argmax(0)


class VideoInferenceError(RuntimeError):
    """A video of a test batch failed while it was segmented (a frame that
    cannot be read, a corrupt given mask, ...).

    The message names the video and the cause (whose message names the
    file); the cause is ``__cause__``.

    Attributes:
        seq_name (str): The video that failed.
        completed (list[dict]): The results of the batch's videos before it
            (as :func:`predict_videos` returns them).
        partial (dict): The failed video's result so far: the data sample
            with ``pred_labels`` (``(n, H, W)``), ``pred_frame_names`` and
            ``pred_frame_indices`` of the ``n`` output frames segmented
            before the failure (none when its given masks could not be
            read), and ``failure`` (the reason).
        remaining (list[dict]): The batch's data samples after it, not run.
    """

    def __init__(self, message: str, seq_name: str, completed: List[dict],
                 partial: dict, remaining: List[dict]):
        super().__init__(message)
        self.seq_name = seq_name
        self.completed = completed
        self.partial = partial
        self.remaining = remaining


def _partial_result(sample: dict, labels: np.ndarray, names: List[str],
                    indices: List[int], exc: Exception) -> dict:
    """A failed video's data sample with what was segmented of it and the
    reason (``failure``)."""
    return dict(sample, pred_labels=labels, pred_frame_names=names,
                pred_frame_indices=indices,
                failure=f'{type(exc).__name__}: {exc}')


def predict_videos(model, data_samples: List[dict]) -> List[dict]:
    """Segment whole videos of mmengine data samples.

    Args:
        model: Anything with ``new_stream(object_ids)``.
        data_samples (list[dict]): As packed by ``PackVideoInputs``:
            ``seq_name``, ``frame_names``, ``frames`` (a lazy frame source)
            and ``given_masks`` (a :class:`~vosbench.datasets.frame_sources.
            GivenMasks`, or a per-frame sequence of labels / None);
            optionally ``output_frame_names`` (only these frames are kept,
            e.g. the ``valid`` frames of YouTube-VOS when inferring on all
            frames).

    Returns:
        list[dict]: the data samples with ``pred_labels`` ``(N, H, W)``
        uint8, ``pred_frame_names`` (N names) and ``pred_frame_indices``
        (their indices among the frames) added; N is the number of output
        frames, all frames by default.

    Raises:
        VideoInferenceError: when reading a video's given masks or frames,
            or segmenting them, fails; it carries the results of the
            videos before, what was segmented of this one, and the videos
            after (``VOSTestLoop`` keeps them and goes on).
    """
    results = []
    for position, sample in enumerate(data_samples):
        name = sample.get('seq_name')
        if 'frames' not in sample or 'given_masks' not in sample:
            raise KeyError(
                f'video {name!r}: a test sample needs "frames" and '
                '"given_masks" (lazy sources); pack it with the '
                'PackVideoInputs transform')
        given_masks = sample['given_masks']
        try:
            given = given_masks.load() if hasattr(given_masks, 'load') else {
                t: labels for t, labels in enumerate(given_masks)
                if labels is not None}
        except Exception as exc:
            partial = _partial_result(sample, np.zeros((0, 0, 0), np.uint8),
                                      [], [], exc)
            raise VideoInferenceError(
                f'video {name!r}: its given masks cannot be read: {exc}',
                str(name), results, partial,
                list(data_samples[position + 1:])) from exc
        if not given:
            raise ValueError(f'video {name!r}: no given mask (no frame of '
                             'given_masks has one)')
        shape = given[min(given)].shape
        frame_names = [str(n) for n in sample['frame_names']]
        out_names = sample.get('output_frame_names')
        out_names = frame_names if out_names is None else [
            str(n) for n in out_names]
        index_of = {n: t for t, n in enumerate(frame_names)}
        missing = [n for n in out_names if n not in index_of]
        if missing:
            raise ValueError(f'video {name!r}: output frames {missing[:5]} '
                             'are not among its frames')
        out_indices = [index_of[n] for n in out_names]
        slot = {t: i for i, t in enumerate(out_indices)}
        pred = np.zeros((len(out_indices), *shape), dtype=np.uint8)
        done = 0  # frames segmented
        try:
            for t, labels in enumerate(
                    segment_video(model, sample['frames'],
                                  given_labels=given)):
                if t in slot:
                    pred[slot[t]] = labels
                done = t + 1
        except Exception as exc:
            kept = [i for i, t in enumerate(out_indices) if t < done]
            partial = _partial_result(sample, pred[kept],
                                      [out_names[i] for i in kept],
                                      [out_indices[i] for i in kept], exc)
            frame = frame_names[done] if done < len(frame_names) else None
            where = f', frame {frame!r}' if frame is not None else ''
            raise VideoInferenceError(
                f'video {name!r}{where} ({done} of {len(frame_names)} frames '
                f'segmented): {exc}', str(name), results, partial,
                list(data_samples[position + 1:])) from exc
        result = dict(sample)
        result['pred_labels'] = pred
        result['pred_frame_names'] = out_names
        result['pred_frame_indices'] = out_indices
        results.append(result)
    return results


class StreamingSegmenterMixin:
    """Whole-video inference for a model class that opens video streams.

    A class using it provides ``new_stream(object_ids) -> stream`` and gets
    :meth:`segment_video` (:func:`segment_video`) and :meth:`predict`
    (:func:`predict_videos`, mmengine's test entry point).
    """

    def segment_video(self, frames: Iterable,
                      first_labels: Optional[np.ndarray] = None,
                      object_ids: Optional[Sequence[int]] = None,
                      given_labels: Optional[GivenLabels] = None
                      ) -> Iterator[np.ndarray]:
        """See :func:`segment_video`."""
        return segment_video(self, frames, first_labels, object_ids,
                             given_labels)

    def predict(self, inputs, data_samples: List[dict]) -> List[dict]:
        """See :func:`predict_videos` (``inputs`` is unused: the frames
        are in the data samples' frame sources)."""
        return predict_videos(self, data_samples)
