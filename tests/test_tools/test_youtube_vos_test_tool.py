"""End to end: ``tools/test.py CONFIG CKPT --out DIR`` on a tiny YouTube-VOS
(the released layout, made by tests/conftest.py) with the tiny STM: PNGs of
the valid frames, the submission zip, and scores when the split has ground
truth."""
import os
import os.path as osp
import zipfile

import numpy as np
import pytest
import torch
from mmengine.config import Config

from vosbench.registry import MODELS
from vosbench.utils.mask_io import read_mask

from tool_loading import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VALID_NAMES = ['00000', '00005', '00010', '00015']


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The tiny model runs fastest on one thread (the CPU is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/'
                                   'stm_r18-tiny.py'))
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def write_config(folder, data_root, name='ytvos'):
    """A config inheriting the repo's tiny model and YouTube-VOS data."""
    base = osp.join(REPO, 'configs', '_base_')
    path = osp.join(folder, 'stm_tiny_ytvos.py')
    with open(path, 'w') as f:
        f.write(f'''_base_ = [
    {osp.join(base, 'models', 'stm_r18-tiny.py')!r},
    {osp.join(base, 'datasets', 'ytvos19.py')!r},
    {osp.join(base, 'schedules', 'schedule_adam-1e-5_80k.py')!r},
    {osp.join(base, 'default_runtime.py')!r},
]
val_cfg = None
data_root = {data_root!r}
test_dataloader = dict(num_workers=0, dataset=dict(data_root=data_root))
test_evaluator = dict(seen_categories=data_root + '/train/meta.json')
visualizer = dict(name={name!r})
''')
    return path


@pytest.mark.parametrize('with_gt', [False, True])
def test_test_tool_writes_the_submission(tmp_path, tiny_checkpoint,
                                         ytvos_root, ytvos_gt_root,
                                         with_gt):
    data_root = ytvos_gt_root if with_gt else ytvos_root
    config = write_config(str(tmp_path), data_root, f'ytvos_{with_gt}')
    out = tmp_path / 'out'
    metrics = load_tool('tools/test.py', 'vosbench_tool_test_ytvos').main([
        config, tiny_checkpoint, '--out', str(out), '--work-dir',
        str(tmp_path / 'work')
    ])
    # masks of the valid frames only, although all 16 frames were run
    for video in ('vid_a', 'vid_b'):
        assert sorted(os.listdir(out / 'Annotations' / video)) == [
            f'{n}.png' for n in VALID_NAMES]
    with zipfile.ZipFile(out / 'submission.zip') as archive:
        assert sorted(archive.namelist()) == sorted(
            f'Annotations/{v}/{n}.png' for v in ('vid_a', 'vid_b')
            for n in VALID_NAMES)
    # vid_b has no object before 00005; there, cat (1) takes its given mask
    b0 = read_mask(str(out / 'Annotations' / 'vid_b' / '00000.png'))
    assert not b0.any()
    given = read_mask(osp.join(data_root, 'valid', 'Annotations', 'vid_b',
                               '00005.png'))
    b5 = read_mask(str(out / 'Annotations' / 'vid_b' / '00005.png'))
    assert (b5[given == 1] == 1).all()
    labels = set()
    for n in VALID_NAMES:
        labels |= set(np.unique(read_mask(
            str(out / 'Annotations' / 'vid_b' / f'{n}.png'))).tolist())
    assert labels <= {0, 1, 3}
    if with_gt:
        assert set(metrics) == {f'youtube_vos/{k}' for k in (
            'Overall', 'J_seen', 'F_seen', 'J_unseen', 'F_unseen')}
        # penguin (vid_b, object 3) is the unseen category
        assert not np.isnan(metrics['youtube_vos/J_unseen'])
        assert osp.isfile(out / 'youtube_vos_results.json')
    else:
        assert metrics == {}
