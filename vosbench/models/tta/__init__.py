"""Test-time augmentation: geometric views of a video (``TTA`` registry)
and the model that averages them (``VOSTTAModel`` in ``MODELS``)."""
from .views import (DEFAULT_TTA_VIEWS, BaseView, BaseViewSet, ComposedView,
                    FlipViews, HorizontalFlipView, IdentityView,
                    MultiScaleViews, ScaleView, ViewProduct, build_views)
from .vos_tta_model import VOSTTAModel, default_tta_model

__all__ = [
    'DEFAULT_TTA_VIEWS', 'BaseView', 'BaseViewSet', 'ComposedView',
    'FlipViews', 'HorizontalFlipView', 'IdentityView', 'MultiScaleViews',
    'ScaleView', 'ViewProduct', 'VOSTTAModel', 'build_views',
    'default_tta_model'
]
