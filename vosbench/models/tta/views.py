"""Geometric views of a video for test-time augmentation.

A *view* maps a video into its own geometry (flipped, rescaled, or both)
and maps probabilities back. Each view of a video is segmented by its own
:class:`~vosbench.inference.VideoStream`, which pads the view's frames to a
multiple of 16 itself; the views' probabilities are mapped back to the
original frame and averaged (see
:class:`~vosbench.inference.AveragingStream`).

Views are registered in the ``TTA`` registry and built from config dicts:

- :class:`IdentityView`, :class:`HorizontalFlipView`, ``ScaleView(scale)``
  and :class:`ComposedView` (views applied one after the other) are single
  views;
- :class:`FlipViews` (the frame as is and flipped), ``MultiScaleViews(
  scales)`` (one view per scale) and ``ViewProduct(factors)`` (every
  combination of one view from each factor) are sets of views.

:func:`build_views` turns a config into a list of views: a dict (a view or
a set of views), a flat list (the union of its items) or a list of lists
(the product of its items: ``[[identity, flip], [scale 0.75, scale 1.0]]``
gives 4 views).

Shapes: frames ``(3, H, W)`` float tensors in [0, 1] (an ``(H, W, 3)``
uint8 array is converted), label maps ``(H, W)`` integer arrays,
probabilities ``(C, H, W)`` tensors.
"""
import copy
import itertools
import math
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vosbench.registry import TTA
from vosbench.utils.frame_tensor import frames_to_tensor

Size = Tuple[int, int]

#: The default test-time augmentation: with and without horizontal flip, at
#: scales 0.75 and 1.0 (4 views), as the first technical report.
DEFAULT_TTA_VIEWS = dict(
    type='ViewProduct',
    factors=[dict(type='FlipViews'),
             dict(type='MultiScaleViews', scales=(0.75, 1.0))])


class BaseView:
    """One geometric view of a video (the identity).

    Subclasses override :meth:`view_size` and the four mappings; the
    defaults return their input.
    """

    #: Short name used in logs and reprs.
    name = 'identity'

    def view_size(self, size: Size) -> Size:
        """``(h, w)`` of the view of a ``(H, W)`` frame."""
        return tuple(size)

    def frame_to_view(self, frame: Union[np.ndarray, Tensor]) -> Tensor:
        """``(3, H, W)`` frame (or ``(H, W, 3)`` uint8) -> ``(3, h, w)``."""
        return frames_to_tensor(frame)

    def labels_to_view(self, labels: np.ndarray) -> np.ndarray:
        """``(H, W)`` labels -> ``(h, w)`` labels (nearest neighbour)."""
        return np.asarray(labels)

    def probs_to_view(self, probs: Tensor) -> Tensor:
        """``(C, H, W)`` probabilities -> ``(C, h, w)`` in the view."""
        return probs

    def probs_from_view(self, probs: Tensor, size: Size) -> Tensor:
        """``(C, h, w)`` probabilities of the view -> ``(C, H, W)`` of the
        original frame of size ``size``."""
        return probs

    @property
    def is_identity(self) -> bool:
        return type(self) is IdentityView

    def __repr__(self) -> str:
        return f'<view {self.name}>'


@TTA.register_module()
class IdentityView(BaseView):
    """The video as it is."""


@TTA.register_module()
class HorizontalFlipView(BaseView):
    """The video mirrored left to right (exactly invertible)."""

    name = 'flip'

    def frame_to_view(self, frame):
        return frames_to_tensor(frame).flip(-1)

    def labels_to_view(self, labels):
        return np.ascontiguousarray(np.asarray(labels)[..., ::-1])

    def probs_to_view(self, probs):
        return probs.flip(-1)

    def probs_from_view(self, probs, size):
        return probs.flip(-1)


