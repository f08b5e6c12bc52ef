# DAVIS 2016 semi-supervised (one object per video) in the release's own
# layout: train on ImageSets/<resolution>/train.txt, evaluate on val.txt.
#   JPEGImages/<resolution>/<seq>/%05d.jpg
#   Annotations/<resolution>/<seq>/%05d.png     grey, 0 and 255
#   ImageSets/<resolution>/{train,val}.txt      image and annotation paths
dataset_type = 'DAVIS2016Dataset'
data_root = 'data/DAVIS2016'
resolution = '480p'
# Six train videos held out for one's own validation where the val videos
# are not at hand (tools/analysis/recipe_demo.py --davis16 ... --validate-on
# holdout trains on the other 24). Chosen so that copying the first mask
# scores on them about what it scores on DAVIS 2016 val (J&F 0.275 on these
# six at 240p, 0.274 on all 30 train videos, 0.26 on val), with animals,
# people, a vehicle and fast and slow motion among them.
holdout_sequences = [
    'bear', 'car-turn', 'dance-jump', 'hockey', 'mallard-fly', 'paragliding'
]
crop_size = (384, 384)
train_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='LoadClipMasks'),
    dict(type='ClipRandomResizedCrop', crop_size=crop_size,
         scale_range=(0.8, 1.2)),
    dict(type='ClipRandomFlip', prob=0.5),
    dict(type='SelectObjects', max_objects=1),
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
        resolution=resolution,
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
        resolution=resolution,
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DAVISMetric', year='2016', split='val')
test_evaluator = val_evaluator
