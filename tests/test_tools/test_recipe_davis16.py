"""tools/analysis/recipe_davis16.py: the validation protocol, the options
it gives each stage, and the copy-the-first-mask baseline on real video
(the training stages are tools/analysis/recipe_demo.py's, tested there)."""
import os
import os.path as osp

import numpy as np
import pytest
from tool_loading import load_tool

from vosbench.utils.mask_io import read_binary_mask, read_mask

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CANDIDATES = [osp.join(REPO, '..', 'shared', 'data', 'davis2016_train_240p'),
              '/work/shared/data/davis2016_train_240p']
DAVIS16 = next((p for p in CANDIDATES if osp.isdir(p)), None)
pytestmark = pytest.mark.skipif(
    DAVIS16 is None, reason='the real DAVIS 2016 train videos are not here '
    f'(looked for {CANDIDATES[0]}); they are in CI')


def args_for(**kwargs):
    tool = load_tool('tools/analysis/recipe_davis16.py')
    args = tool.parse_args(['--davis16', DAVIS16])
    vars(args).update(kwargs)
    return tool, args


def test_holdout_protocol_where_there_is_no_val_split(tmp_path):
    tool, args = args_for()
    protocol = tool.validation_protocol(args)
    held = tool.holdout_sequences()
    assert protocol == dict(mode='holdout', split='train', sequences=held,
                            exclude=held)
    options = tool.data_options(args, protocol)
    listed = tool.list_option(held)
    assert f'train_dataloader.dataset.exclude_sequences={listed}' in \
        options['videos']
    assert ('train_dataloader.dataset.datasets.1.exclude_sequences='
            f'{listed}') in options['frames']
    assert f'val_dataloader.dataset.sequences={listed}' in options['val']
    assert 'val_dataloader.dataset.split=train' in options['val']
    # with a val split the official protocol is used
    root = tmp_path / 'davis'
    (root / 'ImageSets' / '240p').mkdir(parents=True)
    (root / 'ImageSets' / '240p' / 'val.txt').write_text('')
    tool, args = args_for(davis16=str(root))
    assert tool.validation_protocol(args)['mode'] == 'val'


def test_copy_first_mask_baseline(tmp_path):
    tool, args = args_for()
    protocol = dict(mode='holdout', split='train',
                    sequences=['dog-agility', 'rollerblade'], exclude=[])
    out = tool.copy_first_mask(args, protocol, str(tmp_path))
    assert set(out['per_sequence']) == {'dog-agility', 'rollerblade'}
    assert 0 < out['jf'] < 1
    first = read_binary_mask(osp.join(DAVIS16, 'Annotations', '240p',
                                      'rollerblade', '00000.png'))
    folder = tmp_path / 'predictions' / 'rollerblade'
    names = sorted(os.listdir(folder))
    assert len(names) == 35
    for name in names:
        np.testing.assert_array_equal(read_mask(str(folder / name)), first)
    expected = np.mean(list(out['per_sequence'].values()))
    assert abs(out['jf'] - expected) < 1e-9  # one object per sequence


def test_amp_auto_trains_in_bf16_only_where_it_is_faster(monkeypatch):
    """``--amp auto`` (default): bf16 autocast on a CPU-only machine with
    native bf16, fp32 on an AVX2-only CPU or beside a GPU; on / off as
    asked; the stages get ``--amp`` exactly when it is on."""
    import torch

    import vosbench.inference.precision
    tool = load_tool('tools/analysis/recipe_davis16.py')
    for cuda, native, expected in ((False, True, True), (False, False, False),
                                   (True, True, False)):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda c=cuda: c)
        monkeypatch.setattr(vosbench.inference.precision, 'native_cpu_bf16',
                            lambda n=native: n)
        assert tool.parse_args([]).amp is expected
        assert tool.parse_args(['--amp']).amp is True
        assert tool.parse_args(['--amp', 'off']).amp is False
    calls = []
    monkeypatch.setattr(tool, 'train_stage',
                        lambda *a, **kw: calls.append(kw['train_args']))
    monkeypatch.setattr(tool, 'stage_record', lambda d: dict(jf=0.5))
    monkeypatch.setattr(tool, 'read_per_sequence', lambda d: {})
    monkeypatch.setattr(tool, 'last_checkpoint', lambda d: 'x.pth')
    monkeypatch.setattr(tool, 'ensure_synthetic', lambda *a, **kw: None)
    monkeypatch.setattr(tool, 'copy_first_mask', lambda *a: dict(jf=0.3))
    monkeypatch.setattr(tool, 'test_demo_model', lambda *a: dict(jf=0.2))
    tool.run(tool.parse_args(['--davis16', DAVIS16, '--amp', 'on',
                              '--jobs', '1']))
    # pre-training, full and main only with --amp; the demo model without
    assert sorted(map(tuple, calls)) == [(), ('--amp',), ('--amp',),
                                         ('--amp',)]


def test_stage_iterations_default_to_the_configs(monkeypatch, tmp_path):
    """Without ``--pretrain-iters`` / ``--main-iters`` each stage trains its
    config's ``train_cfg.max_iters``; the options override them."""
    tool = load_tool('tools/analysis/recipe_davis16.py')
    for name, iters in (('pretrain', 7), ('main_only', 11)):
        config = tmp_path / f'{name}.py'
        config.write_text(f'train_cfg = dict(max_iters={iters})\n')
        monkeypatch.setitem(tool.CONFIGS, name, str(config))
    args = tool.parse_args(['--amp', 'off'])
    assert (args.pretrain_iters, args.main_iters) == (7, 11)
    args = tool.parse_args(['--amp', 'off', '--pretrain-iters', '3',
                            '--main-iters', '4'])
    assert (args.pretrain_iters, args.main_iters) == (3, 4)
