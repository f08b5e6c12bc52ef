# STM with ResNeSt-50 encoders, 4 GPUs x 4 clips of 3 frames at 384x384,
# Adam 1e-5, main training on YouTube-VOS 2019 train; testing writes the
# submission for the valid split (inferred on all frames).
_base_ = [
    '../_base_/models/stm_resnest50.py', '../_base_/datasets/ytvos19.py',
    '../_base_/schedules/schedule_adam-1e-5_80k.py',
    '../_base_/default_runtime.py'
]
# the valid split has no ground truth to validate on
val_cfg = None
