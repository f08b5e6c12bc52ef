"""Test-time augmentation of a streaming VOS model."""
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseTTAModel
from torch import Tensor, nn

from vosbench.inference.averaging_stream import (AveragingStream,
                                                 merge_probabilities)
from vosbench.inference.stream_options import check_stream_overrides
from vosbench.inference.video_segmenter import StreamingSegmenterMixin
from vosbench.registry import MODELS
from .views import DEFAULT_TTA_VIEWS, build_views


def default_tta_model() -> dict:
    """The ``tta_model`` used by ``tools/test.py --tta`` when a config has
    none: flip x scales (0.75, 1.0)."""
    return dict(type='VOSTTAModel', views=copy.deepcopy(DEFAULT_TTA_VIEWS))


@MODELS.register_module()
class VOSTTAModel(StreamingSegmenterMixin, BaseTTAModel):
    """Test-time augmentation of a streaming VOS model (STM, an ensemble).

    Each video is segmented in several views (flip, scales, ...; see
    :mod:`vosbench.models.tta.views`), each by its own stream of ``module``
    with its own memory, in its own geometry. At every frame the views'
    per-object probabilities are mapped back to the original frame and
    averaged before the argmax, and every view memorises the average
    (mapped into its geometry): see :class:`AveragingStream`. Objects given
    mid-video (YouTube-VOS) join every view with their mask mapped into it.

    mmengine's TTA: ``tools/test.py --tta`` sets ``model =
    dict(type=tta_model.type, module=model, ...)`` and uses ``tta_pipeline``
    for the test data. Unlike image TTA, the views cannot run as separate
    data samples merged afterwards, because the merged probabilities of a
    frame are memorised for the next ones; so the views live here (the
    ``views`` argument) and the data pipeline is the plain test pipeline
    (``PackVideoInputs``: lazy frame sources, streamed by the model). Therefore
    :meth:`test_step` is overridden: it preprocesses the batch with the
    module's data preprocessor and segments each video with all views.
    The model only predicts and starts in eval mode.

    Args:
        module (dict | nn.Module): The model (anything with
            ``new_stream(object_ids, **overrides)`` and a
            ``data_preprocessor``).
        views: The views, anything :func:`build_views` takes. Defaults to
            flip x scales (0.75, 1.0), 4 views.
        data_preprocessor (dict, optional): Replaces the module's.
    """

    def __init__(self, module: Union[dict, nn.Module], views=None,
                 data_preprocessor: Optional[dict] = None):
        if isinstance(module, dict):
            # vosbench's registry: works without a default scope
            module = dict(module)
            if data_preprocessor is not None:
                module['data_preprocessor'] = data_preprocessor
            module = MODELS.build(module)
        if not hasattr(module, 'new_stream'):
            raise TypeError(f'{type(module).__name__} has no new_stream(): '
                            'VOSTTAModel wraps streaming VOS models')
        super().__init__(module=module)
        self.views = build_views(views)
        self.eval()  # it only predicts

    def new_stream(self, object_ids: Sequence[int], **overrides
                   ) -> AveragingStream:
        """An :class:`AveragingStream` over one stream of the module per
        view (``overrides``, checked first, go to every view's stream)."""
        check_stream_overrides(overrides)
        return AveragingStream(
            [self.module.new_stream(object_ids, **overrides)
             for _ in self.views], views=self.views)

    def test_step(self, data) -> List[dict]:
        """Segment the videos of a test batch with all views."""
        data = self.module.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    def merge_preds(self, data_samples_list) -> List[Tensor]:
        """Mean of per-view ``(K + 1, H, W)`` probabilities of the same
        frame, mapped back to the original frame: one list per frame, one
        tensor (or a dict with ``probs``) per view. This is the merge the
        streams apply at every frame (:func:`merge_probabilities`);
        :meth:`test_step` does not call it, since views are merged frame by
        frame inside the streams, not video by video."""
        merged = []
        for per_view in data_samples_list:
            probs = [p['probs'] if isinstance(p, dict) else p
                     for p in per_view]
            merged.append(merge_probabilities(probs))
        return merged

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'VOSTTAModel only predicts (mode {mode!r})')

    def extra_repr(self) -> str:
        views = getattr(self, 'views', None) or []
        return 'views=[' + ', '.join(v.name for v in views) + ']'
