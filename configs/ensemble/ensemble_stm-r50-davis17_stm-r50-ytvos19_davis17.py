# Ensemble of two ResNet-50 STM models, one trained on DAVIS 2017 and one on
# YouTube-VOS 2019, tested on DAVIS 2017 val: at every frame the members'
# object probabilities are averaged (weights: equal) and every member
# memorises the average. Members may have different backbones (e.g. the
# reports' ResNet-50 + Refine-50): give each its own config.
#
# Each member names its checkpoint, so CHECKPOINT is `none`:
#   python tools/test.py \
#       configs/ensemble/ensemble_stm-r50-davis17_stm-r50-ytvos19_davis17.py \
#       none [--tta]
# With --tta every view runs the whole ensemble (views x members).
# Member configs are found next to this file; checkpoint paths are relative
# to the working directory, as `work_dir`s are. Override one with e.g.
#   --cfg-options model.models.1.checkpoint=PATH
_base_ = ['../stm/stm_r50_4xb4-80k_davis17.py']
model = dict(
    _delete_=True,
    type='VOSEnsemble',
    models=[
        dict(config='{{ fileDirname }}/../stm/stm_r50_4xb4-80k_davis17.py',
             checkpoint='work_dirs/stm_r50_4xb4-80k_davis17/iter_80000.pth'),
        dict(config='{{ fileDirname }}/../stm/stm_r50_4xb4-80k_ytvos19.py',
             checkpoint='work_dirs/stm_r50_4xb4-80k_ytvos19/iter_80000.pth'),
    ],
    weights=None)
