"""Set-up shared by the tests that run the tools on tiny synthetic DAVIS
data with a randomly initialised tiny STM (test files import it as
``from tool_run_helpers import ...``: ``tests/`` is on ``sys.path``)."""
import os.path as osp

import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASE = osp.join(REPO, 'configs', '_base_')
TINY_MODEL = osp.join(BASE, 'models', 'stm_r18-tiny.py')


def write_synthetic_davis(root: str, num_val: int, num_frames: int) -> str:
    """``num_val`` synthetic val videos of ``num_frames`` frames at 32x48
    in the DAVIS layout under ``root``."""
    from vosbench.datasets.synthetic import generate_synthetic_davis
    generate_synthetic_davis(root, num_train=0, num_val=num_val,
                             num_frames=num_frames, height=32, width=48,
                             seed=0, progress=False)
    return root


def save_tiny_checkpoint(path: str, seed: int) -> str:
    """The tiny STM with the random weights of ``seed``, saved at
    ``path``."""
    from vosbench.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(TINY_MODEL).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def _config_head(data_root: str) -> str:
    """The first lines of a tiny-STM config on the synthetic data."""
    return f'''_base_ = [
    {TINY_MODEL!r},
    {osp.join(BASE, 'datasets', 'synthetic.py')!r},
    {osp.join(BASE, 'schedules', 'schedule_adam-1e-5_80k.py')!r},
    {osp.join(BASE, 'default_runtime.py')!r},
]
data_root = {data_root!r}
'''


def write_test_config(folder, name: str, data_root: str,
                      extra: str = '') -> str:
    """``folder/name.py``: the tiny STM tested on the synthetic data at
    ``data_root`` (no dataloader workers); ``extra`` is appended."""
    path = osp.join(str(folder), f'{name}.py')
    with open(path, 'w') as f:
        f.write(_config_head(data_root) + f'''\
test_dataloader = dict(num_workers=0, dataset=dict(data_root=data_root))
visualizer = dict(name={name!r})
{extra}
''')
    return path


def write_train_config(folder, name: str, data_root: str, *,
                       clip_length: int = 2, samples_per_video: int = 1,
                       max_iters: int = 2, validate: bool = True,
                       visualizer_name: str = None, extra: str = '') -> str:
    """``folder/name.py``: the tiny STM trained for ``max_iters``
    iterations on 32x32 clips of the synthetic data at ``data_root`` (no
    workers; ``validate=False`` drops validation); ``extra`` is appended
    to the config."""
    validation = ('val_dataloader = dict(num_workers=0, '
                  'dataset=dict(data_root=data_root))\n'
                  'test_dataloader = val_dataloader' if validate else
                  'val_dataloader = None\nval_cfg = None\n'
                  'val_evaluator = None')
    path = osp.join(str(folder), f'{name}.py')
    with open(path, 'w') as f:
        f.write(_config_head(data_root) + f'''\
train_pipeline = [
    dict(type='LoadClipFrames'),
    dict(type='LoadClipMasks'),
    dict(type='ClipRandomResizedCrop', crop_size=(32, 32),
         scale_range=(1.0, 1.0), min_object_pixels=1),
    dict(type='SelectObjects', max_objects=3, min_pixels=1),
    dict(type='PackClipInputs'),
]
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, clip_length={clip_length},
                 max_skip=1, samples_per_video={samples_per_video},
                 pipeline=train_pipeline))
{validation}
train_cfg = dict(max_iters={max_iters}, val_interval=1000)
visualizer = dict(name={visualizer_name or name!r})
{extra}
''')
    return path
