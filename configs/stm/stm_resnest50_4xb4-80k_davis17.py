# STM with ResNeSt-50 encoders, 4 GPUs x 4 clips of 3 frames at 384x384,
# Adam 1e-5, main training on DAVIS 2017 train, evaluation on val.
_base_ = [
    '../_base_/models/stm_resnest50.py', '../_base_/datasets/davis17.py',
    '../_base_/schedules/schedule_adam-1e-5_80k.py',
    '../_base_/default_runtime.py'
]
