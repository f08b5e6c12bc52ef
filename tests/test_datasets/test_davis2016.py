"""DAVIS 2016 in the release's layout, on the real shared copy
(``../shared/data/davis2016_train_240p``) and on broken copies of it."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config

from vosbench.datasets import (DAVIS2016Dataset, DAVIS2016FramesDataset,
                               DatasetLayoutError)
from vosbench.evaluation.davis_results import (list_annotated_frames,
                                               read_sequence_list)
from vosbench.registry import DATASETS
from vosbench.utils import register_all_modules
from vosbench.utils.mask_io import MaskReadError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CANDIDATES = [osp.join(REPO, '..', 'shared', 'data', 'davis2016_train_240p'),
              '/work/shared/data/davis2016_train_240p']
DAVIS16 = next((p for p in CANDIDATES if osp.isdir(p)), None)
RECIPE_MAIN = osp.join(REPO, 'configs', 'stm',
                       'stm_r18-tiny_1xb4-3000iter_davis16-240p.py')
pytestmark = pytest.mark.skipif(
    DAVIS16 is None, reason='the real DAVIS 2016 train videos are not here '
    f'(looked for {CANDIDATES[0]}); they are in CI')
SHORT = ['dog-agility', 'rollerblade']  # 25 and 35 frames


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


def copy_sequences(dst, names=SHORT, resolution='240p'):
    """A DAVIS 2016 root with ``names`` only (a split file listing them)."""
    for kind in ('JPEGImages', 'Annotations'):
        for seq in names:
            shutil.copytree(osp.join(DAVIS16, kind, resolution, seq),
                            osp.join(dst, kind, resolution, seq))
    os.makedirs(osp.join(dst, 'ImageSets', resolution))
    with open(osp.join(DAVIS16, 'ImageSets', resolution, 'train.txt')) as f:
        lines = [ln for ln in f if ln.split('/')[3] in names]
    with open(osp.join(dst, 'ImageSets', resolution, 'train.txt'), 'w') as f:
        f.writelines(lines)
    return str(dst)


def test_native_layout_loads_like_the_evaluator_reads_it():
    dataset = DAVIS2016Dataset(DAVIS16, split='train', resolution='240p',
                               test_mode=True,
                               pipeline=[dict(type='PackVideoInputs')])
    assert len(dataset) == 30
    names = [dataset.get_data_info(i)['seq_name'] for i in range(30)]
    # the same sequences, in the same order, as tools/eval_results.py
    assert names == read_sequence_list(DAVIS16, 'train', '2016', '240p')
    for i in (0, 7):
        info = dataset.get_data_info(i)
        assert info['frame_names'] == list_annotated_frames(
            DAVIS16, info['seq_name'], '240p')
    sample = dataset[0]['data_samples']
    assert sample['seq_name'] == 'bear'
    frame = sample['frames'][0]
    assert frame.shape == (240, 427, 3) and frame.dtype == np.uint8
    first = sample['given_masks'][0]  # 0/255 in the file, 0/1 here
    assert first.shape == (240, 427)
    assert set(np.unique(first)) == {0, 1}


def test_training_samples_are_clips_with_the_object(tmp_path):
    cfg = Config.fromfile(RECIPE_MAIN)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = DAVIS16
    ds_cfg.exclude_sequences = cfg.holdout_sequences
    np.random.seed(0)
    dataset = DATASETS.build(ds_cfg)
    seqs = {dataset.get_data_info(i)['seq_name']
            for i in range(len(dataset))}
    assert len(seqs) == 24 and not seqs & set(cfg.holdout_sequences)
    for index in range(0, len(dataset), len(dataset) // 10):
        sample = dataset[index]
        inputs, masks = sample['inputs'], sample['data_samples']['masks']
        assert tuple(inputs.shape) == (3, 3, 128, 128)
        assert sample['data_samples']['num_objects'] == 1
        assert set(masks.unique().tolist()) <= {0, 1}
        assert (masks[0] == 1).sum() >= 50  # the object, in the first frame


def test_frames_as_still_images_leave_out_the_held_out_videos():
    frames = DAVIS2016FramesDataset(
        data_root=DAVIS16, resolution='240p', frame_step=10,
        exclude_sequences=['bear'])
    seqs = {frames.get_data_info(i)['seq_name'].split('/')[0]
            for i in range(len(frames))}
    assert len(seqs) == 29 and 'bear' not in seqs
    sample = frames.load_sample(0)
    assert sample['image'].shape == (240, 427, 3)
    assert set(np.unique(sample['mask'])) <= {0, 1}


def test_exclude_sequences_with_a_typo_is_an_error():
    with pytest.raises(DatasetLayoutError, match=r"\['baer'\]"):
        DAVIS2016Dataset(DAVIS16, resolution='240p',
                         exclude_sequences=['baer'])


def test_missing_frame_names_sequence_and_frame(tmp_path):
    root = copy_sequences(tmp_path)
    os.remove(osp.join(root, 'JPEGImages', '240p', 'rollerblade',
                       '00007.jpg'))
    # the split file's line for it points nowhere
    with pytest.raises(DatasetLayoutError,
                       match=r'train\.txt, line \d+: .*rollerblade/00007'
                       r'\.jpg points to no file'):
        DAVIS2016Dataset(root, resolution='240p', test_mode=True)
    # and named sequences (no split file read) hit the frame-list rule
    with pytest.raises(DatasetLayoutError,
                       match=r"'rollerblade', frame '00007': it has ground "
                       'truth'):
        DAVIS2016Dataset(root, resolution='240p', test_mode=True,
                         sequences=SHORT)


def test_split_line_that_points_nowhere(tmp_path):
    root = copy_sequences(tmp_path)
    with open(osp.join(root, 'ImageSets', '240p', 'train.txt'), 'a') as f:
        f.write('/JPEGImages/240p/camel/00000.jpg '
                '/Annotations/240p/camel/00000.png\n')
    with pytest.raises(DatasetLayoutError,
                       match=r'train\.txt, line 61: .*camel/00000\.jpg '
                       'points to no file'):
        DAVIS2016Dataset(root, resolution='240p')


def test_split_line_with_one_path(tmp_path):
    root = copy_sequences(tmp_path)
    with open(osp.join(root, 'ImageSets', '240p', 'train.txt'), 'a') as f:
        f.write('/JPEGImages/240p/dog-agility/00000.jpg\n')
    with pytest.raises(DatasetLayoutError, match=r'line 61: expected an '
                       'image path and an annotation path'):
        DAVIS2016Dataset(root, resolution='240p')


def test_mask_that_is_not_0_255_names_the_file(tmp_path):
    from PIL import Image
    root = copy_sequences(tmp_path)
    path = osp.join(root, 'Annotations', '240p', 'dog-agility', '00000.png')
    mask = np.array(Image.open(path))
    mask[mask == 255] = 1  # a DAVIS 2017 style label
    Image.fromarray(mask).save(path)
    test = DAVIS2016Dataset(root, resolution='240p', test_mode=True,
                            pipeline=[dict(type='PackVideoInputs')])
    given = test[0]['data_samples']['given_masks']
    with pytest.raises(MaskReadError, match=r'dog-agility/00000\.png has '
                       r'values \[1\]: a DAVIS 2016 mask has only 0'):
        given[0]
    train = DAVIS2016Dataset(
        root, resolution='240p', sequences=['dog-agility'],
        pipeline=[dict(type='LoadClipFrames'), dict(type='LoadClipMasks')])
    info = train.get_data_info(0)
    info['clip_indices'] = [0, 1, 2]
    with pytest.raises(MaskReadError, match=r'dog-agility/00000\.png'):
        train.pipeline(info)


def test_year_key_is_refused():
    with pytest.raises(TypeError, match='year is 2016'):
        DAVIS2016Dataset(DAVIS16, year='2017')


def test_tools_test_on_two_real_videos_agrees_with_the_evaluator(tmp_path):
    """tools/test.py on two real DAVIS 2016 videos writes predictions, and
    tools/eval_results.py --year 2016 scores them to the same numbers."""
    import csv
    import subprocess
    import sys

    from tool_run_helpers import save_tiny_checkpoint
    ckpt = save_tiny_checkpoint(str(tmp_path / 'tiny.pth'), seed=0)
    out = tmp_path / 'pred'
    seqs = "['dog-agility','rollerblade']"
    env = dict(os.environ, OMP_NUM_THREADS='1')
    test = subprocess.run(
        [sys.executable, 'tools/test.py', RECIPE_MAIN, ckpt, '--work-dir',
         str(tmp_path / 'work'), '--out', str(out), '--cfg-options',
         f'test_dataloader.dataset.data_root={DAVIS16}',
         'test_dataloader.dataset.split=train',
         f'test_dataloader.dataset.sequences={seqs}'],
        cwd=REPO, env=env, capture_output=True, text=True)
    assert test.returncode == 0, test.stderr[-2000:]
    assert sorted(os.listdir(out / 'dog-agility'))[:2] == ['00000.png',
                                                          '00001.png']
    scored = tmp_path / 'scored'
    evaluate = subprocess.run(
        [sys.executable, 'tools/eval_results.py', DAVIS16, str(out),
         '--year', '2016', '--resolution', '240p', '--split', 'train',
         '--sequences', 'dog-agility', 'rollerblade', '--out-dir',
         str(scored), '--quiet'],
        cwd=REPO, env=env, capture_output=True, text=True)
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]

    def rows(folder, kind):
        [name] = [f for f in os.listdir(folder)
                  if f.startswith(kind) and f.endswith('.csv')]
        with open(osp.join(folder, name)) as f:
            return list(csv.DictReader(f))
    assert rows(out, 'per-sequence') == rows(scored, 'per-sequence')
    assert rows(out, 'global') == rows(scored, 'global')
    assert [r['Sequence'] for r in rows(out, 'per-sequence')] == [
        'dog-agility_1', 'rollerblade_1']
