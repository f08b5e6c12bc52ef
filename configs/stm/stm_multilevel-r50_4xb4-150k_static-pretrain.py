# STM with the multi-level ResNet-50 backbone: pre-training only, on still
# images (COCO, VOC, MSRA10K, ECSSD) turned into 3-frame clips, 4 GPUs x 4
# clips at 384x384, Adam 1e-5, 150k iterations; evaluation on DAVIS 2017 val.
_base_ = [
    '../_base_/models/stm_multilevel-r50.py',
    '../_base_/datasets/static_pretrain.py',
    '../_base_/schedules/schedule_adam-1e-5_150k.py',
    '../_base_/default_runtime.py'
]
