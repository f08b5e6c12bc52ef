# YouTube-VOS 2019 semi-supervised: train on `train` (every 5th frame
# annotated), infer on all frames of `valid` (`valid_all_frames`) and submit
# the masks of the `valid` frames. Layout under data_root:
#   train/{JPEGImages,Annotations,meta.json}
#   valid/{JPEGImages,Annotations,meta.json}  (first-appearance masks only)
#   valid_all_frames/JPEGImages
# The valid ground truth is held by the challenge server, so the metric
# only scores a split with ground truth; `tools/test.py --out DIR` writes
# DIR/Annotations/<video>/<frame>.png and DIR/submission.zip.
# Training pipeline, crop size and loaders are those of DAVIS 2017.
_base_ = ['./davis17.py']
dataset_type = 'YouTubeVOSDataset'
data_root = 'data/YouTubeVOS'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train',
        clip_length=3,
        max_skip=5,  # in annotated frames: up to 25 video frames
        pipeline=_base_.train_pipeline))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='valid',
        all_frames=True))
# Seen categories are those of the training split.
test_evaluator = dict(
    _delete_=True,
    type='YouTubeVOSMetric', seen_categories=data_root + '/train/meta.json')
# No validation during training: the valid split has no ground truth.
val_dataloader = None
val_evaluator = None
# `tools/test.py --out DIR` writes the submission with this hook.
prediction_writer = dict(type='YouTubeVOSSubmissionHook')
