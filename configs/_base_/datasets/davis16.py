# DAVIS 2016 semi-supervised (one object per video) in the release's own
# layout: train on ImageSets/<resolution>/train.txt, evaluate on val.txt.
#   JPEGImages/<resolution>/<seq>/%05d.jpg
#   Annotations/<resolution>/<seq>/%05d.png     grey, 0 and 255
#   ImageSets/<resolution>/{train,val}.txt      image and annotation paths
_base_ = ['./davis17.py']
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
# as DAVIS 2017's, with one object per clip
train_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='LoadClipMasks'),
    dict(type='ClipRandomResizedCrop', crop_size=_base_.crop_size,
         scale_range=(0.8, 1.2)),
    dict(type='ClipRandomFlip', prob=0.5),
    dict(type='SelectObjects', max_objects=1),
    dict(type='PackClipInputs'),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 resolution=resolution, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 resolution=resolution))
test_dataloader = val_dataloader
val_evaluator = dict(type='DAVISMetric', year='2016', split='val')
test_evaluator = val_evaluator
