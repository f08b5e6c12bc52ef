"""Space-Time Memory network (Oh et al., ICCV 2019)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

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


@MODELS.register_module()
class STM(BaseModel):
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
                      valid: Optional[Tensor] = None
                      ) -> Tuple[Tensor, Tensor]:
        """Encode frames with each object's soft mask into memory.

        Args:
            frames (Tensor): ``(B, 3, H, W)`` RGB in [0, 1].
            object_probs (Tensor): ``(B, K, H, W)`` soft masks.
            valid (Tensor, optional): ``(B, K)`` bool, False for padding
                objects.

        Returns:
            tuple: key ``(B*K, Ck, H/16, W/16)`` and value
            ``(B*K, Cv, H/16, W/16)``, objects of a frame consecutive.
        """
        batch, num_objects = object_probs.shape[:2]
        if valid is not None:
            object_probs = object_probs * valid[:, :, None, None].to(
                object_probs.dtype)
        others = (object_probs.sum(dim=1, keepdim=True) -
                  object_probs).clamp(0, 1)
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
        batch = query_key.shape[0]
        num_objects = memory_key.shape[0] // batch

        def per_object(x: Tensor) -> Tensor:
            return x.repeat_interleave(num_objects, dim=0) \
                if num_objects > 1 else x

        read = self.memory_reader(memory_key, memory_value,
                                  per_object(query_key),
                                  per_object(query_value))
        logits = self.decoder(read, [per_object(s) for s in skips])
        object_probs = torch.softmax(logits, dim=1)[:, 1]
        object_probs = object_probs.view(batch, num_objects,
                                         *object_probs.shape[-2:])
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

    @torch.no_grad()
    def segment_video(self, frames, first_labels: np.ndarray,
                      object_ids: Optional[Sequence[int]] = None):
        """Segment a video given the first frame's labels.

        Args:
            frames (Iterable): ``(H, W, 3)`` uint8 RGB frames, frame 0 first
                (consumed lazily).
            first_labels (np.ndarray): ``(H, W)`` labels of frame 0.
            object_ids (Sequence[int], optional): Objects to track. Defaults
                to the labels of ``first_labels`` except 0 and 255.

        Yields:
            np.ndarray: ``(H, W)`` uint8 labels of every frame (frame 0 is
            ``first_labels`` with void set to background).
        """
        if object_ids is None:
            object_ids = [int(i) for i in np.unique(first_labels)
                          if i not in (0, 255)]
        lut = np.array([0] + list(object_ids), dtype=np.uint8)
        frames = iter(frames)
        first_frame = next(frames)
        if not object_ids:
            yield np.zeros_like(first_labels, dtype=np.uint8)
            for _ in frames:
                yield np.zeros_like(first_labels, dtype=np.uint8)
            return
        stream = self.new_stream(object_ids)
        probs = stream.start(first_frame, first_labels)
        yield lut[probs.argmax(0).cpu().numpy()]
        for frame in frames:
            probs = stream.segment(frame)
            stream.memorize(probs)
            yield lut[probs.argmax(0).cpu().numpy()]

    def predict(self, inputs, data_samples: List[dict]) -> List[dict]:
        """Segment whole videos, streaming their frames from disk.

        Args:
            inputs: Unused (frames are read lazily from
                ``data_samples[i]['frame_paths']``).
            data_samples (list[dict]): ``seq_name``, ``frame_paths``,
                ``frame_names``, ``first_mask_path`` and optionally
                ``gt_mask_paths``.

        Returns:
            list[dict]: the data samples with ``pred_labels`` ``(T, H, W)``
            uint8 added.
        """
        results = []
        for sample in data_samples:
            first_labels = read_mask(sample['first_mask_path'])
            frame_paths = sample['frame_paths']

            def frames():
                for path in frame_paths:
                    frame = read_frame(path)
                    if frame.shape[:2] != first_labels.shape:
                        raise ValueError(
                            f'{path}: frame size {frame.shape[:2]} differs '
                            f'from the first mask {first_labels.shape} '
                            f'({sample["first_mask_path"]})')
                    yield frame

            pred = np.empty((len(frame_paths), *first_labels.shape),
                            dtype=np.uint8)
            for t, labels in enumerate(self.segment_video(frames(),
                                                          first_labels)):
                pred[t] = labels
            result = dict(sample)
            result['pred_labels'] = pred
            results.append(result)
        return results
