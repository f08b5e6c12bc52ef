# default_runtime.py with TensorBoard: training losses, learning rate and
# validation J&F as scalars, and overlays of every 10th frame of each
# validation video (ground truth | prediction) at each validation, under
# <work_dir>/<timestamp>/vis_data/. Use it in a config's _base_ in place of
# default_runtime.py (mmengine refuses the same key from two _base_ files),
# then: tensorboard --logdir work_dirs/
# Needs `pip install tensorboard` (an optional dependency). For an existing
# config, derive from it and set these visualizer and custom_hooks.
_base_ = ['./default_runtime.py']
vis_backends = [dict(type='VOSLocalVisBackend'),
                dict(type='TensorboardVisBackend')]
visualizer = dict(vis_backends=vis_backends)
custom_hooks = [
    dict(type='VideoProgressHook'),
    dict(type='VOSVisualizationHook', to_backends=True, in_val=True,
         interval=10, draw_gt=True),
]
