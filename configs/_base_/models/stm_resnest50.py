# STM with ResNeSt-50 (2s1x64d) encoders up to stage 3. ImageNet weights in
# vosbench naming (convert the authors' or mmpretrain's file with
# tools/model_converters/resnest_to_vosbench.py) at `imagenet_checkpoint`.
_base_ = ['./stm_r50.py']
imagenet_checkpoint = 'data/pretrained/resnest50_imagenet.pth'
model = dict(
    memory_encoder=dict(
        _delete_=True, type='ResNeSt', depth=50, in_channels=5,
        num_stages=3, out_indices=(2, ), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)),
    query_encoder=dict(
        _delete_=True, type='ResNeSt', depth=50, num_stages=3,
        out_indices=(0, 1, 2), norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint)))
