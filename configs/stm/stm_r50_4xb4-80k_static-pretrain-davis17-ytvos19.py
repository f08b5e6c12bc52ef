# STM with ResNet-50 encoders: full training = main training (as
# stm_r50_4xb4-80k_davis17-ytvos19.py) started from the last checkpoint of the
# pre-training stage. Run the stages in order:
#   python tools/train.py configs/stm/stm_r50_4xb4-150k_static-pretrain.py
#   python tools/train.py \
#       configs/stm/stm_r50_4xb4-80k_static-pretrain-davis17-ytvos19.py
# or point load_from elsewhere:
#   ... --cfg-options load_from=PATH/TO/pretrain.pth
_base_ = ['./stm_r50_4xb4-80k_davis17-ytvos19.py']
load_from = 'work_dirs/stm_r50_4xb4-150k_static-pretrain/iter_150000.pth'
