# YouTube-VOS 2019 semi-supervised: train on `train` (every 5th frame
# annotated), infer on all frames of `valid` (`valid_all_frames`) and submit
# the masks of the `valid` frames. Layout under data_root:
#   train/{JPEGImages,Annotations,meta.json}
#   valid/{JPEGImages,Annotations,meta.json}  (first-appearance masks only)
#   valid_all_frames/JPEGImages
# The valid ground truth is held by the challenge server, so the metric
# only scores a split with ground truth; `tools/test.py --out DIR` writes
# DIR/Annotations/<video>/<frame>.png and DIR/submission.zip.
dataset_type = 'YouTubeVOSDataset'
data_root = 'data/YouTubeVOS'
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
        max_skip=5,  # in annotated frames: up to 25 video frames
        pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='vosbench.vos_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='valid',
        all_frames=True,
        test_mode=True,
        pipeline=test_pipeline))
# Seen categories are those of the training split.
test_evaluator = dict(
    type='YouTubeVOSMetric', seen_categories=data_root + '/train/meta.json')
# No validation during training: the valid split has no ground truth.
val_dataloader = None
val_evaluator = None
# `tools/test.py --out DIR` writes the submission with this hook.
prediction_writer = dict(type='YouTubeVOSSubmissionHook')
