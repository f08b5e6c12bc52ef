# The demo: a narrow STM trained from scratch on the synthetic videos on a
# CPU in a few minutes (`make demo`).
_base_ = [
    '../_base_/models/stm_r18-tiny.py', '../_base_/datasets/synthetic.py',
    '../_base_/schedules/schedule_adam-1e-5_80k.py',
    '../_base_/default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2000, eta_min=1e-5, by_epoch=False,
         begin=0, end=2000)
]
train_cfg = dict(max_iters=2000, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=500, max_keep_ckpts=2))
