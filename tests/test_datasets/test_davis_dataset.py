"""Tests of DAVISDataset, the clip transforms and vos_collate.

Fixtures are tiny DAVIS-layout folders written to tmp_path; the real sample
in /work/shared/data/davis_sample (if present) is loaded too, and the tiny
STM is evaluated end to end on a few frames of it.
"""
import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import vosbench.datasets  # noqa: F401  (registers the modules)
import vosbench.models  # noqa: F401
from vosbench.datasets import DAVISDataset, DatasetLayoutError, vos_collate
from vosbench.datasets.frame_sources import ImageFrames
from vosbench.datasets.transforms import (ClipRandomFlip,
                                          ClipRandomResizedCrop,
                                          LoadClipFrames, LoadClipMasks,
                                          PackVideoInputs, SelectObjects)
from vosbench.registry import DATASETS, MODELS, TRANSFORMS
from vosbench.utils.image_io import FrameReadError, read_frame
from vosbench.utils.mask_io import read_mask, write_mask

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE_ROOT = os.environ.get('VOSBENCH_DAVIS_SAMPLE',
                             '/work/shared/data/davis_sample')

# RGB colours of the synthetic scenes
BACKGROUND = (0, 0, 255)
OBJECT_COLOURS = {1: (255, 0, 0), 2: (0, 255, 0)}
VOID = (255, 255, 0)
HEIGHT, WIDTH = 64, 96


