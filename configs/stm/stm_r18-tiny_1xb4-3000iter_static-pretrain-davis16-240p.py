# Real-video CPU recipe, stage 2 of full training: main training exactly as
# stm_r18-tiny_1xb4-3000iter_davis16-240p.py, started from the last
# checkpoint of the static pre-training
# (stm_r18-tiny_1xb4-1500iter_synthetic-davis16-frames-static-pretrain.py;
# override with --cfg-options load_from=PATH).
_base_ = ['./stm_r18-tiny_1xb4-3000iter_davis16-240p.py']
load_from = ('work_dirs/stm_r18-tiny_1xb4-1500iter_synthetic-davis16-frames-'
             'static-pretrain/iter_1500.pth')
