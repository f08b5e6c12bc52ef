# STM with the multi-level ResNet-50 backbone: pre-training only, on still
# images plus YouTube-VOS training frames used as still images, 4 GPUs x 4
# clips of 3 frames at 384x384, Adam 1e-5, 150k iterations.
_base_ = [
    '../_base_/models/stm_multilevel-r50.py',
    '../_base_/datasets/static_pretrain.py',
    '../_base_/schedules/schedule_adam-1e-5_150k.py',
    '../_base_/default_runtime.py'
]
train_dataloader = dict(
    dataset=dict(
        datasets=[
            _base_.coco_train, _base_.voc_train, _base_.msra_train,
            _base_.ecssd_train, _base_.ytvos_frames_train
        ],
        ratios=[0.3, 0.15, 0.2, 0.05, 0.3]))
