# Recipe demo, stage 2 (full training): main training on the synthetic videos
# as stm_r18-tiny_1xb4-700iter_synthetic.py, started from the last checkpoint
# of stm_r18-tiny_1xb4-1000iter_synthetic-static-pretrain.py (override with
# --cfg-options load_from=PATH).
_base_ = ['./stm_r18-tiny_1xb4-700iter_synthetic.py']
load_from = ('work_dirs/stm_r18-tiny_1xb4-1000iter_synthetic-static-pretrain/'
             'iter_1000.pth')
