# Main training and fine-tuning (report 2): Adam at a constant 5e-6, 80k
# iterations.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-6))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000,
                 val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
