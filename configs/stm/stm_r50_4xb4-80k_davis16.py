# STM, ResNet-50 encoders, 4 GPUs x 4 clips of 3 frames at 384x384,
# Adam 1e-5, main training on DAVIS 2016 train (480p), evaluation on val.
_base_ = [
    '../_base_/models/stm_r50.py', '../_base_/datasets/davis16.py',
    '../_base_/schedules/schedule_adam-1e-5_80k.py',
    '../_base_/default_runtime.py'
]
# one object per video: one object channel per clip
model = dict(train_cfg=dict(max_objects=1))