def _resize_bilinear(x: Tensor, size: Size) -> Tensor:
    """``(C, H, W)`` -> ``(C, h, w)``, bilinear with
    ``align_corners=False``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x[None], size=tuple(size), mode='bilinear',
                         align_corners=False)[0]


@TTA.register_module()
class ScaleView(BaseView):
    """The video resized by ``scale``.

    The view of an ``(H, W)`` frame is ``(round(H * scale), round(W *
    scale))`` (halves rounded up), any size: the stream pads it to a
    multiple of 16. Frames and probabilities are resized bilinearly
    (``align_corners=False``), label maps with exact nearest neighbour
    (``nearest-exact``). A scale that keeps the size changes nothing.

    Args:
        scale (float): Factor of both sides, > 0.
    """

    def __init__(self, scale: float):
        scale = float(scale)
        if not scale > 0:
            raise ValueError(f'scale must be > 0, got {scale}')
        self.scale = scale
        self.name = f'scale{scale:g}'

    def view_size(self, size):
        return tuple(max(1, int(math.floor(d * self.scale + 0.5)))
                     for d in size)

    def frame_to_view(self, frame):
        frame = frames_to_tensor(frame)
        return _resize_bilinear(frame, self.view_size(frame.shape[-2:]))

    def labels_to_view(self, labels):
        labels = np.asarray(labels)
        size = self.view_size(labels.shape)
        if size == labels.shape:
            return labels
        resized = F.interpolate(
            torch.from_numpy(labels.astype(np.float32))[None, None],
            size=size, mode='nearest-exact')[0, 0]
        return resized.numpy().astype(labels.dtype)

    def probs_to_view(self, probs):
        return _resize_bilinear(probs, self.view_size(probs.shape[-2:]))

    def probs_from_view(self, probs, size):
        return _resize_bilinear(probs, size)


@TTA.register_module()
class ComposedView(BaseView):
    """Views applied one after the other (the first one first); mapping
    back goes through them in reverse.

    Args:
        views (Sequence[dict | BaseView]): The views to chain.
    """

    def __init__(self, views: Sequence[Union[dict, BaseView]]):
        self.views: List[BaseView] = [
            v for v in (_build_one(cfg) for cfg in views)
            if not v.is_identity]
        self.name = '+'.join(v.name for v in self.views) or 'identity'

    def _sizes(self, size: Size) -> List[Size]:
        sizes = [tuple(size)]
        for view in self.views:
            sizes.append(view.view_size(sizes[-1]))
        return sizes

    def view_size(self, size):
        return self._sizes(size)[-1]

    def frame_to_view(self, frame):
        frame = frames_to_tensor(frame)
        for view in self.views:
            frame = view.frame_to_view(frame)
        return frame

    def labels_to_view(self, labels):
        labels = np.asarray(labels)
        for view in self.views:
            labels = view.labels_to_view(labels)
        return labels

    def probs_to_view(self, probs):
        for view in self.views:
            probs = view.probs_to_view(probs)
        return probs

    def probs_from_view(self, probs, size):
        sizes = self._sizes(size)
        for view, target in zip(self.views[::-1], sizes[-2::-1]):
            probs = view.probs_from_view(probs, target)
        return probs


class BaseViewSet:
    """A set of views (expanded by :func:`build_views`)."""

    def views(self) -> List[BaseView]:
        raise NotImplementedError


@TTA.register_module()
class FlipViews(BaseViewSet):
    """Two views: the video as it is and mirrored left to right."""

    def views(self):
        return [IdentityView(), HorizontalFlipView()]


@TTA.register_module()
class MultiScaleViews(BaseViewSet):
    """One :class:`ScaleView` per scale.

    Args:
        scales (Sequence[float]): Any number of scales, e.g. (0.75, 1.0).
    """

    def __init__(self, scales: Sequence[float] = (0.75, 1.0)):
        if len(scales) == 0:
            raise ValueError('MultiScaleViews needs at least one scale')
        self.scales = [float(s) for s in scales]

    def views(self):
        return [ScaleView(s) for s in self.scales]


@TTA.register_module()
class ViewProduct(BaseViewSet):
    """Every combination of one view from each factor, applied in factor
    order: ``factors=[FlipViews, MultiScaleViews((0.75, 1.0))]`` gives
    scale 0.75, scale 1.0, flip + scale 0.75 and flip + scale 1.0.

    Args:
        factors (Sequence): Each a view config, a set of views or a list of
            them (anything :func:`build_views` takes).
    """

    def __init__(self, factors: Sequence):
        if len(factors) == 0:
            raise ValueError('ViewProduct needs at least one factor')
        self.factors = [build_views(f) for f in factors]

    def views(self):
        views = []
        for combination in itertools.product(*self.factors):
            view = ComposedView(list(combination))
            if len(view.views) == 1:
                view = view.views[0]
            elif not view.views:
                view = IdentityView()
            views.append(view)
        return views


def _build_one(cfg) -> BaseView:
    """A single view (not a set) from a config or an instance."""
    views = build_views(cfg)
    if len(views) != 1:
        raise ValueError(f'expected a single view, got {len(views)} from '
                         f'{cfg!r}')
    return views[0]


def build_views(cfg=None) -> List[BaseView]:
    """The list of views described by ``cfg``.

    Args:
        cfg: None (:data:`DEFAULT_TTA_VIEWS`), a view or a set of views (an
            instance or a ``TTA`` config dict), a flat list (the union of
            its items) or a list with lists in it (the product of its items,
            see :class:`ViewProduct`).

    Returns:
        list[BaseView]: At least one view.
    """
    if cfg is None:
        cfg = DEFAULT_TTA_VIEWS
    if isinstance(cfg, BaseView):
        return [cfg]
    if isinstance(cfg, BaseViewSet):
        return cfg.views()
    if isinstance(cfg, dict):
        return build_views(TTA.build(copy.deepcopy(dict(cfg))))
    if isinstance(cfg, (list, tuple)):
        if not cfg:
            raise ValueError('an empty list of views')
        if any(isinstance(item, (list, tuple)) for item in cfg):
            return ViewProduct(list(cfg)).views()
        return [view for item in cfg for view in build_views(item)]
    raise TypeError(f'cannot build views from {cfg!r}')
