"""Space-Time Memory network (Oh et al., ICCV 2019)."""
from typing import (Dict, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from vosbench.registry import (BACKBONES, DECODERS, MEMORY_READERS,
                               MODELS)
from vosbench.utils.image_io import read_frame
from vosbench.utils.mask_io import read_mask
from .soft_aggregation import aggregated_probs, soft_aggregate
from .video_stream import VideoStream

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Given masks: ``{frame index: (H, W) labels}`` or one entry per frame
#: (None where no mask is given).
GivenLabels = Union[Mapping[int, np.ndarray],
                    Sequence[Optional[np.ndarray]]]


class StreamingSegmenterMixin:
    """Whole-video inference for any model that opens video streams.

    A class using it provides ``new_stream(object_ids) -> stream``, where
    the stream has the :class:`VideoStream` API (``start``, ``segment``,
    ``memorize``, ``add_objects``, ``object_ids``, ``num_objects``). It gets
    :meth:`segment_video` (frames and given masks -> labels per frame) and
    :meth:`predict` (mmengine data samples with frame and mask paths ->
    predicted labels) from here, so that :class:`STM`, test-time
    augmentation (:class:`vosbench.models.tta.VOSTTAModel`) and ensembles
    (:class:`vosbench.models.vos.VOSEnsemble`) read data samples and given
    masks the same way.
    """

    @torch.no_grad()
    def segment_video(self, frames,
                      first_labels: Optional[np.ndarray] = None,
                      object_ids: Optional[Sequence[int]] = None,
                      given_labels: Optional[GivenLabels] = None):
        """Segment a video given the masks of its objects.

        DAVIS: every object is given in frame 0 (``first_labels``).
        YouTube-VOS: an object is given by the mask of the frame it first
        appears in (``given_labels``); it is added to the stream there (see
        :meth:`VideoStream.add_objects`) and predicted from the next frame
        on. Frames before the first given object are all background.

        Args:
            frames (Iterable): ``(H, W, 3)`` uint8 RGB frames, frame 0 first
                (consumed lazily).
            first_labels (np.ndarray, optional): ``(H, W)`` labels of
                frame 0; short for ``given_labels={0: first_labels}``.
            object_ids (Sequence[int], optional): Objects to track. Each
                starts at the first given mask that contains it (one
                contained in none starts, empty, at the first given mask).
                Defaults to every label of the given masks except 0 and
                255, each from the first given mask that contains it; a
                label of a later given mask that is already tracked is not
                re-initialised.
            given_labels (Mapping[int, np.ndarray] | Sequence, optional):
                ``(H, W)`` labels by frame index, or a per-frame sequence
                with None where no mask is given.

        Yields:
            np.ndarray: ``(H, W)`` uint8 labels of every frame; at a frame
            with given objects these take their given masks (void is
            background).
        """
        given = _given_label_dict(first_labels, given_labels)
        start_frames = _object_start_frames(given, object_ids)
        shape = given[min(given)].shape
        stream = None
        lut = np.zeros(1, dtype=np.uint8)
        for t, frame in enumerate(frames):
            new_ids = [i for i, start in start_frames.items() if start == t]
            if stream is None:
                if not new_ids:
                    yield np.zeros(shape, dtype=np.uint8)
                    continue
                stream = self.new_stream(new_ids)
                probs = stream.start(frame, given[t])
            else:
                probs = stream.segment(frame)
                stream.memorize(probs)
                if new_ids:
                    probs = stream.add_objects(given[t], new_ids)
            if len(lut) != stream.num_objects + 1:
                lut = np.array([0] + stream.object_ids, dtype=np.uint8)
            yield lut[probs.argmax(0).cpu().numpy()]

    def predict(self, inputs, data_samples: List[dict]) -> List[dict]:
        """Segment whole videos, streaming their frames from disk.

        Args:
            inputs: Unused (frames are read lazily from
                ``data_samples[i]['frame_paths']``).
            data_samples (list[dict]): ``seq_name``, ``frame_paths``,
                ``frame_names`` and either ``given_mask_paths`` (a mask path
                or None per frame: the masks of objects first given there)
                or ``first_mask_path``; optionally ``output_frame_names``
                (only these frames are kept, e.g. the ``valid`` frames of
                YouTube-VOS when inferring on all frames) and
                ``gt_mask_paths``.

        Returns:
            list[dict]: the data samples with ``pred_labels`` ``(N, H, W)``
            uint8, ``pred_frame_names`` (N names) and ``pred_frame_indices``
            (their indices in ``frame_paths``) added; N is the number of
            output frames, all frames by default.
        """
        results = []
        for sample in data_samples:
            frame_paths = sample['frame_paths']
            frame_names = [str(n) for n in sample['frame_names']]
            given_paths = sample.get('given_mask_paths')
            if given_paths is None:
                given_paths = [sample['first_mask_path']]
            given = {t: read_mask(path) for t, path in enumerate(given_paths)
                     if path is not None}
            if not given:
                raise ValueError(f'video {sample.get("seq_name")!r}: no '
                                 'given mask (given_mask_paths are all None)')
            first_given = min(given)
            shape = given[first_given].shape

            def frames():
                for path in frame_paths:
                    frame = read_frame(path)
                    if frame.shape[:2] != shape:
                        raise ValueError(
                            f'{path}: frame size {frame.shape[:2]} differs '
                            f'from the given mask {shape} '
                            f'({given_paths[first_given]})')
                    yield frame

            out_names = sample.get('output_frame_names')
            out_names = frame_names if out_names is None else [
                str(n) for n in out_names]
            index_of = {name: t for t, name in enumerate(frame_names)}
            missing = [n for n in out_names if n not in index_of]
            if missing:
                raise ValueError(
                    f'video {sample.get("seq_name")!r}: output frames '
                    f'{missing[:5]} are not among its frames')
            out_indices = [index_of[n] for n in out_names]
            slot = {t: i for i, t in enumerate(out_indices)}
            pred = np.zeros((len(out_indices), *shape), dtype=np.uint8)
            for t, labels in enumerate(
                    self.segment_video(frames(), given_labels=given)):
                if t in slot:
                    pred[slot[t]] = labels
            result = dict(sample)
            result['pred_labels'] = pred
            result['pred_frame_names'] = out_names
            result['pred_frame_indices'] = out_indices
            results.append(result)
        return results


@MODELS.register_module()
class STM(StreamingSegmenterMixin, BaseModel):
    """Space-Time Memory network.

    Frames come in as RGB in [0, 1] and are normalised here (after padding,
    as the reference). The memory encoder sees the frame, the object's soft
    mask and the clamped sum of the other objects' masks (5 channels); only
    its stride-16 output is used. The query encoder's stride-16 output gives
    the query key/value and its stride-8 and stride-4 outputs the decoder's
    skips.

    Args:
        memory_encoder (dict): BACKBONES config, 5 input channels, whose last
            output is stride 16.
        query_encoder (dict): BACKBONES config whose outputs are strides
            4, 8, 16 (in that order).
        memory_key_value (dict): Key/value projection of the memory encoder.
        query_key_value (dict): Key/value projection of the query encoder.
        memory_reader (dict): MEMORY_READERS config.
        decoder (dict): DECODERS config.
        loss (dict): Loss on the aggregated logits. Defaults to
            cross-entropy.
        train_cfg (dict, optional): Unused keys are ignored.
        test_cfg (dict, optional): ``mem_every`` (5), ``keep_previous``
            (True), ``max_memory_frames`` (None), ``pad_divisor`` (16),
            ``aggregation_channels`` (None).
        data_preprocessor (dict, optional): Defaults to
            ``VOSDataPreprocessor``.
    """

    def __init__(self,
                 memory_encoder: dict,
                 query_encoder: dict,
                 memory_key_value: dict,
                 query_key_value: dict,
                 memory_reader: dict,
                 decoder: dict,
                 loss: Optional[dict] = None,
                 pixel_mean: Sequence[float] = IMAGENET_MEAN,
                 pixel_std: Sequence[float] = IMAGENET_STD,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='VOSDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            # built here so that it works without a default scope
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.memory_encoder = BACKBONES.build(memory_encoder)
        self.query_encoder = BACKBONES.build(query_encoder)
        self.memory_key_value = MODELS.build(memory_key_value)
        self.query_key_value = MODELS.build(query_key_value)
        self.memory_reader = MEMORY_READERS.build(memory_reader)
        self.decoder = DECODERS.build(decoder)
        self.loss_module = MODELS.build(
            loss if loss is not None else dict(type='VOSCrossEntropyLoss'))
        self.register_buffer(
            'pixel_mean', torch.tensor(pixel_mean).view(1, 3, 1, 1), False)
        self.register_buffer(
            'pixel_std', torch.tensor(pixel_std).view(1, 3, 1, 1), False)
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})

    # ------------------------------------------------------------------
    # building blocks shared by training and inference
    def normalize(self, frames: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB in [0, 1] -> normalised."""
        return (frames - self.pixel_mean) / self.pixel_std

    def encode_memory(self, frames: Tensor, object_probs: Tensor,
                      valid: Optional[Tensor] = None,
                      other_probs: Optional[Tensor] = None
                      ) -> Tuple[Tensor, Tensor]:
        """Encode frames with each object's soft mask into memory.

        Args:
            frames (Tensor): ``(B, 3, H, W)`` RGB in [0, 1].
            object_probs (Tensor): ``(B, K, H, W)`` soft masks.
            valid (Tensor, optional): ``(B, K)`` bool, False for padding
                objects.
            other_probs (Tensor, optional): ``(B, 1, H, W)`` summed soft
                masks of objects that are in the frame but not in this
                batch (objects of other memory groups, see
                :class:`VideoStream`); added to every object's "other
                objects" input before the clamp.

        Returns:
            tuple: key ``(B*K, Ck, H/16, W/16)`` and value
            ``(B*K, Cv, H/16, W/16)``, objects of a frame consecutive.
        """
        batch, num_objects = object_probs.shape[:2]
        if valid is not None:
            object_probs = object_probs * valid[:, :, None, None].to(
                object_probs.dtype)
        total = object_probs.sum(dim=1, keepdim=True)
        if other_probs is not None:
            total = total + other_probs
        others = (total - object_probs).clamp(0, 1)
        frames = self.normalize(frames)
        frames = frames[:, None].expand(-1, num_objects, -1, -1, -1)
        inputs = torch.cat([frames, object_probs[:, :, None],
                            others[:, :, None]], dim=2)
        inputs = inputs.flatten(0, 1)
        if valid is None or bool(valid.all()):
            return self.memory_key_value(self.memory_encoder(inputs)[-1])
        # padding objects are not encoded (nor seen by batch norm); their
        # keys and values are zero
        keep = valid.flatten().nonzero().squeeze(1)
        key, value = self.memory_key_value(
            self.memory_encoder(inputs[keep])[-1])
        full_key = key.new_zeros((inputs.shape[0], *key.shape[1:]))
        full_value = value.new_zeros((inputs.shape[0], *value.shape[1:]))
        return (full_key.index_copy(0, keep, key),
                full_value.index_copy(0, keep, value))

    def encode_query(self, frames: Tensor
                     ) -> Tuple[Tensor, Tensor, List[Tensor]]:
        """
        Args:
            frames (Tensor): ``(B, 3, H, W)`` RGB in [0, 1].

        Returns:
            tuple: key ``(B, Ck, H/16, W/16)``, value ``(B, Cv, H/16,
            W/16)`` and the decoder skips, stride 8 then stride 4.
        """
        features = self.query_encoder(self.normalize(frames))
        key, value = self.query_key_value(features[-1])
        skips = list(features[:-1])[::-1]
        return key, value, skips

    def decode_objects(self, memory_key: Tensor, memory_value: Tensor,
                       query_key: Tensor, query_value: Tensor,
                       skips: List[Tensor]) -> Tensor:
        """Read memory and decode each object's foreground probability
        (before soft aggregation).

        Args:
            memory_key (Tensor): ``(B*K, Ck, T, h, w)``.
            memory_value (Tensor): ``(B*K, Cv, T, h, w)``.
            query_key (Tensor): ``(B, Ck, h, w)``.
            query_value (Tensor): ``(B, Cv, h, w)``.
            skips (list[Tensor]): ``(B, C, 2h, 2w)`` and ``(B, C', 4h, 4w)``.

        Returns:
            Tensor: ``(B, K, H, W)`` foreground probabilities, H = 16h.
        """
        batch = query_key.shape[0]
        num_objects = memory_key.shape[0] // batch

        def per_object(x: Tensor) -> Tensor:
            return x.repeat_interleave(num_objects, dim=0) \
                if num_objects > 1 else x

        read = self.memory_reader(memory_key, memory_value,
                                  per_object(query_key),
                                  per_object(query_value))
        # the skips go once per frame: the decoder's skip branches do not
        # depend on the object and run once
        logits = self.decoder(read, skips)
        object_probs = torch.softmax(logits, dim=1)[:, 1]
        return object_probs.view(batch, num_objects,
                                 *object_probs.shape[-2:])

    def decode(self, memory_key: Tensor, memory_value: Tensor,
               query_key: Tensor, query_value: Tensor, skips: List[Tensor],
               valid: Optional[Tensor] = None) -> Tensor:
        """Read memory and decode aggregated logits.

        Args:
            memory_key (Tensor): ``(B*K, Ck, T, h, w)``.
            memory_value (Tensor): ``(B*K, Cv, T, h, w)``.
            query_key (Tensor): ``(B, Ck, h, w)``.
            query_value (Tensor): ``(B, Cv, h, w)``.
            skips (list[Tensor]): ``(B, C, 2h, 2w)`` and ``(B, C', 4h, 4w)``.
            valid (Tensor, optional): ``(B, K)`` bool.

        Returns:
            Tensor: ``(B, K + 1, H, W)`` aggregated logits, H = 16h.
        """
        object_probs = self.decode_objects(memory_key, memory_value,
                                           query_key, query_value, skips)
        return soft_aggregate(object_probs, valid)

    def segment_frame(self, frames: Tensor, memory_key: Tensor,
                      memory_value: Tensor,
                      valid: Optional[Tensor] = None) -> Tensor:
        """Segment ``(B, 3, H, W)`` frames against the memory; returns
        ``(B, K + 1, H, W)`` aggregated logits."""
        query_key, query_value, skips = self.encode_query(frames)
        return self.decode(memory_key, memory_value, query_key, query_value,
                           skips, valid)

    @staticmethod
    def probs_from_logits(logits: Tensor,
                          total_channels: Optional[int] = None) -> Tensor:
        """Final probabilities from aggregated logits (see
        :func:`aggregated_probs`)."""
        return aggregated_probs(logits, total_channels)

    # ------------------------------------------------------------------
    # mmengine entry points
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.forward_clips(inputs, data_samples)
        raise RuntimeError(f'invalid mode {mode!r}: use loss, predict or '
                           'tensor')

    def forward_clips(self, frames: Tensor, data_samples: List[dict]
                      ) -> List[Tensor]:
        """Run training clips: frame 0 with its ground truth starts the
        memory; each later frame is segmented and memorised with its
        predicted soft probabilities.

        Args:
            frames (Tensor): ``(B, T, 3, H, W)`` RGB in [0, 1].
            data_samples (list[dict]): ``masks`` ``(T, H, W)`` long labels
                ``0..K`` (255 ignored), ``num_objects`` int.

        Returns:
            list[Tensor]: ``(B, K + 1, H, W)`` logits of frames 1..T-1.
        """
        masks = torch.stack([s['masks'] for s in data_samples])
        max_objects = int(self.train_cfg.get(
            'max_objects', max(int(s['num_objects']) for s in data_samples)))
        num_objects = torch.tensor([int(s['num_objects'])
                                    for s in data_samples],
                                   device=frames.device)
        valid = torch.arange(max_objects, device=frames.device)[None] < \
            num_objects[:, None]
        first = masks[:, 0]
        probs = torch.stack([first == i for i in range(1, max_objects + 1)],
                            dim=1).float()
        keys, values, outputs = [], [], []
        for t in range(1, frames.shape[1]):
            key, value = self.encode_memory(frames[:, t - 1], probs, valid)
            keys.append(key.unsqueeze(2))
            values.append(value.unsqueeze(2))
            logits = self.segment_frame(frames[:, t], torch.cat(keys, 2),
                                        torch.cat(values, 2), valid)
            outputs.append(logits)
            probs = torch.softmax(logits, dim=1)[:, 1:]
        return outputs

    def loss(self, frames: Tensor, data_samples: List[dict]
             ) -> Dict[str, Tensor]:
        """Cross-entropy of the aggregated logits of frames 1..T-1."""
        logits = self.forward_clips(frames, data_samples)
        masks = torch.stack([s['masks'] for s in data_samples])
        losses = [self.loss_module(frame_logits, masks[:, t + 1])
                  for t, frame_logits in enumerate(logits)]
        return dict(loss_ce=torch.stack(losses).mean())

    def new_stream(self, object_ids: Sequence[int], **overrides
                   ) -> VideoStream:
        """A :class:`VideoStream` with this model's ``test_cfg``."""
        cfg = dict(mem_every=5, keep_previous=True, max_memory_frames=None,
                   pad_divisor=16, aggregation_channels=None)
        cfg.update({k: v for k, v in self.test_cfg.items() if k in cfg})
        cfg.update(overrides)
        return VideoStream(self, object_ids, **cfg)


def _given_label_dict(first_labels: Optional[np.ndarray],
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


def _object_start_frames(given: Dict[int, np.ndarray],
                         object_ids: Optional[Sequence[int]]
                         ) -> Dict[int, int]:
    """``{object id: frame it starts at}`` in channel order."""
    first_seen: Dict[int, int] = {}
    for t, labels in given.items():
        for label in np.unique(labels).tolist():
            if label not in (0, 255):
                first_seen.setdefault(int(label), t)
    if object_ids is None:
        return first_seen
    first_given = min(given)
    return {int(i): first_seen.get(int(i), first_given) for i in object_ids}
