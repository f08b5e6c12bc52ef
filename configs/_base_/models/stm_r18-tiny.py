# A narrow STM (ResNet-18 encoders at width 32, small keys and values) that
# trains from scratch on a laptop CPU; used by the synthetic demo.
model = dict(
    type='STM',
    data_preprocessor=dict(type='VOSDataPreprocessor'),
    memory_encoder=dict(
        type='ResNet', depth=18, base_channels=32, in_channels=5,
        num_stages=3, out_indices=(2, )),
    query_encoder=dict(
        type='ResNet', depth=18, base_channels=32, num_stages=3,
        out_indices=(0, 1, 2)),
    memory_key_value=dict(
        type='KeyValueProjection', in_channels=128, key_channels=32,
        value_channels=128),
    query_key_value=dict(
        type='KeyValueProjection', in_channels=128, key_channels=32,
        value_channels=128),
    memory_reader=dict(type='SpaceTimeMemoryReader'),
    decoder=dict(
        type='STMDecoder', in_channels=256, skip_channels=(64, 32),
        channels=64),
    loss=dict(type='VOSCrossEntropyLoss'),
    train_cfg=dict(max_objects=3),
    test_cfg=dict(mem_every=5, keep_previous=True, pad_divisor=16),
)
