# STM with ResNet-50 encoders (up to stage 3), as the original.
# ImageNet initialisation: set `imagenet_checkpoint` below (a torchvision
# ResNet-50 state dict on local disk), or override it on the command line:
#   --cfg-options model.memory_encoder.init_cfg.checkpoint=PATH \
#                 model.query_encoder.init_cfg.checkpoint=PATH
imagenet_checkpoint = 'data/pretrained/resnet50_imagenet.pth'
model = dict(
    type='STM',
    data_preprocessor=dict(type='VOSDataPreprocessor'),
    memory_encoder=dict(
        type='ResNet', depth=50, in_channels=5, num_stages=3,
        out_indices=(2, ), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)),
    query_encoder=dict(
        type='ResNet', depth=50, num_stages=3, out_indices=(0, 1, 2),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)),
    memory_key_value=dict(
        type='KeyValueProjection', in_channels=1024, key_channels=128,
        value_channels=512),
    query_key_value=dict(
        type='KeyValueProjection', in_channels=1024, key_channels=128,
        value_channels=512),
    memory_reader=dict(type='SpaceTimeMemoryReader'),
    decoder=dict(
        type='STMDecoder', in_channels=1024, skip_channels=(512, 256),
        channels=256),
    loss=dict(type='VOSCrossEntropyLoss'),
    train_cfg=dict(max_objects=3),
    test_cfg=dict(mem_every=5, keep_previous=True, pad_divisor=16),
)
