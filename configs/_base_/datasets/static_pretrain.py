# Pre-training on still images turned into 3-frame clips (the two STM
# technical reports' recipe): COCO instances, Pascal VOC (SBD) instances,
# MSRA10K and ECSSD saliency masks, mixed by RatioConcatDataset, 384x384
# crops. Validation on
# DAVIS 2017 val (from davis17.py). Layout under data_root:
#   coco/{train2017,annotations/instances_train2017.json}
#   VOC2012/{JPEGImages,SegmentationObject,ImageSets/Segmentation/train.txt}
#   MSRA10K/MSRA10K_Imgs_GT/Imgs/{*.jpg,*.png}
#   ECSSD/{images,ground_truth_mask}
_base_ = ['./davis17.py']
data_root = 'data'
crop_size = (384, 384)
max_objects = 3
static_pipeline = [
    dict(type='StaticToClip', num_frames=3),
    dict(type='ClipSharedAffine', scale_range=(0.8, 1.5), flip_prob=0.5,
         short_side=384),
    # each frame also shifts (the per-frame random crop of clip synthesis):
    # otherwise the image's own objects stay put across the clip and the
    # model learns to copy the previous mask's position
    dict(type='FrameRandomAffine', rotation=20, scale=(0.9, 1.1), shear=10,
         translate=0.1),
    dict(type='PasteObjects', max_objects=max_objects),
    dict(type='FrameThinPlateSpline', prob=0.3),
    dict(type='ClipRandomCrop', crop_size=crop_size),
    dict(type='ClipColorJitter'),
    dict(type='ResampleSmallObjects', min_pixels=100),
    dict(type='SelectObjects', max_objects=max_objects, min_pixels=100),
    dict(type='PackClipInputs'),
]
coco_train = dict(
    type='COCOInstanceDataset', data_root=data_root + '/coco',
    ann_file='annotations/instances_train2017.json',
    data_prefix=dict(img_path='train2017'), min_area=400,
    pipeline=static_pipeline)
voc_train = dict(
    type='VOCInstanceDataset', data_root=data_root + '/VOC2012',
    ann_file='ImageSets/Segmentation/train.txt',
    data_prefix=dict(img_path='JPEGImages', seg_path='SegmentationObject'),
    pipeline=static_pipeline)
msra_train = dict(
    type='SaliencyDataset', data_root=data_root + '/MSRA10K',
    data_prefix=dict(img_path='MSRA10K_Imgs_GT/Imgs',
                     seg_path='MSRA10K_Imgs_GT/Imgs'),
    pipeline=static_pipeline)
ecssd_train = dict(
    type='SaliencyDataset', data_root=data_root + '/ECSSD',
    data_prefix=dict(img_path='images', seg_path='ground_truth_mask'),
    pipeline=static_pipeline)
# YouTube-VOS training frames used as still images (the `_ytvos-frames`
# pre-training configs add it to the mix).
ytvos_frames_train = dict(
    type='YouTubeVOSFramesDataset', data_root=data_root + '/YouTubeVOS',
    frame_step=1, pipeline=static_pipeline)
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='RatioConcatDataset',
        datasets=[coco_train, voc_train, msra_train, ecssd_train],
        ratios=[0.4, 0.2, 0.3, 0.1],
        length=100000,
        seed=0))
