"""Space-Time Memory network (Oh et al., ICCV 2019)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from torch import Tensor

from vosbench.registry import (BACKBONES, DECODERS, MEMORY_READERS,
                               MODELS)
from vosbench.utils.option_checks import (Option, check_options, one_of,
                                          optional, positive_int)
from .nonfinite_loss import NonFiniteLossError, NonFiniteLossGuard
from .soft_aggregation import (aggregated_probs, aggregated_probs_in_place,
                               soft_aggregate)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: What STM's ``train_cfg`` accepts: option -> (default, allowed values).
#:
#: - ``max_objects``: object channels of a training batch; None: the most
#:   objects of its clips.
#: - ``nonfinite_loss``: what a training step whose loss is NaN or infinite
#:   does: ``'raise'`` stops training with an error naming the iteration and
#:   the clips (video and frame indices); ``'skip'`` drops the step (no
#:   optimizer update; the weights stay as they were), logs a warning and
#:   counts it as ``nonfinite_skipped`` in the message hub.
TRAIN_OPTIONS = dict(
    max_objects=Option(None, optional(positive_int)),
    nonfinite_loss=Option('raise', one_of('raise', 'skip')),
)


#: STM's own ``test_cfg`` options, besides the stream options
#: (:data:`vosbench.inference.stream_options.STREAM_OPTIONS`, the memory
#: protocol), one line each:
#:
#: - ``top_k``: at inference, each query position reads only its ``top_k``
#:   most similar memory positions (STCN, XMem); None reads all (STM).
#: - ``precision``: ``fp32`` (exact), ``bf16`` (CPU and CUDA) or ``fp16``
#:   (CUDA): the encoders and the decoder of a prepared copy of the network
#:   run in it (:func:`vosbench.inference.precision.prepare_network`).
TEST_OPTIONS: Dict[str, Option] = dict(
    top_k=Option(None, optional(positive_int)),
    precision=Option('fp32', one_of('fp32', 'bf16', 'fp16')),
)


@MODELS.register_module()
class STM(NonFiniteLossGuard, BaseModel):
    """Space-Time Memory network.

    Frames come in as RGB in [0, 1] and are normalised here (after padding,
    as the reference). The memory encoder sees the frame, the object's soft
    mask and the clamped sum of the other objects' masks (5 channels); only
    its stride-16 output is used. The query encoder's stride-16 output gives
    the query key/value and its stride-8 and stride-4 outputs the decoder's
    skips.

    ``train_cfg`` and ``test_cfg`` are checked when the model is built: an
    unknown key, or a value of the wrong type or range, is an error naming
    the config key (e.g. ``model.test_cfg.mem_evry``) and listing the
    accepted ones.

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
        train_cfg (dict, optional): :data:`TRAIN_OPTIONS`: ``max_objects``
            (the object channels of a training batch; default: the most
            objects of its clips) and ``nonfinite_loss`` (``'raise'``, the
            default, or ``'skip'``).
        test_cfg (dict, optional): The memory protocol of the video
            streams (:data:`vosbench.inference.stream_options.
            STREAM_OPTIONS`: ``mem_every``, ``keep_previous``,
            ``max_memory_frames``, ``pad_divisor``,
            ``aggregation_channels``) and STM's own :data:`TEST_OPTIONS`.
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
        check_options(self.train_cfg, TRAIN_OPTIONS, 'model.train_cfg')
        # the table of the stream options lives with the streams (the layer
        # above); importing it when a model is built keeps importing
        # vosbench.models free of it
        from vosbench.inference.stream_options import check_test_cfg
        check_test_cfg(self.test_cfg, TEST_OPTIONS)
        # what the encoders and the decoder compute in; a copy prepared for
        # bf16 / fp16 inference changes them (keys, values, the memory
        # read and the probabilities stay fp32)
        self.compute_dtype = torch.float32
        self.channels_last = False
        self._prepared: Dict[tuple, torch.nn.Module] = {}

    def _to_compute(self, x: Tensor) -> Tensor:
        """``x`` in the compute dtype and layout (itself for fp32)."""
        if self.compute_dtype == torch.float32 and not self.channels_last:
            return x
        return x.to(dtype=self.compute_dtype,
                    memory_format=torch.channels_last
                    if self.channels_last else torch.preserve_format)

    def inference_network(self, precision: Optional[str] = None):
        """This network for inference at ``precision`` (default
        ``test_cfg.precision``): itself for fp32, else a copy prepared once
        (folded BatchNorm, weights cast, channels_last) and kept until the
        network trains or loads weights again."""
        precision = precision or self.test_cfg.get('precision', 'fp32')
        if precision == 'fp32':
            return self
        device = next(self.parameters()).device
        key = (precision, device)
        if key not in self._prepared:
            from vosbench.inference.precision import prepare_network
            self._prepared = {}  # not copied into the prepared network
            self._prepared[key] = prepare_network(self, precision)
        return self._prepared[key]

    def train(self, mode: bool = True):
        if mode:
            self._prepared = {}
        return super().train(mode)

    def load_state_dict(self, state_dict, strict: bool = True,
                        assign: bool = False):
        self._prepared = {}
        return super().load_state_dict(state_dict, strict=strict,
                                       assign=assign)

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
        inputs = self._to_compute(inputs.flatten(0, 1))
        if valid is None or bool(valid.all()):
            key, value = self.memory_key_value(
                self.memory_encoder(inputs)[-1])
            return key.float(), value.float()
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
        features = self.query_encoder(
            self._to_compute(self.normalize(frames)))
        key, value = self.query_key_value(features[-1])
        skips = list(features[:-1])[::-1]
        return key.float(), value.float(), skips

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

        top_k = None if self.training else self.test_cfg.get('top_k')
        read = self.memory_reader(memory_key, memory_value,
                                  per_object(query_key),
                                  per_object(query_value), top_k=top_k)
        # the skips go once per frame: the decoder's skip branches do not
        # depend on the object and run once
        logits = self.decoder(self._to_compute(read), skips).float()
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
        return self.aggregate(object_probs, valid)

    @staticmethod
    def aggregate(object_probs: Tensor,
                  valid: Optional[Tensor] = None) -> Tensor:
        """``(B, K, H, W)`` per-object probabilities -> ``(B, K + 1, H, W)``
        aggregated logits (see :func:`soft_aggregate`)."""
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

    @staticmethod
    def probs_in_place(buffer: Tensor,
                       total_channels: Optional[int] = None) -> Tensor:
        """:meth:`aggregate` and :meth:`probs_from_logits` in ``buffer``
        ``(B, K + 1, H, W)`` (objects' probabilities in channels 1..K), with
        one-channel temporaries (see :func:`aggregated_probs_in_place`)."""
        return aggregated_probs_in_place(buffer, total_channels)

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
        max_objects = self.train_cfg.get('max_objects')
        if max_objects is None:
            max_objects = max(int(s['num_objects']) for s in data_samples)
        max_objects = int(max_objects)
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
        self.remember_clips(data_samples)
        logits = self.forward_clips(frames, data_samples)
        masks = torch.stack([s['masks'] for s in data_samples])
        losses = [self.loss_module(frame_logits, masks[:, t + 1])
                  for t, frame_logits in enumerate(logits)]
        return dict(loss_ce=torch.stack(losses).mean())

    # ------------------------------------------------------------------
    # running the network over a video
    #
    # Streaming inference is the job of vosbench.inference, which builds on
    # this network. These three entry points (mmengine's test loop calls
    # predict; new_stream and segment_video are public API) import it when
    # they are called, so that importing vosbench.models never loads the
    # layer above it: these (and the check of ``test_cfg`` against the
    # stream options' table when a model is built) are the only imports
    # from models up to inference besides the TTA and ensemble wrappers,
    # which are built on its averaging stream.
    def new_stream(self, object_ids: Sequence[int], **overrides):
        """A :class:`vosbench.inference.VideoStream` over this network with
        the memory protocol of ``test_cfg`` (``overrides`` win)."""
        from vosbench.inference import VideoStream, stream_options
        return VideoStream(self.inference_network(), object_ids,
                           **stream_options(self.test_cfg, overrides))

    def segment_video(self, frames, first_labels=None, object_ids=None,
                      given_labels=None):
        """Labels of every frame of a video; see
        :func:`vosbench.inference.segment_video`."""
        from vosbench.inference import segment_video
        return segment_video(self, frames, first_labels, object_ids,
                             given_labels)

    def predict(self, inputs, data_samples: List[dict]) -> List[dict]:
        """Segment whole test videos (``inputs`` unused: the frames are the
        data samples' lazy frame sources); see
        :func:`vosbench.inference.predict_videos`."""
        from vosbench.inference import predict_videos
        return predict_videos(self, data_samples)
