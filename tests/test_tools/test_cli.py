"""Command-line handling of tools/train.py and tools/test.py."""
import os.path as osp

import pytest

from tool_loading import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'stm',
                  'stm_r18-tiny_1xb4-700iter_synthetic.py')


train_tool = load_tool('tools/train.py')
test_tool = load_tool('tools/test.py')


def test_work_dir_precedence(tmp_path):
    args = train_tool.parse_args([CONFIG])
    cfg = train_tool.build_train_cfg(args)
    assert cfg.work_dir == osp.join('./work_dirs',
                                    'stm_r18-tiny_1xb4-700iter_synthetic')
    args = train_tool.parse_args([CONFIG, '--work-dir', str(tmp_path)])
    assert train_tool.build_train_cfg(args).work_dir == str(tmp_path)


def test_train_resume_and_cfg_options():
    args = train_tool.parse_args([
        CONFIG, '--resume', '--cfg-options', 'train_cfg.max_iters=7',
        '--local-rank', '0'
    ])
    cfg = train_tool.build_train_cfg(args)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.train_cfg.max_iters == 7
    args = train_tool.parse_args([CONFIG, '--resume', 'some/iter_5.pth'])
    cfg = train_tool.build_train_cfg(args)
    assert cfg.resume is True and cfg.load_from == 'some/iter_5.pth'
    # the old spelling of the local rank argument is accepted too
    assert train_tool.parse_args([CONFIG, '--local_rank', '1']).local_rank == 1


def test_amp_picks_the_wrapper_of_the_machine(monkeypatch):
    """``--amp``: fp16 AmpOptimWrapper with a GPU, bf16 autocast without."""
    import torch
    args = train_tool.parse_args([CONFIG, '--amp'])
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = train_tool.build_train_cfg(args)
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = train_tool.build_train_cfg(args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_amp_refuses_to_replace_another_wrapper():
    args = train_tool.parse_args(
        [CONFIG, '--amp', '--cfg-options',
         'optim_wrapper.type=MyOptimWrapper'])
    with pytest.raises(SystemExit, match="'MyOptimWrapper'"):
        train_tool.build_train_cfg(args)


def test_test_out_and_show_dir_add_hooks(tmp_path):
    out, show = str(tmp_path / 'out'), str(tmp_path / 'show')
    args = test_tool.parse_args(
        [CONFIG, 'ckpt.pth', '--out', out, '--show-dir', show,
         '--show-interval', '3'])
    cfg = test_tool.build_test_cfg(args)
    assert cfg.load_from == 'ckpt.pth' and cfg.resume is False
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert hooks['PredictionWriterHook']['out_dir'] == out
    assert hooks['VOSVisualizationHook']['show_dir'] == show
    assert hooks['VOSVisualizationHook']['interval'] == 3
    assert cfg.test_evaluator['output_dir'] == out


def test_test_missing_checkpoint_names_it(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(SystemExit, match='nope.pth'):
        test_tool.main([CONFIG, missing])
