# Ensemble of the ResNet-50 and the Refine-50 STM, both trained on
# YouTube-VOS 2019 (the pairing of the first technical report), tested on
# the YouTube-VOS 2019 valid split (`--out DIR` writes the submission). At
# every frame the members' object probabilities are averaged (weights:
# equal) and every member memorises the average. Members may differ in
# backbone and test_cfg: each is built from its own config.
#
# Each member names its checkpoint, so CHECKPOINT is `none`:
#   python tools/test.py \
#       configs/ensemble/ensemble_stm-r50_stm-refine-r50_4xb4-80k_ytvos19.py \
#       none --out results/ [--tta]
# With --tta every view runs the whole ensemble (views x members).
# Member configs are found next to this file; checkpoint paths are relative
# to the working directory, as `work_dir`s are. Override one with e.g.
#   --cfg-options model.models.1.checkpoint=PATH
_base_ = ['../stm/stm_r50_4xb4-80k_ytvos19.py']
model = dict(
    _delete_=True,
    type='VOSEnsemble',
    models=[
        dict(config='{{ fileDirname }}/../stm/stm_r50_4xb4-80k_ytvos19.py',
             checkpoint='work_dirs/stm_r50_4xb4-80k_ytvos19/iter_80000.pth'),
        dict(config='{{ fileDirname }}/../stm/'
             'stm_refine-r50_4xb4-80k_ytvos19.py',
             checkpoint='work_dirs/stm_refine-r50_4xb4-80k_ytvos19/'
             'iter_80000.pth'),
    ],
    weights=None)
