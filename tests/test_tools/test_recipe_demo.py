"""tools/analysis/recipe_demo.py end to end on a tiny synthetic set: the
three stages train, full starts from the pre-trained checkpoint, finished
stages are reused, interrupted ones resume and changed ones train again."""
import json
import os.path as osp

import pytest

from vosbench.datasets.synthetic import generate_synthetic_davis

from tool_loading import load_tool



def read(path):
    with open(path) as f:
        return f.read()


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('recipe')
    data_root = str(root / 'data')
    # short, small videos: ensure_data keeps the recorded frame count/size
    generate_synthetic_davis(data_root, num_train=0, num_val=0, num_frames=4,
                             height=128, width=128, progress=False)
    work_dir = str(root / 'work')
    argv = ['--seeds', '0', '--pretrain-iters', '2', '--main-iters', '2',
            '--train-videos', '2', '--val-videos', '1', '--static-images',
            '6', '--data-root', data_root, '--work-dir', work_dir,
            '--jobs', '2']
    tool = load_tool('tools/analysis/recipe_demo.py')
    return tool, argv, data_root, work_dir, tool.main(argv)


def test_three_stages_and_summary(demo_run, capsys):
    tool, argv, data_root, work_dir, out = demo_run
    per_seed = out['per_seed']['0']
    assert set(per_seed) == {'pretrain', 'main_only', 'full'}
    for value in per_seed.values():
        assert 0.0 <= value <= 1.0
    summary = out['summary']
    assert summary['full_minus_main']['mean'] == pytest.approx(
        per_seed['full'] - per_seed['main_only'])
    assert summary['seeds_full_better'] == int(
        per_seed['full'] > per_seed['main_only'])
    with open(osp.join(work_dir, 'recipe_demo.json')) as f:
        assert json.load(f)['per_seed']['0'] == per_seed
    # the data were made as asked, at the recorded frame count
    with open(osp.join(data_root, 'ImageSets', '2017', 'train.txt')) as f:
        assert len(f.read().split()) == 2
    with open(osp.join(data_root, 'static', 'annotations.json')) as f:
        assert len(json.load(f)['images']) == 6
    assert osp.isfile(osp.join(data_root, 'JPEGImages', '480p',
                               'synth_val_0000', '00003.jpg'))
    assert not osp.exists(osp.join(data_root, 'JPEGImages', '480p',
                                   'synth_val_0000', '00004.jpg'))


def test_full_loads_the_pretrained_checkpoint(demo_run):
    _, _, _, work_dir, _ = demo_run
    seed_dir = osp.join(work_dir, 'seed_0')
    pre_ckpt = read(osp.join(seed_dir, 'pretrain', 'last_checkpoint')).strip()
    assert osp.basename(pre_ckpt) == 'iter_2.pth'
    full_log = read(osp.join(seed_dir, 'full.log'))
    assert f'load_from={pre_ckpt}' in full_log
    assert f'Load checkpoint from {pre_ckpt}' in full_log
    assert 'Load checkpoint from' not in read(
        osp.join(seed_dir, 'main_only.log'))


def test_reuse_resume_and_retrain(demo_run, capsys):
    tool, argv, _, work_dir, out = demo_run
    seed_dir = osp.join(work_dir, 'seed_0')
    # main only as if killed after its last checkpoint, before its J&F
    record_path = osp.join(seed_dir, 'main_only', 'stage.json')
    with open(record_path) as f:
        record = json.load(f)
    record['jf'] = None
    with open(record_path, 'w') as f:
        json.dump(record, f)
    capsys.readouterr()
    again = tool.main(argv)
    printed = capsys.readouterr().out
    assert '[seed 0 pre-training only] reusing' in printed
    assert '[seed 0 full] reusing' in printed
    assert '[seed 0 main only] resuming' in printed
    assert again['per_seed']['0'] == out['per_seed']['0']
    # resuming drops load_from so mmengine resumes from the stage's own
    # checkpoint
    main_log = read(osp.join(seed_dir, 'main_only.log'))
    assert 'load_from=None --resume' in main_log

    # other main-training settings: the main stages train again from
    # scratch, the pre-training is reused
    capsys.readouterr()
    changed = tool.main([*argv[:4], '--main-iters', '3', *argv[6:]])
    printed = capsys.readouterr().out
    assert '[seed 0 pre-training only] reusing' in printed
    assert '[seed 0 main only] training 3 iterations' in printed
    assert '[seed 0 full] training 3 iterations' in printed
    assert osp.basename(read(osp.join(
        seed_dir, 'full', 'last_checkpoint')).strip()) == 'iter_3.pth'
    assert set(changed['per_seed']['0']) == {'pretrain', 'main_only', 'full'}


