# STM with ResNet-50 encoders: main training only (from ImageNet weights) on
# DAVIS 2017 train + YouTube-VOS 2019 train, 3-frame clips with the largest gap
# scheduled 5 -> 25 -> 5, reversed with probability 0.5, 4 GPUs x 4 clips at
# 384x384, Adam 5e-6 (report 2), 80k iterations; evaluation on DAVIS 2017 val.
# Mixed precision on GPU: tools/train.py --amp.
_base_ = [
    '../_base_/models/stm_r50.py',
    '../_base_/datasets/davis17_ytvos19_mixed.py',
    '../_base_/schedules/schedule_adam-5e-6_80k.py',
    '../_base_/default_runtime.py'
]
custom_hooks = [_base_.max_skip_hook, dict(type='VideoProgressHook')]
