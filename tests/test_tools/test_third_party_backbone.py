"""A backbone that lives in the user's own package plugs into STM through
``custom_imports``: training and testing run with it, and mistakes give
errors that say what to fix."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE_CONFIG = osp.join(REPO, 'configs', 'stm',
                       'stm_r18-tiny_1xb4-700iter_synthetic.py')

PACKAGE = '''
"""A user's backbone, registered with vosbench's BACKBONES."""
import torch.nn as nn

from vosbench.registry import BACKBONES


@BACKBONES.register_module()
class ToyPyramid(nn.Module):
    """Three conv stages at strides 4, 8, 16."""

    def __init__(self, in_channels=3, channels=(32, 64, 128),
                 out_indices=(0, 1, 2)):
        super().__init__()
        self.out_indices = out_indices
        layers, prev = [], in_channels
        for i, ch in enumerate(channels):
            stride = 4 if i == 0 else 2
            layers.append(nn.Sequential(
                nn.Conv2d(prev, ch, 3, stride=stride, padding=1),
                nn.BatchNorm2d(ch), nn.ReLU(inplace=True)))
            prev = ch
        self.stages = nn.ModuleList(layers)

    def forward(self, x):
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
'''


def _config(tmp_path, module='my_vos_ext.toy_pyramid', backbone='ToyPyramid'):
    data_root = str(tmp_path / 'data')
    text = f'''
    _base_ = [{BASE_CONFIG!r}]
    custom_imports = dict(imports=[{module!r}], allow_failed_imports=False)
    model = dict(
        memory_encoder=dict(_delete_=True, type={backbone!r}, in_channels=5,
                            out_indices=(2, )),
        query_encoder=dict(_delete_=True, type={backbone!r}))
    train_dataloader = dict(
        batch_size=1, num_workers=0, persistent_workers=False,
        dataset=dict(data_root={data_root!r}, samples_per_video=1))
    val_dataloader = dict(dataset=dict(data_root={data_root!r}))
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters=2, val_interval=100)
    default_hooks = dict(checkpoint=dict(interval=2))
    '''
    path = tmp_path / 'toy_config.py'
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture()
def user_package(tmp_path):
    from vosbench.datasets.synthetic import generate_synthetic_davis
    pkg = tmp_path / 'site' / 'my_vos_ext'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'toy_pyramid.py').write_text(PACKAGE)
    generate_synthetic_davis(str(tmp_path / 'data'), num_train=2, num_val=1,
                             num_frames=5, height=64, width=96,
                             progress=False)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(tmp_path / 'site'), REPO, env.get('PYTHONPATH', '')])
    return env


def _run(args, env, cwd):
    proc = subprocess.run([sys.executable] + args, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_user_backbone_trains_and_tests(tmp_path, user_package):
    config = _config(tmp_path)
    work_dir = str(tmp_path / 'work')
    code, log = _run([osp.join(REPO, 'tools', 'train.py'), config,
                      '--work-dir', work_dir], user_package, str(tmp_path))
    assert code == 0, log
    assert 'Iter(train) [2/2]' in log
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = str(tmp_path / 'pred')
    code, log = _run([osp.join(REPO, 'tools', 'test.py'), config, ckpt,
                      '--work-dir', work_dir, '--out', out], user_package,
                     str(tmp_path))
    assert code == 0, log
    assert 'davis/J&F-Mean' in log
    assert len(os.listdir(osp.join(out, 'synth_val_0000'))) == 5


def test_wrong_import_path_says_what_to_fix(tmp_path, user_package):
    config = _config(tmp_path, module='my_vos_ext.no_such_module')
    code, log = _run([osp.join(REPO, 'tools', 'train.py'), config,
                      '--work-dir', str(tmp_path / 'w')], user_package,
                     str(tmp_path))
    assert code != 0
    assert 'my_vos_ext.no_such_module' in log
    assert 'PYTHONPATH' in log


def test_unregistered_type_lists_registered_names(tmp_path, user_package):
    config = _config(tmp_path, backbone='ToyPyramidTypo')
    code, log = _run([osp.join(REPO, 'tools', 'train.py'), config,
                      '--work-dir', str(tmp_path / 'w')], user_package,
                     str(tmp_path))
    assert code != 0
    assert "'ToyPyramidTypo' is not in the vosbench 'backbone' registry" in log
    assert 'ToyPyramid' in log.split('Registered:')[1]
    assert 'custom_imports' in log