def test_bad_arguments_exit():
    tool = load_tool('tools/analysis/recipe_demo.py')
    with pytest.raises(SystemExit):
        tool.parse_args(['--main-iters', '0'])


def test_failed_stage_exits_naming_it_and_its_log(demo_run, tmp_path):
    tool, argv, _, _, _ = demo_run
    work_dir = str(tmp_path / 'failing')
    # Adam refuses a negative learning rate: both main stages fail
    with pytest.raises(SystemExit) as exc:
        tool.main([*argv[:-4], '--work-dir', work_dir, '--jobs', '2',
                   '--main-lr', '-1'])
    message = str(exc.value)
    assert '[seed 0 main only] tools/train.py exited with' in message
    assert '[seed 0 full] tools/train.py exited with' in message
    log_file = osp.join(work_dir, 'seed_0', 'main_only.log')
    assert log_file in message
    assert 'Invalid learning rate' in read(log_file)
    # the pre-training finished and is kept for a rerun
    with open(osp.join(work_dir, 'seed_0', 'pretrain', 'stage.json')) as f:
        assert json.load(f)['jf'] is not None


def test_config_digest_follows_the_resolved_config(tmp_path):
    """An edit of a config, or of one of its _base_ files, changes the
    digest a stage's settings hold (so the stage trains again)."""
    tool = load_tool('tools/analysis/recipe_demo.py')
    base = tmp_path / 'base.py'
    child = tmp_path / 'child.py'
    base.write_text('a = 1\nb = dict(c=2)\n')
    child.write_text("_base_ = ['./base.py']\nd = 3\n")
    first = tool.config_digest(str(child))
    assert tool.config_digest(str(child)) == first
    base.write_text('a = 1\nb = dict(c=5)\n')
    second = tool.config_digest(str(child))
    assert second != first
    child.write_text("_base_ = ['./base.py']\nd = 4\n")
    assert tool.config_digest(str(child)) not in (first, second)


def test_stage_with_amp_trains_in_bf16_and_is_its_own_setting(demo_run):
    """``train_args=['--amp']`` reaches tools/train.py (bf16 autocast on
    this CPU), is kept in the stage's settings, and a rerun without it
    trains the stage again instead of reusing the bf16 one."""
    import torch
    if torch.cuda.is_available():
        pytest.skip('with a GPU --amp trains in fp16')
    tool, _, data_root, work_dir, _ = demo_run
    stage_dir = osp.join(work_dir, 'amp', 'main_only')
    options = [f'{loader}.dataset.data_root={data_root}'
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')]
    jf = tool.train_stage('main_only', 0, tool.CONFIGS['main_only'], 2,
                          stage_dir, options, 1, False,
                          train_args=['--amp'])
    assert 0.0 <= jf <= 1.0
    with open(osp.join(stage_dir, 'stage.json')) as f:
        assert json.load(f)['settings']['train_args'] == ['--amp']
    log_text = read(stage_dir + '.log')
    assert ' --amp ' in log_text.splitlines()[0]
    assert "type='CPUAutocastOptimWrapper'" in log_text
    # the same stage in fp32 is another setting: trained again
    tool.train_stage('main_only', 0, tool.CONFIGS['main_only'], 2,
                     stage_dir, options, 1, False)
    with open(osp.join(stage_dir, 'stage.json')) as f:
        assert 'train_args' not in json.load(f)['settings']
    assert "type='CPUAutocastOptimWrapper'" not in read(stage_dir + '.log')
