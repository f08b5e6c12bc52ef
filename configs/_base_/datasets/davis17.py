# DAVIS 2017 semi-supervised: train on `train`, evaluate on `val`.
dataset_type = 'DAVISDataset'
data_root = 'data/DAVIS'
crop_size = (384, 384)
max_objects = 3
train_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='LoadClipMasks'),
    dict(type='ClipRandomResizedCrop', crop_size=crop_size,
         scale_range=(0.8, 1.2)),
    dict(type='ClipRandomFlip', prob=0.5),
    dict(type='SelectObjects', max_objects=max_objects),
    dict(type='PackClipInputs'),
]
test_pipeline = [dict(type='PackVideoInputs')]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='vosbench.vos_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        clip_length=3,
        max_skip=5,
        samples_per_video=10,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='vosbench.vos_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DAVISMetric', split='val')
test_evaluator = val_evaluator
