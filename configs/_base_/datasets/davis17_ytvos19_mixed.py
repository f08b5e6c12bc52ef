# Main training (the STM reports): 3-frame clips from DAVIS 2017 train
# and YouTube-VOS 2019 train mixed by RatioConcatDataset, 384x384 crops,
# clips reversed with probability 0.5; SelectObjects returns None when no
# object is in the first frame, and the dataset draws another clip (retry).
# The largest gap follows MaxSkipScheduleHook (5 -> 25 -> 5, in the config
# using this base); the datasets start at the schedule's first value. The
# hook writes the same value to both datasets; YouTube-VOS counts it in
# annotated frames (every 5th video frame). Validation on DAVIS 2017 val.
_base_ = ['./davis17.py']
davis_root = 'data/DAVIS'
ytvos_root = 'data/YouTubeVOS'
crop_size = (384, 384)
max_objects = 3
initial_max_skip = 5
video_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='LoadClipMasks'),
    dict(type='ClipRandomResizedCrop', crop_size=crop_size,
         scale_range=(0.8, 1.2)),
    dict(type='ClipRandomFlip', prob=0.5),
    dict(type='SelectObjects', max_objects=max_objects),
    dict(type='PackClipInputs'),
]
davis_train = dict(
    type='DAVISDataset', data_root=davis_root, split='train', clip_length=3,
    max_skip=initial_max_skip, reverse_prob=0.5, samples_per_video=10,
    pipeline=video_pipeline)
ytvos_train = dict(
    type='YouTubeVOSDataset', data_root=ytvos_root, split='train',
    clip_length=3, max_skip=initial_max_skip, reverse_prob=0.5,
    pipeline=video_pipeline)
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='RatioConcatDataset',
        datasets=[davis_train, ytvos_train],
        ratios=[0.2, 0.8],
        seed=0))
val_dataloader = dict(dataset=dict(data_root=davis_root))
test_dataloader = val_dataloader
# the schedule of the largest gap; configs add it to custom_hooks
max_skip_hook = dict(type='MaxSkipScheduleHook', by_fraction=True,
                     schedule=[(0, 5), (0.5, 25), (0.9, 25), (1.0, 5)])
