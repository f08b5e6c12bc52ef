"""YouTubeVOSDataset on a tiny YouTube-VOS in the released layout (made by
the ``make_ytvos`` fixture of tests/conftest.py): whole videos with
first-appearance masks in test mode (``valid`` and ``valid_all_frames``),
clips of annotated frames in training mode, and errors that name files."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from vosbench.datasets import (DatasetLayoutError, PackVideoInputs,
                               YouTubeVOSDataset, vos_collate)
from vosbench.registry import DATASETS
from vosbench.utils.mask_io import read_mask

VALID_NAMES = ['00000', '00005', '00010', '00015']
ALL_NAMES = [f'{t:05d}' for t in range(16)]


def _ann(root, video, name, split='valid'):
    return osp.join(root, split, 'Annotations', video, name + '.png')


def test_valid_split_whole_videos(ytvos_root):
    ds = DATASETS.build(dict(type='YouTubeVOSDataset', data_root=ytvos_root,
                             split='valid', test_mode=True))
    assert isinstance(ds, YouTubeVOSDataset)
    assert len(ds) == 2
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert a['seq_name'] == 'vid_a' and b['seq_name'] == 'vid_b'
    assert a['frame_names'] == VALID_NAMES
    assert a['frame_paths'][1] == osp.join(ytvos_root, 'valid', 'JPEGImages',
                                           'vid_a', '00005.jpg')
    assert a['output_frame_names'] == VALID_NAMES
    # the first-appearance masks, where the objects first appear
    assert a['given_mask_paths'] == [_ann(ytvos_root, 'vid_a', '00000'),
                                     _ann(ytvos_root, 'vid_a', '00005'),
                                     None, None]
    assert b['given_mask_paths'] == [None, _ann(ytvos_root, 'vid_b',
                                                '00005'),
                                     _ann(ytvos_root, 'vid_b', '00010'),
                                     None]
    assert a['object_first_frames'] == {1: '00000', 2: '00005'}
    assert b['object_first_frames'] == {1: '00005', 3: '00010'}
    assert b['object_categories'] == {1: 'cat', 3: 'penguin'}
    # no ground truth beyond the given masks
    assert b['mask_paths'] == b['given_mask_paths']
    # each given mask holds the objects that appear there
    assert set(np.unique(read_mask(b['given_mask_paths'][2]))) == {0, 3}


def test_valid_all_frames_runs_on_every_frame_and_outputs_valid_ones(
        ytvos_root):
    ds = YouTubeVOSDataset(ytvos_root, split='valid', all_frames=True,
                           test_mode=True)
    info = ds.get_data_info(0)
    assert info['frame_names'] == ALL_NAMES
    assert info['frame_paths'][3] == osp.join(
        ytvos_root, 'valid_all_frames', 'JPEGImages', 'vid_a', '00003.jpg')
    assert info['output_frame_names'] == VALID_NAMES
    # the masks come from valid/Annotations, at the all-frames positions
    given = info['given_mask_paths']
    assert len(given) == 16
    assert {t: p for t, p in enumerate(given) if p} == {
        0: _ann(ytvos_root, 'vid_a', '00000'),
        5: _ann(ytvos_root, 'vid_a', '00005')}
    info_b = ds.get_data_info(1)
    assert [t for t, p in enumerate(info_b['given_mask_paths']) if p] == [
        5, 10]


def test_pack_video_inputs_carries_youtube_vos_fields(ytvos_root):
    ds = YouTubeVOSDataset(ytvos_root, split='valid', all_frames=True,
                           test_mode=True,
                           pipeline=[dict(type='PackVideoInputs')])
    batch = vos_collate([ds[0], ds[1]])
    a, b = batch['data_samples']
    assert batch['inputs'] == [None, None]
    assert a['output_frame_names'] == VALID_NAMES
    assert a['object_first_frames'] == {1: '00000', 2: '00005'}
    assert a['object_categories'] == {1: 'person', 2: 'zebra'}
    assert a['given_mask_paths'][5] == _ann(ytvos_root, 'vid_a', '00005')
    assert a['first_mask_path'] == _ann(ytvos_root, 'vid_a', '00000')
    # vid_b has no annotation in frame 0
    assert b['first_mask_path'] is None
    assert b['given_mask_paths'][0] is None
    assert len(b['gt_mask_paths']) == 16


def test_pack_video_inputs_davis_sample_gets_first_mask_as_given():
    out = PackVideoInputs()(dict(seq_name='s', frame_names=['0', '1', '2'],
                                 frame_paths=['a', 'b', 'c'],
                                 mask_paths=['m0', None, 'm2']))
    sample = out['data_samples']
    assert sample['first_mask_path'] == 'm0'
    assert sample['given_mask_paths'] == ['m0', None, None]
    assert sample['gt_mask_paths'] == ['m0', None, 'm2']
    assert 'output_frame_names' not in sample


def test_first_frames_from_masks_when_meta_has_none(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    meta_path = osp.join(root, 'valid', 'meta.json')
    with open(meta_path) as f:
        meta = json.load(f)
    for obj in meta['videos']['vid_b']['objects'].values():
        del obj['frames']
    with open(meta_path, 'w') as f:
        json.dump(meta, f)
    ds = YouTubeVOSDataset(root, split='valid', test_mode=True,
                           videos=['vid_b'])
    assert ds.get_data_info(0)['object_first_frames'] == {1: '00005',
                                                         3: '00010'}


def test_training_clips_use_annotated_frames_only(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    # an extra frame without annotation is never sampled
    image_dir = osp.join(root, 'train', 'JPEGImages', 'train_a')
    shutil.copy(osp.join(image_dir, '00005.jpg'),
                osp.join(image_dir, '00007.jpg'))
    ds = YouTubeVOSDataset(
        root, split='train', max_skip=1, samples_per_video=3,
        pipeline=[dict(type='LoadClipFrames'), dict(type='LoadClipMasks'),
                  dict(type='SelectObjects', max_objects=3, min_pixels=10),
                  dict(type='PackClipInputs')])
    assert len(ds) == 6
    info = ds.get_data_info(0)
    assert info['frame_names'] == VALID_NAMES  # 00007 left out
    assert info['object_categories'] == {1: 'person', 2: 'cat'}
    np.random.seed(0)
    for idx in range(len(ds)):
        sample = ds[idx]
        clip = sample['data_samples']['clip_indices']
        # max_skip counts annotated frames: consecutive annotated frames
        assert np.diff(clip).tolist() == [1, 1]
        assert sample['inputs'].shape == (3, 3, 30, 44)
        assert sample['data_samples']['masks'].shape == (3, 30, 44)


def test_training_clip_of_object_that_appears_later(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    ds = YouTubeVOSDataset(
        root, split='train', videos=['train_b'], clip_length=2, max_skip=1,
        pipeline=[dict(type='LoadClipFrames'), dict(type='LoadClipMasks'),
                  dict(type='SelectObjects', max_objects=3, min_pixels=10),
                  dict(type='PackClipInputs')])
    np.random.seed(1)
    seen = set()
    for _ in range(20):
        sample = ds[0]['data_samples']
        seen.add((tuple(sample['clip_indices']), sample['num_objects']))
    # object 2 appears at frame 00005: a clip starting at 00000 has one
    # object, later clips two
    assert ((0, 1), 1) in seen
    assert any(clip[0] >= 1 and k == 2 for clip, k in seen)


# ---------------------------------------------------------------------------
# errors name the file
# ---------------------------------------------------------------------------
def test_missing_meta_names_it(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    os.remove(osp.join(root, 'valid', 'meta.json'))
    with pytest.raises(DatasetLayoutError, match='valid/meta.json'):
        YouTubeVOSDataset(root, split='valid', test_mode=True)
    with pytest.raises(DatasetLayoutError, match='nowhere/train/meta.json'):
        YouTubeVOSDataset(str(tmp_path / 'nowhere'), split='train')


def test_bad_meta_names_it(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    with open(osp.join(root, 'valid', 'meta.json'), 'w') as f:
        json.dump({'vids': {}}, f)
    with pytest.raises(DatasetLayoutError, match='meta.json has no "videos"'):
        YouTubeVOSDataset(root, split='valid', test_mode=True)


def test_unknown_or_missing_video_names_it(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    with pytest.raises(DatasetLayoutError, match="'nope' is not in .*"
                       'meta.json'):
        YouTubeVOSDataset(root, split='valid', test_mode=True,
                          videos=['nope'])
    shutil.rmtree(osp.join(root, 'valid_all_frames', 'JPEGImages', 'vid_b'))
    with pytest.raises(DatasetLayoutError,
                       match='valid_all_frames/JPEGImages/vid_b'):
        YouTubeVOSDataset(root, split='valid', all_frames=True,
                          test_mode=True)


def test_missing_frames_name_them(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    os.remove(osp.join(root, 'valid_all_frames', 'JPEGImages', 'vid_a',
                       '00010.jpg'))
    with pytest.raises(DatasetLayoutError,
                       match='frame 00010 of .*valid/JPEGImages/vid_a is '
                       'missing from .*valid_all_frames/JPEGImages/vid_a'):
        YouTubeVOSDataset(root, split='valid', all_frames=True,
                          test_mode=True)
    for name in os.listdir(osp.join(root, 'valid', 'JPEGImages', 'vid_b')):
        os.remove(osp.join(root, 'valid', 'JPEGImages', 'vid_b', name))
    with pytest.raises(DatasetLayoutError,
                       match='no frames in .*valid/JPEGImages/vid_b'):
        YouTubeVOSDataset(root, split='valid', test_mode=True)


def test_missing_first_mask_names_it(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    os.remove(_ann(root, 'vid_b', '00010'))
    with pytest.raises(DatasetLayoutError,
                       match='first mask of object 3 is missing: .*'
                       'valid/Annotations/vid_b/00010.png'):
        YouTubeVOSDataset(root, split='valid', test_mode=True)


def test_training_video_without_annotations_names_it(tmp_path, make_ytvos):
    root = make_ytvos(str(tmp_path))
    shutil.rmtree(osp.join(root, 'train', 'Annotations', 'train_b'))
    with pytest.raises(DatasetLayoutError,
                       match='train/Annotations/train_b'):
        YouTubeVOSDataset(root, split='train')