def scene(t, height=HEIGHT, width=WIDTH):
    """Frame ``t`` (RGB) and its labels: object 1 moves right and object 2
    left by 6 pixels a frame; the bottom rows are void."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = BACKGROUND
    labels = np.zeros((height, width), np.uint8)
    x1 = 4 + 6 * t
    x2 = width - 20 - 6 * t
    labels[8:30, x1:x1 + 16] = 1
    labels[34:56, x2:x2 + 16] = 2
    labels[height - 4:] = 255
    for label, colour in OBJECT_COLOURS.items():
        frame[labels == label] = colour
    frame[labels == 255] = VOID
    return frame, labels


def write_frame(path, rgb):
    os.makedirs(osp.dirname(path), exist_ok=True)
    # best quality, no chroma subsampling: colours stay true near edges
    params = [cv2.IMWRITE_JPEG_QUALITY, 100]
    if hasattr(cv2, 'IMWRITE_JPEG_SAMPLING_FACTOR'):
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                   cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    assert cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)


def make_davis(root, sequences, splits=None):
    """Write a DAVIS layout.

    Args:
        sequences (dict): name -> number of frames, or a callable
            ``t -> (frame, labels)`` with a frame count as ``(fn, n)``.
        splits (dict): split name -> sequence names; defaults to all
            sequences in ``train`` and ``val``.
    """
    root = str(root)
    for name, spec in sequences.items():
        make, num = (scene, spec) if isinstance(spec, int) else spec
        for t in range(num):
            frame, labels = make(t)
            write_frame(osp.join(root, 'JPEGImages/480p', name,
                                 f'{t:05d}.jpg'), frame)
            write_mask(osp.join(root, 'Annotations/480p', name,
                                f'{t:05d}.png'), labels)
    if splits is None:
        splits = dict(train=list(sequences), val=list(sequences))
    os.makedirs(osp.join(root, 'ImageSets/2017'), exist_ok=True)
    for split, names in splits.items():
        with open(osp.join(root, 'ImageSets/2017', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return root


def train_pipeline(crop=None, flip_prob=0.0, max_objects=3, min_pixels=1):
    pipeline = [dict(type='LoadClipFrames'), dict(type='LoadClipMasks')]
    if crop is not None:
        pipeline.append(dict(type='ClipRandomResizedCrop', crop_size=crop,
                             scale_range=(0.8, 1.2)))
    pipeline += [dict(type='ClipRandomFlip', prob=flip_prob),
                 dict(type='SelectObjects', max_objects=max_objects,
                      min_pixels=min_pixels),
                 dict(type='PackClipInputs')]
    return pipeline


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('davis')
    return make_davis(root, dict(alpha=12, beta=3))


def interior(region):
    """The region eroded by 2 pixels, also from the image border (away from
    edges blurred by JPEG and resizing, and from OpenCV's sub-pixel offset
    between nearest and bilinear resizing)."""
    return cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8),
                     borderType=cv2.BORDER_CONSTANT,
                     borderValue=0).astype(bool)


def assert_colour(frame, region, colour, tol=60):
    """Every pixel of ``region`` (eroded by 2 pixels) has ``colour``."""
    inner = interior(region)
    if inner.sum() < 4:  # a sliver at the crop border: nothing to check
        return
    pixels = frame[inner].astype(int)
    assert np.abs(pixels - np.array(colour)).max() <= tol


def identify_colour(frame, region):
    """The object label whose colour the (eroded) region has, 'small' for
    slivers and None for a region of mixed or other colour."""
    inner = interior(region)
    if inner.sum() < 4:
        return 'small'
    pixels = frame[inner].astype(int)
    for label, colour in OBJECT_COLOURS.items():
        if np.abs(pixels - np.array(colour)).max() <= 60:
            return label
    return None


# ---------------------------------------------------------------------------
# training clips
# ---------------------------------------------------------------------------
def test_training_clips_are_ordered_with_bounded_gaps(davis_root):
    ds = DAVISDataset(davis_root, split='train', max_skip=4,
                      samples_per_video=5, pipeline=train_pipeline())
    assert len(ds) == 10
    np.random.seed(0)
    seen_gaps = set()
    for i in range(len(ds)):
        sample = ds[i]
        info = sample['data_samples']
        indices = info['clip_indices']
        assert len(indices) == 3
        gaps = np.diff(indices)
        assert ((gaps >= 1) & (gaps <= 4)).all(), indices
        seen_gaps.update(gaps.tolist())
        # the frames are those files, in that order
        paths = ds.get_data_info(i)['frame_paths']
        assert info['seq_name'] == ds.get_data_info(i)['seq_name']
        assert sample['inputs'].shape == (3, 3, HEIGHT, WIDTH)
        assert sample['inputs'].dtype == torch.uint8
        for t, index in enumerate(indices):
            np.testing.assert_array_equal(
                sample['inputs'][t].permute(1, 2, 0).numpy(),
                read_frame(paths[index]))
        # the 3-frame video gives exactly its three frames
        if info['seq_name'] == 'beta':
            assert indices == [0, 1, 2]
    assert len(seen_gaps) > 1


def test_clip_sampling_distinct_frames_and_reverse():
    ds = DAVISDataset.__new__(DAVISDataset)  # only the sampler
    ds.clip_length, ds.max_skip, ds.reverse_prob = 3, 5, 0.0
    np.random.seed(0)
    for num_frames in (3, 4, 6, 8, 11, 40):
        for _ in range(200):
            indices = ds.sample_clip_indices(num_frames)
            gaps = np.diff(indices)
            assert ((gaps >= 1) & (gaps <= 5)).all(), (num_frames, indices)
            assert 0 <= indices[0] and indices[-1] < num_frames
    ds.reverse_prob = 1.0
    for _ in range(20):
        indices = ds.sample_clip_indices(20)
        gaps = np.diff(indices)
        assert ((gaps <= -1) & (gaps >= -5)).all()


def test_masks_stay_aligned_under_crop_and_flip(davis_root):
    ds = DAVISDataset(davis_root, split='train', max_skip=3)
    load = [LoadClipFrames(), LoadClipMasks()]
    crop = ClipRandomResizedCrop((40, 40), scale_range=(0.8, 1.2),
                                 min_object_pixels=100)
    flip = ClipRandomFlip(prob=1.0)
    np.random.seed(1)
    for trial in range(6):
        results = dict(ds.get_data_info(0))
        results['clip_indices'] = ds.sample_clip_indices(12)
        for transform in load:
            results = transform(results)
        raw_frames = [f.copy() for f in results['frames']]
        raw_masks = [m.copy() for m in results['masks']]
        results = crop(results)
        results = flip(results)
        assert all(f.shape == (40, 40, 3) for f in results['frames'])
        assert all(m.shape == (40, 40) for m in results['masks'])
        for frame, mask in zip(results['frames'], results['masks']):
            assert mask.dtype == np.uint8
            for label, colour in OBJECT_COLOURS.items():
                assert_colour(frame, mask == label, colour)
            assert_colour(frame, mask == 0, BACKGROUND)
            assert_colour(frame, mask == 255, VOID)
        # some object is visible in the first frame
        assert ((results['masks'][0] > 0) &
                (results['masks'][0] != 255)).sum() >= 100
    # a flip alone mirrors frames and masks together
    results = flip(dict(frames=raw_frames, masks=raw_masks))
    for raw, flipped in zip(raw_frames, results['frames']):
        np.testing.assert_array_equal(flipped, raw[:, ::-1])
    for raw, flipped in zip(raw_masks, results['masks']):
        np.testing.assert_array_equal(flipped, raw[:, ::-1])
    no_flip = ClipRandomFlip(prob=0.0)(dict(frames=[raw_frames[0]],
                                            masks=[raw_masks[0]]))
    np.testing.assert_array_equal(no_flip['frames'][0], raw_frames[0])


def test_full_training_pipeline_alignment_and_void(davis_root):
    ds = DAVISDataset(davis_root, split='train', max_skip=3,
                      samples_per_video=4,
                      pipeline=train_pipeline(crop=(48, 48), flip_prob=0.5))
    np.random.seed(2)
    checked = 0
    for i in range(len(ds)):
        sample = ds[i]
        frames = sample['inputs'].permute(0, 2, 3, 1).numpy()
        masks = sample['data_samples']['masks']
        k = sample['data_samples']['num_objects']
        assert masks.dtype == torch.int64 and masks.shape == (3, 48, 48)
        masks = masks.numpy()
        assert 1 <= k <= 2
        assert set(np.unique(masks)) <= {0, 255, *range(1, k + 1)}
        # each new label is one object: its colour is the same in every frame
        for label in range(1, k + 1):
            colours = {identify_colour(f, m == label)
                       for f, m in zip(frames, masks)} - {'small'}
            assert len(colours) == 1 and None not in colours, (i, label)
            checked += 1
    assert checked >= len(ds)


def test_void_is_kept_as_ignore_in_training_masks(davis_root):
    ds = DAVISDataset(davis_root, split='train', pipeline=train_pipeline())
    np.random.seed(0)
    masks = ds[0]['data_samples']['masks'].numpy()
    assert (masks[:, -4:] == 255).all()
    assert (masks[:, :-4] != 255).all()


def test_select_objects_relabels_and_limits():
    labels = np.zeros((20, 20), np.uint8)
    labels[:5, :5] = 3
    labels[10:, 10:] = 7
    labels[0, 19] = 9  # one pixel: below min_pixels
    labels[19, 0] = 255
    second = np.roll(labels, 1, axis=1)
    np.random.seed(0)
    orders = set()
    for _ in range(10):
        results = SelectObjects(max_objects=3, min_pixels=10)(
            dict(masks=[labels, second]))
        chosen = results['object_ids']
        orders.add(tuple(chosen))
        assert sorted(chosen) == [3, 7]
        assert results['num_objects'] == 2
        for new_id, old_id in enumerate(chosen, start=1):
            for old, new in zip([labels, second], results['masks']):
                np.testing.assert_array_equal(new == new_id, old == old_id)
        for old, new in zip([labels, second], results['masks']):
            np.testing.assert_array_equal(new == 255, old == 255)
            assert not (new == 9).any()
            assert new.dtype == np.uint8
    assert orders == {(3, 7), (7, 3)}  # random order
    one = SelectObjects(max_objects=1, min_pixels=10)(dict(masks=[labels]))
    assert one['num_objects'] == 1 and one['object_ids'][0] in (3, 7)
    assert set(np.unique(one['masks'][0])) == {0, 1, 255}
    # no object large enough in the first frame
    assert SelectObjects(min_pixels=10)(
        dict(masks=[np.where(labels == 9, 9, 0).astype(np.uint8),
                    labels])) is None
    assert SelectObjects()(dict(masks=[np.full((4, 4), 255, np.uint8)])) \
        is None


def _empty_scene(t):
    frame, labels = scene(t)
    labels = np.zeros_like(labels)
    frame[:] = BACKGROUND
    return frame, labels


def test_dataset_refetches_when_no_object(tmp_path):
    root = make_davis(tmp_path, dict(empty=(_empty_scene, 4), good=4))
    ds = DAVISDataset(root, split='train', pipeline=train_pipeline())
    assert ds.get_data_info(0)['seq_name'] == 'empty'
    np.random.seed(0)
    for _ in range(3):
        sample = ds[0]
        assert sample['data_samples']['seq_name'] == 'good'
        assert sample['data_samples']['num_objects'] == 2


def test_registered_and_collate(davis_root):
    ds = DATASETS.build(dict(type='DAVISDataset', data_root=davis_root,
                             split='train', pipeline=train_pipeline()))
    assert isinstance(ds, DAVISDataset)
    assert isinstance(TRANSFORMS.build(dict(type='PackVideoInputs')),
                      PackVideoInputs)
    np.random.seed(0)
    batch = vos_collate([ds[0], ds[1]])
    assert set(batch) == {'inputs', 'data_samples'}
    assert len(batch['inputs']) == 2 and len(batch['data_samples']) == 2
    assert batch['data_samples'][1]['seq_name'] == 'beta'
    # the data preprocessor then stacks the clips
    pre = MODELS.build(dict(type='VOSDataPreprocessor'))
    data = pre(batch, True)
    assert data['inputs'].shape == (2, 3, 3, HEIGHT, WIDTH)
    assert 0 <= data['inputs'].min() and data['inputs'].max() <= 1
    # test samples are kept as they are
    test_ds = DAVISDataset(davis_root, split='val', test_mode=True,
                           pipeline=[dict(type='PackVideoInputs')])
    batch = vos_collate([test_ds[0]])
    assert batch['inputs'] == [None]
    assert batch['data_samples'][0]['seq_name'] == 'alpha'


# ---------------------------------------------------------------------------
# test mode
# ---------------------------------------------------------------------------
def test_test_mode_returns_whole_videos(davis_root):
    ds = DAVISDataset(davis_root, split='val', test_mode=True,
                      samples_per_video=10,
                      pipeline=[dict(type='PackVideoInputs')])
    assert len(ds) == 2
    sample = ds[0]
    assert sample['inputs'] is None
    info = sample['data_samples']
    assert info['seq_name'] == 'alpha'
    assert info['frame_names'] == [f'{t:05d}' for t in range(12)]
    assert info['frame_paths'] == [
        osp.join(davis_root, 'JPEGImages/480p/alpha', f'{t:05d}.jpg')
        for t in range(12)]
    assert info['first_mask_path'] == osp.join(
        davis_root, 'Annotations/480p/alpha/00000.png')
    assert info['gt_mask_paths'][5] == osp.join(
        davis_root, 'Annotations/480p/alpha/00005.png')
    assert len(ds[1]['data_samples']['frame_paths']) == 3


def test_sparse_annotations_allowed_only_in_test_mode(tmp_path):
    root = make_davis(tmp_path, dict(alpha=4))
    os.remove(osp.join(root, 'Annotations/480p/alpha/00002.png'))
    ds = DAVISDataset(root, split='val', test_mode=True,
                      pipeline=[dict(type='PackVideoInputs')])
    paths = ds[0]['data_samples']['gt_mask_paths']
    assert paths[2] is None and paths[3] is not None
    with pytest.raises(DatasetLayoutError, match='00002'):
        DAVISDataset(root, split='train')


def test_sequences_argument_overrides_split(tmp_path):
    root = make_davis(tmp_path, dict(alpha=3, beta=3),
                      splits=dict(val=['alpha']))
    ds = DAVISDataset(root, sequences=['beta'], test_mode=True,
                      pipeline=[dict(type='PackVideoInputs')])
    assert [ds[i]['data_samples']['seq_name'] for i in range(len(ds))] == \
        ['beta']


# ---------------------------------------------------------------------------
# errors name the file
# ---------------------------------------------------------------------------
def test_missing_split_file(tmp_path):
    root = make_davis(tmp_path, dict(alpha=2))
    with pytest.raises(DatasetLayoutError) as info:
        DAVISDataset(root, split='test-dev')
    assert osp.join('ImageSets', '2017', 'test-dev.txt') in str(info.value)


def test_missing_sequence_folder(tmp_path):
    root = make_davis(tmp_path, dict(alpha=2),
                      splits=dict(train=['alpha', 'ghost']))
    with pytest.raises(DatasetLayoutError) as info:
        DAVISDataset(root, split='train')
    assert osp.join('JPEGImages', '480p', 'ghost') in str(info.value)


def test_missing_first_annotation(tmp_path):
    root = make_davis(tmp_path, dict(alpha=2))
    os.remove(osp.join(root, 'Annotations/480p/alpha/00000.png'))
    for test_mode in (False, True):
        with pytest.raises(DatasetLayoutError) as info:
            DAVISDataset(root, split='val', test_mode=test_mode)
        assert osp.join('Annotations', '480p', 'alpha',
                        '00000.png') in str(info.value)


def _two_frame_dataset(root):
    return DAVISDataset(root, split='train', clip_length=2,
                        pipeline=train_pipeline())


def test_corrupt_jpeg_names_the_file(tmp_path):
    root = make_davis(tmp_path, dict(alpha=2))
    bad = osp.join(root, 'JPEGImages/480p/alpha/00001.jpg')
    with open(bad, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 this is not a jpeg at all' * 3)
    ds = _two_frame_dataset(root)
    with pytest.raises(FrameReadError) as info:
        ds[0]
    assert bad in str(info.value)


def test_mask_of_another_size_names_the_file(tmp_path):
    root = make_davis(tmp_path, dict(alpha=2))
    bad = osp.join(root, 'Annotations/480p/alpha/00001.png')
    write_mask(bad, np.zeros((HEIGHT, WIDTH + 8), np.uint8))
    ds = _two_frame_dataset(root)
    with pytest.raises(ValueError) as info:
        ds[0]
    assert bad in str(info.value)


def test_frames_of_different_sizes_in_a_clip(tmp_path):
    root = make_davis(tmp_path, dict(alpha=2))
    bad = osp.join(root, 'JPEGImages/480p/alpha/00001.jpg')
    write_frame(bad, scene(1, HEIGHT + 16, WIDTH)[0])
    write_mask(osp.join(root, 'Annotations/480p/alpha/00001.png'),
               scene(1, HEIGHT + 16, WIDTH)[1])
    ds = _two_frame_dataset(root)
    with pytest.raises(ValueError) as info:
        ds[0]
    assert bad in str(info.value)


# ---------------------------------------------------------------------------
# the real DAVIS sample
# ---------------------------------------------------------------------------
def _require_sample():
    if not osp.isfile(osp.join(SAMPLE_ROOT, 'ImageSets/2017/val.txt')):
        pytest.skip(f'DAVIS sample not found at {SAMPLE_ROOT} (set '
                    'VOSBENCH_DAVIS_SAMPLE to its folder)')
    return SAMPLE_ROOT


def test_davis_sample_test_mode():
    root = _require_sample()
    ds = DAVISDataset(root, split='val', test_mode=True,
                      pipeline=[dict(type='PackVideoInputs')])
    samples = {ds[i]['data_samples']['seq_name']: ds[i]['data_samples']
               for i in range(len(ds))}
    assert {'blackswan', 'tennis'} <= set(samples)
    blackswan = samples['blackswan']
    assert len(blackswan['frame_paths']) == 50
    assert len(blackswan['gt_mask_paths']) == 50
    assert read_mask(blackswan['first_mask_path']).shape == (480, 854)
    assert 255 in np.unique(read_mask(samples['tennis']['first_mask_path']))


def test_davis_sample_train_mode():
    root = _require_sample()
    np.random.seed(0)
    ds = DAVISDataset(root, split='val', sequences=['tennis'],
                      pipeline=train_pipeline())
    sample = ds[0]
    assert sample['inputs'].shape[0] == 3
    assert sample['inputs'].shape[-2:] == (480, 854)
    masks = sample['data_samples']['masks']
    assert (masks == 255).any()
    k = sample['data_samples']['num_objects']
    assert k == 2
    assert set(torch.unique(masks).tolist()) <= {0, 1, 2, 255}

    ds = DAVISDataset(root, split='val', sequences=['blackswan'],
                      max_skip=5,
                      pipeline=train_pipeline(crop=(96, 96), flip_prob=0.5))
    sample = ds[0]
    assert sample['inputs'].shape == (3, 3, 96, 96)
    assert sample['data_samples']['num_objects'] == 1
    gaps = np.diff(sample['data_samples']['clip_indices'])
    assert ((gaps >= 1) & (gaps <= 5)).all()


def test_davis_sample_end_to_end_evaluation():
    """The tiny STM (random weights) over the first 4 frames of blackswan
    (at 480p; frames 1 and 2 are scored), through model.predict and
    DAVISMetric."""
    from vosbench.evaluation import DAVISMetric

    root = _require_sample()
    ds = DAVISDataset(root, split='val', sequences=['blackswan'],
                      test_mode=True,
                      pipeline=[dict(type='PackVideoInputs')])
    sample = dict(ds[0]['data_samples'])
    for key in ('frame_names', 'frame_paths', 'gt_mask_paths',
                'given_mask_paths'):
        sample[key] = sample[key][:4]
    # the model streams sample['frames']: only those 4 frames
    sample['frames'] = ImageFrames(sample['frame_paths'])
    torch.manual_seed(0)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/models/stm_r18-tiny.py'))
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        results = model.predict(None, [sample])
    assert len(results) == 1
    pred = results[0]['pred_labels']
    assert pred.shape == (4, 480, 854) and pred.dtype == np.uint8
    np.testing.assert_array_equal(pred[0],
                                  read_mask(sample['first_mask_path']))
    assert set(np.unique(pred)) <= {0, 1}

    metric = DAVISMetric()
    metric.process(None, results)
    scores = metric.compute_metrics(metric.results)
    assert set(scores) == {'J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay',
                           'F-Mean', 'F-Recall', 'F-Decay'}
    for key, value in scores.items():
        assert math.isfinite(value), key
        if key.endswith(('Mean', 'Recall')):
            assert 0.0 <= value <= 1.0, key
    assert scores['J&F-Mean'] == pytest.approx(
        (scores['J-Mean'] + scores['F-Mean']) / 2)
