# Real-video CPU recipe, stage 1 of full training: the narrow STM
# pre-trained on still images turned into 3-frame clips at 128x128, half of
# them synthetic stills (data/synthetic/static: the 1000 that
# tools/data/make_synthetic.py makes by default), half frames of the DAVIS
# 2016 train videos at 240p used as still images (as the first STM report
# uses YouTube-VOS frames). Evaluation on DAVIS 2016 val.txt at 240p.
# Stage 2 is stm_r18-tiny_1xb4-3000iter_static-pretrain-davis16-240p.py.
_base_ = ['./stm_r18-tiny_1xb4-3000iter_davis16-240p.py']
# 1500 iterations, half as many as the main training. In bf16 on an
# AVX-512 BF16 CPU (held-out videos, docs/benchmarks.md), full training
# after it scored 0.482 on the mean of seeds 0-6 (0.441 to 0.519; seeds 0
# and 1: 0.4998 and 0.460, after 3000 iterations of it 0.455 and 0.480),
# main only 0.417 (0.307 to 0.481). The pre-training takes half the time: on the AVX2-only CPU
# where both stages took 74-76 minutes in fp32, about 55-57 (estimated from
# its stage times, not run there).
max_iters = 1500
synthetic_root = 'data/synthetic'
static_pipeline = [
    dict(type='StaticToClip', num_frames=3),
    dict(type='ClipSharedAffine', scale_range=(1.0, 1.875), flip_prob=0.5,
         short_side=128),
    # each frame moves on its own, so that the model learns to match
    # rather than to copy the previous mask's position
    dict(type='FrameRandomAffine', rotation=15, scale=(0.9, 1.1), shear=10,
         translate=0.08),
    dict(type='PasteObjects', max_objects=2, max_shift=0.06, rotation=10,
         frame_scale=(0.9, 1.1)),
    dict(type='FrameThinPlateSpline', prob=0.2),
    dict(type='ClipRandomCrop', crop_size=_base_.crop_size),
    dict(type='ClipColorJitter'),
    dict(type='ResampleSmallObjects', min_pixels=100),
    dict(type='SelectObjects', max_objects=1, min_pixels=50),
    dict(type='PackClipInputs'),
]
synthetic_stills = dict(
    type='COCOInstanceDataset',
    data_root=synthetic_root + '/static',
    ann_file='annotations.json',
    data_prefix=dict(img_path='images'),
    pipeline=static_pipeline)
davis16_frames = dict(
    type='DAVIS2016FramesDataset',
    data_root=_base_.data_root,
    resolution=_base_.resolution,
    split='train',
    pipeline=static_pipeline)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='RatioConcatDataset',
        datasets=[synthetic_stills, davis16_frames],
        ratios=[0.5, 0.5],
        length=10000,
        seed=0))
# One target object per clip, as in the main training: three made this
# pre-training 1.5x slower than the main training beside it (3.0-3.5
# against 2.1 s/it at 160x160). The other pasted objects stay, as
# distractors that the model learns to leave out.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-4,
         by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
