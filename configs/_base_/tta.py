# Test-time augmentation for `tools/test.py CONFIG CHECKPOINT --tta`: add
# this file to a config's `_base_` to choose the views there (without it,
# `--tta` uses the same default: flip x scales 0.75 and 1.0).
#
# The views live in the model, not in the data pipeline: every frame's
# probabilities of all views are averaged and the average is memorised for
# the next frames, so the views cannot run as separate data samples merged
# at the end (as image TTA does). `tta_pipeline` is therefore the plain test
# pipeline (frame paths; the model streams and transforms the frames).
#
# Views (TTA registry): IdentityView, HorizontalFlipView, ScaleView(scale),
# ComposedView(views); sets of views: FlipViews (with and without flip),
# MultiScaleViews(scales=[...]) and ViewProduct(factors=[...]). A list is
# the union of its items; a list of lists the product, e.g.
#   views=[[dict(type='IdentityView'), dict(type='HorizontalFlipView')],
#          [dict(type='ScaleView', scale=0.75),
#           dict(type='ScaleView', scale=1.0)]]
tta_model = dict(
    type='VOSTTAModel',
    views=dict(
        type='ViewProduct',
        factors=[
            dict(type='FlipViews'),
            dict(type='MultiScaleViews', scales=(0.75, 1.0)),
        ]))
tta_pipeline = [dict(type='PackVideoInputs')]
