# Pre-training: Adam at a constant 1e-5 (reports), 150k iterations.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-5))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=150000,
                 val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
