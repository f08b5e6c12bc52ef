# STM with the multi-level up-and-down backbone: 2 levels of ResNet-50 down
# paths with 256-channel up paths and cross-level aggregation (the DAVIS
# 2020 challenge report).
# Every level's down path starts from one ImageNet ResNet-50.
_base_ = ['./stm_r50.py']
imagenet_checkpoint = 'data/pretrained/resnet50_imagenet.pth'
model = dict(
    memory_encoder=dict(
        _delete_=True, type='MultiLevelResNet', num_levels=2, depth=50,
        in_channels=5, out_indices=(2, ), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)),
    query_encoder=dict(
        _delete_=True, type='MultiLevelResNet', num_levels=2, depth=50,
        out_indices=(0, 1, 2), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)))
