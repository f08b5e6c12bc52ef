# STM with Refine-50 encoders: a ResNet-50 trunk with channel shuffle,
# attention bottlenecks and top-down refinement (the YouTube-VOS 2019
# challenge report). The trunk starts from an ImageNet ResNet-50 in
# torchvision naming.
_base_ = ['./stm_r50.py']
imagenet_checkpoint = 'data/pretrained/resnet50_imagenet.pth'
model = dict(
    memory_encoder=dict(
        _delete_=True, type='RefineResNet', depth=50, in_channels=5,
        out_indices=(2, ), use_channel_shuffle=True, use_attention=True,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)),
    query_encoder=dict(
        _delete_=True, type='RefineResNet', depth=50, out_indices=(0, 1, 2),
        use_channel_shuffle=True, use_attention=True, norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)))
