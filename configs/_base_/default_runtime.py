default_scope = 'vosbench'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # timeout (seconds): a rank that waits longer than this for the others
    # in a collective (a stuck or stopped worker) fails instead of hanging;
    # torch's defaults are 30 min (gloo) and 10 min (NCCL). With NCCL it
    # fires only with TORCH_NCCL_ASYNC_ERROR_HANDLING (torchrun, so
    # dist_train.sh, sets it to 1) or TORCH_NCCL_BLOCKING_WAIT=1; see
    # docs/user_guides/train_test.md
    dist_cfg=dict(backend='nccl', timeout=300),
)
# losses and metrics go to every vis backend (VOSLocalVisBackend, i.e.
# <work_dir>/<timestamp>/vis_data/scalars.json); for TensorBoard
# use '../_base_/default_runtime_tensorboard.py' in its place
vis_backends = [dict(type='VOSLocalVisBackend')]
visualizer = dict(
    type='VOSVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # AtomicCheckpointHook: CheckpointHook that writes each checkpoint (and
    # last_checkpoint) to a temporary file and renames it into place, and
    # removes old ones (max_keep_ckpts) only after that
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=5000,
        max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# one log line per segmented video in validation and testing
custom_hooks = [dict(type='VideoProgressHook')]
