"""Tests of the still-image datasets (COCO, VOC/SBD, saliency, YouTube-VOS
frames) and of RatioConcatDataset, on fixtures in each dataset's own file
format written to tmp_path, and on the real COCO sample in
/work/shared/data/coco_sample."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset

import vosbench.datasets  # noqa: F401  (registers the modules)
from vosbench.datasets import (COCOInstanceDataset, DatasetLayoutError,
                               RatioConcatDataset, SaliencyDataset,
                               VOCInstanceDataset, YouTubeVOSFramesDataset)
from vosbench.registry import DATASETS
from vosbench.utils.image_io import FrameReadError
from vosbench.utils.mask_io import read_mask, write_mask

COCO_SAMPLE = os.environ.get('VOSBENCH_COCO_SAMPLE',
                             '/work/shared/data/coco_sample')
H, W = 48, 64


def write_image(path, rgb):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def gray_image(height=H, width=W, value=128):
    return np.full((height, width, 3), value, np.uint8)


def clip_pipeline(crop=(32, 32)):
    return [
        dict(type='StaticToClip', num_frames=3),
        dict(type='ClipSharedAffine', scale_range=(0.9, 1.1)),
        dict(type='FrameRandomAffine'),
        dict(type='ClipRandomCrop', crop_size=crop),
        dict(type='SelectObjects', max_objects=3, min_pixels=1),
        dict(type='PackClipInputs'),
    ]


# ---------------------------------------------------------------------------
# COCO
# ---------------------------------------------------------------------------
def uncompressed_rle(binary):
    """COCO's uncompressed RLE: run lengths of the column-major pixels,
    starting with a run of zeros."""
    flat = binary.flatten(order='F').astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return dict(size=[int(binary.shape[0]), int(binary.shape[1])],
                counts=counts)


def compressed_rle(binary):
    rle = mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def rect_polygon(x0, y0, x1, y1):
    """Polygon of the pixels ``[x0, x1) x [y0, y1)``."""
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    """Three images: 1 has a large polygon, a smaller polygon on top of it,
    a compressed-RLE instance and an uncompressed-RLE crowd; 2 only a crowd
    (left out); 3 one tiny instance (left out with min_area)."""
    root = str(tmp_path_factory.mktemp('coco'))
    for name in ('a', 'b', 'c'):
        write_image(osp.join(root, 'images', f'{name}.jpg'), gray_image())
    rle_mask = np.zeros((H, W), np.uint8)
    rle_mask[30:44, 40:60] = 1                            # 280 px
    crowd = np.zeros((H, W), np.uint8)
    crowd[0:10, 30:64] = 1                                # overlaps nothing
    crowd[20:28, 0:4] = 1                                 # under polygon 1
    anns = [
        dict(id=1, image_id=1, category_id=1, iscrowd=0, area=600.0,
             segmentation=rect_polygon(0, 12, 30, 32), bbox=[0, 12, 30, 20]),
        dict(id=2, image_id=1, category_id=2, iscrowd=0, area=100.0,
             segmentation=rect_polygon(10, 16, 20, 26), bbox=[10, 16, 10, 10]),
        dict(id=3, image_id=1, category_id=1, iscrowd=0, area=280.0,
             segmentation=compressed_rle(rle_mask), bbox=[40, 30, 20, 14]),
        dict(id=4, image_id=1, category_id=1, iscrowd=1,
             area=float(crowd.sum()), segmentation=uncompressed_rle(crowd),
             bbox=[0, 0, 64, 28]),
        dict(id=5, image_id=2, category_id=1, iscrowd=1,
             area=float(crowd.sum()), segmentation=uncompressed_rle(crowd),
             bbox=[0, 0, 64, 28]),
        dict(id=6, image_id=3, category_id=1, iscrowd=0, area=16.0,
             segmentation=rect_polygon(5, 5, 9, 9), bbox=[5, 5, 4, 4]),
    ]
    coco = dict(
        images=[dict(id=i, file_name=f'{n}.jpg', height=H, width=W)
                for i, n in ((1, 'a'), (2, 'b'), (3, 'c'))],
        annotations=anns,
        categories=[dict(id=1, name='thing'), dict(id=2, name='other')])
    os.makedirs(osp.join(root, 'annotations'))
    with open(osp.join(root, 'annotations', 'train.json'), 'w') as f:
        json.dump(coco, f)
    return root


def coco_dataset(root, **kwargs):
    return COCOInstanceDataset(data_root=root,
                               ann_file='annotations/train.json',
                               data_prefix=dict(img_path='images'), **kwargs)


def test_coco_label_map_polygons_rle_and_crowd(coco_root):
    ds = coco_dataset(coco_root)
    # image 2 (only a crowd) is left out
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == [1, 3]
    sample = ds.load_sample(0)
    assert sample['image'].shape == (H, W, 3)
    assert sample['source'] == 'COCO'
    assert sample['img_path'] == osp.join(coco_root, 'images', 'a.jpg')
    mask = sample['mask']
    expected = np.zeros((H, W), np.uint8)
    expected[0:10, 30:64] = 255          # crowd -> ignore
    expected[20:28, 0:4] = 255
    expected[12:32, 0:30] = 1            # largest instance first ...
    expected[30:44, 40:60] = 2           # ... then the RLE one ...
    expected[16:26, 10:20] = 3           # ... and the smallest on top
    np.testing.assert_array_equal(mask, expected)


def test_coco_min_area_categories_and_errors(coco_root, tmp_path):
    assert len(coco_dataset(coco_root, min_area=50)) == 1
    only_other = coco_dataset(coco_root, category_ids=[2])
    assert len(only_other) == 1
    assert set(np.unique(only_other.load_sample(0)['mask'])) == {0, 1, 255}

    with pytest.raises(DatasetLayoutError, match='missing.json'):
        COCOInstanceDataset(data_root=coco_root, ann_file='missing.json')
    # an image listed in the annotations but absent on disk
    ds = COCOInstanceDataset(data_root=coco_root,
                             ann_file='annotations/train.json',
                             data_prefix=dict(img_path='nowhere'))
    with pytest.raises(FrameReadError, match='nowhere'):
        ds.load_sample(0)


def test_coco_full_pipeline(coco_root):
    ds = coco_dataset(coco_root, pipeline=clip_pipeline())
    np.random.seed(0)
    sample = ds[0]
    assert sample['inputs'].shape == (3, 3, 32, 32)
    assert sample['inputs'].dtype == torch.uint8
    k = sample['data_samples']['num_objects']
    assert 1 <= k <= 3
    assert set(sample['data_samples']['masks'].unique().tolist()) <= \
        {0, 255, *range(1, k + 1)}


def _require_coco_sample():
    if not osp.isfile(osp.join(COCO_SAMPLE, 'annotations.json')):
        pytest.skip(f'real COCO sample not found at {COCO_SAMPLE} (set '
                    'VOSBENCH_COCO_SAMPLE; it ships in ../shared/data)')
    return COCO_SAMPLE


def test_real_coco_sample():
    from pycocotools.coco import COCO
    root = _require_coco_sample()
    ds = COCOInstanceDataset(data_root=root, ann_file='annotations.json',
                             data_prefix=dict(img_path=''),
                             pipeline=clip_pipeline(crop=(96, 96)))
    assert len(ds) == 3
    coco = COCO(osp.join(root, 'annotations.json'))
    total = 0
    for i in range(len(ds)):
        sample = ds.load_sample(i)
        info = ds.get_data_info(i)
        image, mask = sample['image'], sample['mask']
        assert image.dtype == np.uint8 and image.shape[2] == 3
        assert mask.shape == image.shape[:2] == (info['height'],
                                                 info['width'])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=info['img_id']))
        total += len(anns)
        # non-crowd polygons only: labels 1..N, one per instance (by
        # decreasing area), each inside its annotation's own mask
        by_area = sorted(anns, key=lambda a: -a['area'])
        labels = [int(v) for v in np.unique(mask) if v != 0]
        assert labels == list(range(1, len(anns) + 1))
        for label, ann in enumerate(by_area, start=1):
            region = mask == label
            assert region.any()
            assert not (region & (coco.annToMask(ann) == 0)).any()
        # the smallest instance is not hidden by larger ones
        smallest = coco.annToMask(by_area[-1]).astype(bool)
        assert (mask[smallest] == len(anns)).all()
    assert total == 12
    np.random.seed(0)
    sample = ds[2]
    assert sample['inputs'].shape == (3, 3, 96, 96)
    assert sample['data_samples']['num_objects'] >= 1


# ---------------------------------------------------------------------------
# VOC / SBD
# ---------------------------------------------------------------------------
def voc_labels():
    labels = np.zeros((H, W), np.uint8)
    labels[5:25, 5:30] = 1
    labels[28:45, 35:60] = 2
    # VOC draws a 255 border around each object
    for obj in (1, 2):
        region = (labels == obj).astype(np.uint8)
        border = cv2.dilate(region, np.ones((3, 3), np.uint8)) - region
        labels[border > 0] = 255
    return labels


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('voc'))
    for name in ('2007_000032', '2007_000039'):
        write_image(osp.join(root, 'JPEGImages', f'{name}.jpg'), gray_image())
        write_mask(osp.join(root, 'SegmentationObject', f'{name}.png'),
                   voc_labels())
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'))
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.write('2007_000032\n2007_000039\n')
    with open(osp.join(root, 'ImageSets/Segmentation/bad.txt'), 'w') as f:
        f.write('2007_000032\n2007_999999\n')
    return root


def test_voc_instances_with_void_borders(voc_root):
    ds = VOCInstanceDataset(data_root=voc_root, pipeline=clip_pipeline())
    assert len(ds) == 2
    sample = ds.load_sample(1)
    assert sample['seq_name'] == '2007_000039'
    assert sample['source'] == 'VOC'
    np.testing.assert_array_equal(sample['mask'], voc_labels())
    assert (sample['mask'] == 255).any()
    np.random.seed(0)
    assert ds[0]['inputs'].shape == (3, 3, 32, 32)


def test_voc_missing_files_are_named(voc_root):
    with pytest.raises(DatasetLayoutError, match='2007_999999.jpg'):
        VOCInstanceDataset(data_root=voc_root,
                           ann_file='ImageSets/Segmentation/bad.txt')
    with pytest.raises(DatasetLayoutError, match='val.txt'):
        VOCInstanceDataset(data_root=voc_root,
                           ann_file='ImageSets/Segmentation/val.txt')
    with pytest.raises(ValueError, match='seg_suffix'):
        VOCInstanceDataset(data_root=voc_root, seg_suffix='.bmp')


def test_sbd_png_and_mat_forms(tmp_path):
    root = str(tmp_path)
    write_image(osp.join(root, 'img', '2008_000002.jpg'), gray_image())
    labels = voc_labels()
    labels[labels == 255] = 0  # SBD has no void borders
    write_mask(osp.join(root, 'inst', '2008_000002.png'), labels)
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('2008_000002\n')
    prefix = dict(img_path='img', seg_path='inst')
    ds = VOCInstanceDataset(data_root=root, ann_file='train.txt',
                            data_prefix=prefix)
    np.testing.assert_array_equal(ds.load_sample(0)['mask'], labels)
    try:
        from scipy.io import savemat
    except ImportError:
        savemat = None
    mat = osp.join(root, 'inst', '2008_000002.mat')
    if savemat is not None:
        savemat(mat, dict(GTinst=dict(Segmentation=labels,
                                      Categories=np.array([[1], [15]]))))
    else:
        open(mat, 'wb').close()
    ds = VOCInstanceDataset(data_root=root, ann_file='train.txt',
                            data_prefix=prefix, seg_suffix='.mat')
    if savemat is not None:
        np.testing.assert_array_equal(ds.load_sample(0)['mask'], labels)
    else:  # scipy is optional: a clear message naming the file
        with pytest.raises(ImportError, match='2008_000002.mat.*scipy'):
            ds.load_sample(0)


# ---------------------------------------------------------------------------
# saliency
# ---------------------------------------------------------------------------
def saliency_mask(seed):
    """0/255 mask with JPEG-like noise (values near 0 and 255)."""
    rng = np.random.default_rng(seed)
    fg = np.zeros((H, W), bool)
    fg[10:40, 15 + seed:50] = True
    values = np.where(fg, rng.integers(200, 256, (H, W)),
                      rng.integers(0, 60, (H, W)))
    return values.astype(np.uint8), fg


def test_saliency_ecssd_and_msra_layouts(tmp_path):
    ecssd = str(tmp_path / 'ECSSD')
    msra = str(tmp_path / 'MSRA10K')
    expected = {}
    for i, stem in enumerate(('0001', '0002', '0003')):
        values, fg = saliency_mask(i)
        expected[stem] = fg
        write_image(osp.join(ecssd, 'images', f'{stem}.jpg'), gray_image())
        os.makedirs(osp.join(ecssd, 'ground_truth_mask'), exist_ok=True)
        cv2.imwrite(osp.join(ecssd, 'ground_truth_mask', f'{stem}.png'),
                    values)
        folder = osp.join(msra, 'MSRA10K_Imgs_GT', 'Imgs')
        write_image(osp.join(folder, f'{stem}.jpg'), gray_image())
        # MSRA10K masks are 0/255 RGB-looking PNGs next to the images
        cv2.imwrite(osp.join(folder, f'{stem}.png'),
                    np.repeat(values[..., None], 3, axis=2))
    layouts = [
        (ecssd, dict(img_path='images', seg_path='ground_truth_mask')),
        (msra, dict(img_path='MSRA10K_Imgs_GT/Imgs',
                    seg_path='MSRA10K_Imgs_GT/Imgs')),
    ]
    for root, prefix in layouts:
        ds = DATASETS.build(dict(type='SaliencyDataset', data_root=root,
                                 data_prefix=prefix,
                                 pipeline=clip_pipeline()))
        assert len(ds) == 3
        for i, stem in enumerate(('0001', '0002', '0003')):
            sample = ds.load_sample(i)
            assert sample['seq_name'] == stem
            assert sample['mask'].dtype == np.uint8
            np.testing.assert_array_equal(sample['mask'],
                                          expected[stem].astype(np.uint8))
        np.random.seed(0)
        out = ds[1]
        assert out['data_samples']['num_objects'] == 1
    # an image without its mask is named
    write_image(osp.join(ecssd, 'images', '0004.jpg'), gray_image())
    with pytest.raises(DatasetLayoutError, match='0004.png'):
        SaliencyDataset(data_root=ecssd, data_prefix=layouts[0][1])
    with pytest.raises(DatasetLayoutError, match='image folder not found'):
        SaliencyDataset(data_root=str(tmp_path / 'nothing'))


# ---------------------------------------------------------------------------
# YouTube-VOS frames
# ---------------------------------------------------------------------------
def test_youtube_vos_frames(ytvos_root):
    ds = YouTubeVOSFramesDataset(data_root=ytvos_root,
                                 pipeline=clip_pipeline(crop=(24, 24)))
    # train_a and train_b: frames 0, 5, 10, 15 are annotated
    names = [ds.get_data_info(i)['seq_name'] for i in range(len(ds))]
    assert names == [f'{v}/{t:05d}' for v in ('train_a', 'train_b')
                     for t in (0, 5, 10, 15)]
    for i in range(len(ds)):
        sample = ds.load_sample(i)
        info = ds.get_data_info(i)
        np.testing.assert_array_equal(sample['mask'],
                                      read_mask(info['seg_path']))
        assert sample['image'].shape[:2] == sample['mask'].shape
    # object ids stay those of the file (train_b frame 5 has 1 and 2)
    assert set(np.unique(ds.load_sample(5)['mask'])) == {0, 1, 2}
    assert set(np.unique(ds.load_sample(4)['mask'])) == {0, 1}
    np.random.seed(0)
    assert ds[0]['inputs'].shape == (3, 3, 24, 24)

    step = YouTubeVOSFramesDataset(data_root=ytvos_root, frame_step=2,
                                   videos=['train_b'])
    assert [step.get_data_info(i)['seq_name'] for i in range(len(step))] \
        == ['train_b/00000', 'train_b/00010']


def test_youtube_vos_frames_missing_frame(tmp_path):
    root = str(tmp_path)
    write_mask(osp.join(root, 'train/Annotations/v1/00000.png'),
               np.ones((8, 8), np.uint8))
    with pytest.raises(DatasetLayoutError,
                       match=osp.join('JPEGImages', 'v1', '00000.jpg')):
        YouTubeVOSFramesDataset(data_root=root)


# ---------------------------------------------------------------------------
# RatioConcatDataset
# ---------------------------------------------------------------------------
class Items(Dataset):
    def __init__(self, name, size):
        self.name, self.size = name, size

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        assert 0 <= idx < self.size
        return (self.name, idx)


def test_ratio_concat_proportions_coverage_and_determinism():
    sources = [Items('a', 7), Items('b', 50), Items('c', 3)]
    ds = RatioConcatDataset(sources, ratios=[2, 1, 1], length=1000, seed=3)
    assert len(ds) == 1000
    picks = [ds[i] for i in range(len(ds))]
    counts = {n: sum(p[0] == n for p in picks) for n in 'abc'}
    assert counts == dict(a=500, b=250, c=250)
    # small sources are walked through completely and evenly
    for name, size in (('a', 7), ('c', 3)):
        seen = np.bincount([p[1] for p in picks if p[0] == name],
                           minlength=size)
        assert seen.min() >= counts[name] // size - 1
    # the sources are interleaved, not in blocks
    assert {p[0] for p in picks[:50]} == {'a', 'b', 'c'}
    # same arguments, same mapping (every worker and rank agrees)
    again = RatioConcatDataset(sources, ratios=[2, 1, 1], length=1000,
                               seed=3)
    assert [again[i] for i in range(1000)] == picks
    other = RatioConcatDataset(sources, ratios=[2, 1, 1], length=1000,
                               seed=4)
    assert [other[i] for i in range(1000)] != picks
    # uneven shares still sum to the length
    odd = RatioConcatDataset(sources, ratios=[1, 1, 1], length=10)
    assert sorted(np.bincount(odd.sources).tolist()) == [3, 3, 4]
    # default length: every item of every source shown at least once
    full = RatioConcatDataset(sources, ratios=[0.5, 0.25, 0.25])
    assert len(full) == 200
    assert len({full[i] for i in range(len(full)) if full[i][0] == 'b'}) == 50
    # ratio 0 excludes a source; default ratios are the sizes
    no_c = RatioConcatDataset(sources, ratios=[1, 1, 0], length=20)
    assert all(no_c[i][0] != 'c' for i in range(20))
    plain = RatioConcatDataset(sources)
    assert len(plain) == 60
    assert sorted(plain[i] for i in range(60)) == sorted(
        [(s.name, j) for s in sources for j in range(s.size)])
    with pytest.raises(ValueError, match='ratios'):
        RatioConcatDataset(sources, ratios=[1, 1])
    with pytest.raises(IndexError):
        ds[1000]


def test_ratio_concat_of_static_datasets_from_config(voc_root, coco_root):
    cfg = dict(
        type='RatioConcatDataset', ratios=[0.75, 0.25], length=8, seed=0,
        datasets=[
            dict(type='VOCInstanceDataset', data_root=voc_root,
                 pipeline=clip_pipeline()),
            dict(type='COCOInstanceDataset', data_root=coco_root,
                 ann_file='annotations/train.json',
                 data_prefix=dict(img_path='images'),
                 pipeline=clip_pipeline()),
        ])
    ds = DATASETS.build(cfg)
    assert isinstance(ds, RatioConcatDataset)
    assert np.bincount(ds.sources).tolist() == [6, 2]
    assert ds.metainfo['sources'] == ['VOC', 'COCO']
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('.jpg')
    np.random.seed(0)
    for i in range(len(ds)):
        sample = ds[i]
        assert sample['inputs'].shape == (3, 3, 32, 32)
