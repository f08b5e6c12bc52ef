# Adam at a constant 1e-5 (the reports' setting), 80k iterations.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-5))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000,
                 val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
