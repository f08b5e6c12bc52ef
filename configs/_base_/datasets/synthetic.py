# The built-in synthetic videos (DAVIS 2017 layout), made by
#   python tools/data/make_synthetic.py --out data/synthetic
_base_ = ['./davis17.py']
data_root = 'data/synthetic'
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='LoadClipMasks'),
    dict(type='ClipRandomResizedCrop', crop_size=crop_size,
         scale_range=(0.9, 1.1), min_object_pixels=50),
    dict(type='ClipRandomFlip', prob=0.5),
    dict(type='SelectObjects', max_objects=3, min_pixels=20),
    dict(type='PackClipInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root, samples_per_video=100,
        pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
