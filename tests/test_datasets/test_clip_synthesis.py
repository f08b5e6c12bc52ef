"""Tests of the clip-synthesis transforms (static image -> 3-frame clip).

The fixture is a VOC-layout set of PNG images (lossless, so colours are
exact) whose objects are flat red, green or blue on a gray background: after
any warp, every pixel well inside a label's region must still show the
colour family of the object that label names.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

import vosbench.datasets  # noqa: F401  (registers the modules)
from vosbench.datasets import VOCInstanceDataset
from vosbench.datasets.transforms import (ClipColorJitter, ClipRandomCrop,
                                          ClipSharedAffine, FrameRandomAffine,
                                          FrameThinPlateSpline, PasteObjects,
                                          ResampleSmallObjects, StaticToClip)
from vosbench.datasets.transforms.clip_synthesis import (
    fit_thin_plate_spline, thin_plate_spline_maps, warp_thin_plate_spline)
from vosbench.utils.mask_io import write_mask

H, W = 80, 100
CROP = (64, 64)
GRAY = (128, 128, 128)
COLOURS = {'red': (220, 30, 30), 'green': (30, 200, 30),
           'blue': (30, 30, 220)}
FAMILY_INDEX = {'red': 0, 'green': 1, 'blue': 2}
# per image: (label box (y0, y1, x0, x1), colour name); label = position + 1
SCENES = [
    [((10, 50, 10, 45), 'red'), ((45, 75, 55, 95), 'blue')],
    [((20, 60, 30, 80), 'green')],
    [((5, 40, 50, 95), 'blue'), ((50, 78, 5, 40), 'red')],
    [((30, 70, 20, 60), 'red'), ((5, 25, 70, 95), 'green')],
]


def render(scene, height=H, width=W):
    image = np.empty((height, width, 3), np.uint8)
    image[:] = GRAY
    labels = np.zeros((height, width), np.uint8)
    for label, ((y0, y1, x0, x1), colour) in enumerate(scene, start=1):
        image[y0:y1, x0:x1] = COLOURS[colour]
        labels[y0:y1, x0:x1] = label
    return image, labels


def make_voc(root, scenes, name='img'):
    names = []
    for i, scene in enumerate(scenes):
        image, labels = render(scene)
        stem = f'{name}{i}'
        os.makedirs(osp.join(root, 'JPEGImages'), exist_ok=True)
        assert cv2.imwrite(osp.join(root, 'JPEGImages', stem + '.png'),
                           cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        write_mask(osp.join(root, 'SegmentationObject', stem + '.png'),
                   labels)
        names.append(stem)
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'), exist_ok=True)
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    return root


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    return make_voc(str(tmp_path_factory.mktemp('clipsynth')), SCENES)


def synthesis(paste=True, tps_prob=1.0):
    pipeline = [
        dict(type='StaticToClip', num_frames=3),
        dict(type='ClipSharedAffine', scale_range=(0.8, 1.5), flip_prob=0.5),
        dict(type='FrameRandomAffine', rotation=20, scale=(0.9, 1.1),
             shear=10),
    ]
    if paste:
        pipeline.append(dict(type='PasteObjects', max_objects=3, prob=1.0,
                             min_donor_pixels=50))
    pipeline += [
        dict(type='FrameThinPlateSpline', prob=tps_prob),
        dict(type='ClipRandomCrop', crop_size=CROP),
        dict(type='ClipColorJitter'),
    ]
    return pipeline


def full_pipeline():
    return synthesis() + [
        dict(type='ResampleSmallObjects', min_pixels=40),
        dict(type='SelectObjects', max_objects=3, min_pixels=40),
        dict(type='PackClipInputs'),
    ]


def dataset(root, pipeline, **kwargs):
    return VOCInstanceDataset(data_root=root, img_suffix='.png',
                              pipeline=pipeline, **kwargs)


def families(pixels):
    """Colour family of each ``(N, 3)`` pixel: 'gray' (low saturation, also
    black borders) or the dominant channel's colour name."""
    pixels = pixels.astype(int)
    spread = pixels.max(1) - pixels.min(1)
    names = np.array(['red', 'green', 'blue'])[pixels.argmax(1)]
    return np.where(spread < 50, 'gray', names)


def interior(region):
    """The region eroded by 2 pixels (away from interpolated edges)."""
    return cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8),
                     borderType=cv2.BORDER_CONSTANT,
                     borderValue=0).astype(bool)


def region_family(frame, region):
    """The one colour family inside ``region``, None if it is too small to
    tell; fails when the region mixes families (labels off their pixels)."""
    inner = interior(region)
    if inner.sum() < 4:
        return None
    found = set(families(frame[inner]).tolist())
    assert len(found) == 1, found
    return found.pop()


# ---------------------------------------------------------------------------
# the whole synthesis
# ---------------------------------------------------------------------------
def test_masks_stay_aligned_and_ids_preserved(voc_root):
    ds = dataset(voc_root, synthesis())
    np.random.seed(0)
    pasted_seen = 0
    for trial in range(12):
        idx = trial % len(ds)
        results = ds.prepare_data(idx)
        frames, masks = results['frames'], results['masks']
        assert len(frames) == len(masks) == 3
        for frame, mask in zip(frames, masks):
            assert frame.shape == CROP + (3,) and frame.dtype == np.uint8
            assert mask.shape == CROP and mask.dtype == np.uint8
        source = SCENES[idx]
        ids = set()
        for mask in masks:
            ids |= set(np.unique(mask).tolist())
        ids -= {0}
        # source ids keep their numbers; pasted ones follow them
        pasted = sorted(i for i in ids if i > len(source))
        assert pasted == list(range(len(source) + 1,
                                    len(source) + 1 + len(pasted)))
        assert len(ids) <= 3  # PasteObjects fills up to max_objects
        pasted_seen += len(pasted)
        for label in sorted(ids):
            found = {region_family(f, m == label)
                     for f, m in zip(frames, masks)} - {None}
            assert len(found) <= 1, (trial, label, found)
            if label <= len(source) and found:
                assert found == {source[label - 1][1]}, (trial, label)
            if label > len(source) and found:
                assert found != {'gray'}
        for frame, mask in zip(frames, masks):
            assert region_family(frame, mask == 0) in ('gray', None)
    assert pasted_seen > 0


def _ids(mask):
    return [int(i) for i in np.unique(mask) if i not in (0, 255)]


def test_packed_clip_for_the_model(voc_root):
    ds = dataset(voc_root, full_pipeline())
    np.random.seed(1)
    checked = 0
    for i in range(len(ds)):
        sample = ds[i]
        inputs = sample['inputs']
        masks = sample['data_samples']['masks']
        k = sample['data_samples']['num_objects']
        assert inputs.shape == (3, 3) + CROP and inputs.dtype == torch.uint8
        assert masks.shape == (3,) + CROP and masks.dtype == torch.int64
        assert 1 <= k <= 3
        # after SelectObjects: labels 1..K, each visible in frame 0
        assert set(masks[0].unique().tolist()) - {0, 255} == \
            set(range(1, k + 1))
        assert set(masks.unique().tolist()) <= {0, 255, *range(1, k + 1)}
        frames = inputs.permute(0, 2, 3, 1).numpy()
        for label in range(1, k + 1):
            found = {region_family(f, m == label)
                     for f, m in zip(frames, masks.numpy())} - {None}
            assert len(found) <= 1 and 'gray' not in found
            checked += len(found)
    assert checked >= len(ds)


def test_deterministic_under_seed(voc_root):
    ds = dataset(voc_root, full_pipeline())
    outputs = []
    for seed in (5, 5, 6):
        np.random.seed(seed)
        outputs.append([ds[i] for i in (0, 2)])
    for a, b in zip(outputs[0], outputs[1]):
        assert torch.equal(a['inputs'], b['inputs'])
        assert torch.equal(a['data_samples']['masks'],
                           b['data_samples']['masks'])
    assert any(not torch.equal(a['inputs'], c['inputs'])
               for a, c in zip(outputs[0], outputs[2]))


def test_small_objects_are_resampled(tmp_path, voc_root):
    tiny = make_voc(str(tmp_path), [[((10, 14, 10, 14), 'red')]] * 2)
    ds = dataset(tiny, synthesis(paste=False) + [
        dict(type='ResampleSmallObjects', min_pixels=100)], max_refetch=2)
    np.random.seed(0)
    assert ds.prepare_data(0) is None
    with pytest.raises(Exception, match='Cannot find valid'):
        ds[0]

    # a failing pipeline is retried on the same image augment_attempts times
    calls = []

    def reject(results):
        calls.append(results['img_path'])
        return None

    ds = dataset(voc_root, [reject], augment_attempts=4)
    assert ds.prepare_data(1) is None
    assert len(calls) == 4 and len(set(calls)) == 1

    check = ResampleSmallObjects(min_pixels=100, min_later_pixels=1)
    masks = [np.zeros((20, 20), np.uint8) for _ in range(3)]
    masks[0][:10, :10] = 1          # 100 px in frame 0
    masks[1][:10, :10] = 1
    assert check(dict(masks=[m.copy() for m in masks])) is None  # gone at t=2
    masks[2][:1, :1] = 1
    assert check(dict(masks=masks)) is not None
    assert ResampleSmallObjects(min_pixels=101)(dict(masks=masks)) is None
    assert ResampleSmallObjects(min_pixels=50, min_objects=2)(
        dict(masks=masks)) is None


# ---------------------------------------------------------------------------
# thin-plate splines
# ---------------------------------------------------------------------------
def grid_points(height, width, n=3):
    gx, gy = np.meshgrid(np.linspace(0, width - 1, n),
                         np.linspace(0, height - 1, n))
    return np.stack([gx.ravel(), gy.ravel()], 1)


def test_tps_identity_without_displacement():
    height, width = 65, 97
    points = grid_points(height, width)
    map_x, map_y = thin_plate_spline_maps((height, width), points, points)
    yy, xx = np.mgrid[0:height, 0:width]
    np.testing.assert_array_equal(map_x, xx.astype(np.float32))
    np.testing.assert_array_equal(map_y, yy.astype(np.float32))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = rng.integers(0, 4, (height, width), dtype=np.uint8)
    out_frame, out_mask = warp_thin_plate_spline(frame, mask, points, points)
    np.testing.assert_array_equal(out_frame, frame)
    np.testing.assert_array_equal(out_mask, mask)
    still = FrameThinPlateSpline(prob=1.0, max_displacement=0.0)(
        dict(frames=[frame], masks=[mask]))
    np.testing.assert_array_equal(still['frames'][0], frame)
    np.testing.assert_array_equal(still['masks'][0], mask)


def test_tps_interpolates_and_moves_content():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 50, (7, 2))
    dst = src + rng.uniform(-4, 4, (7, 2))
    weights, affine = fit_thin_plate_spline(src, dst)
    sq = ((src[:, None] - src[None]) ** 2).sum(-1)
    kernel = 0.5 * sq * np.log(np.where(sq > 0, sq, 1))
    fitted = np.c_[np.ones(7), src] @ affine + kernel @ weights
    np.testing.assert_allclose(fitted, dst, atol=1e-8)

    # control points on the evaluation grid (multiples of 8): exact there
    height, width = 65, 97
    out_points = grid_points(height, width)
    src_points = out_points + rng.uniform(-4, 4, out_points.shape)
    map_x, map_y = thin_plate_spline_maps((height, width), out_points,
                                          src_points)
    for (x, y), (sx, sy) in zip(out_points.astype(int), src_points):
        assert abs(map_x[y, x] - sx) < 1e-3 and abs(map_y[y, x] - sy) < 1e-3

    # content at the source point of the centre moves to the centre
    src_points = out_points.copy()
    src_points[4] += (6, 4)                      # centre (48, 32) <- (54, 36)
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (54, 36), 3, 1, -1)
    frame = np.repeat(mask[..., None] * 200, 3, axis=2).astype(np.uint8)
    out_frame, out_mask = warp_thin_plate_spline(frame, mask, out_points,
                                                 src_points)
    ys, xs = np.nonzero(out_mask)
    assert abs(xs.mean() - 48) < 1 and abs(ys.mean() - 32) < 1
    assert out_frame[out_mask == 1].mean() > 150


# ---------------------------------------------------------------------------
# single transforms
# ---------------------------------------------------------------------------
def clip_of(scene_index=0, num_frames=3):
    image, labels = render(SCENES[scene_index])
    return StaticToClip(num_frames)(dict(image=image, mask=labels))


def test_static_to_clip_and_shared_affine():
    clip = clip_of(0)
    assert 'image' not in clip and clip['clip_indices'] == [0, 1, 2]
    image, labels = render(SCENES[0])
    assert all((f == image).all() for f in clip['frames'])
    flipped = ClipSharedAffine(scale_range=(1, 1), flip_prob=1.0)(clip)
    for frame, mask in zip(flipped['frames'], flipped['masks']):
        np.testing.assert_array_equal(frame, image[:, ::-1])
        np.testing.assert_array_equal(mask, labels[:, ::-1])
    np.random.seed(0)
    scaled = ClipSharedAffine(scale_range=(1.5, 1.5), flip_prob=0.0,
                              short_side=40)(clip_of(0))
    assert all(m.shape == (60, 75) for m in scaled['masks'])
    assert all(f.shape == (60, 75, 3) for f in scaled['frames'])


def test_color_jitter_shared_and_per_frame():
    clip = clip_of(2)
    masks = [m.copy() for m in clip['masks']]
    none = ClipColorJitter(0, 0, 0, 0, 0, 0, 0, 0)(
        dict(frames=[f.copy() for f in clip['frames']], masks=masks))
    for frame, original in zip(none['frames'], clip['frames']):
        np.testing.assert_array_equal(frame, original)
    np.random.seed(0)
    shared = ClipColorJitter(0.3, 0.3, 0.3, 0.05, 0, 0, 0, 0)(
        dict(frames=[f.copy() for f in clip['frames']], masks=masks))
    assert not np.array_equal(shared['frames'][0], clip['frames'][0])
    assert all(np.array_equal(f, shared['frames'][0])
               for f in shared['frames'])
    per_frame = ClipColorJitter()(dict(frames=list(clip['frames']),
                                       masks=masks))
    assert not np.array_equal(per_frame['frames'][0], per_frame['frames'][1])
    for mask, original in zip(per_frame['masks'], clip['masks']):
        np.testing.assert_array_equal(mask, original)


def test_frame_affine_is_per_frame_and_identity_without_range():
    clip = clip_of(1)
    same = FrameRandomAffine(rotation=0, scale=(1, 1), shear=0)(
        dict(frames=list(clip['frames']), masks=list(clip['masks'])))
    for frame, mask in zip(same['frames'], same['masks']):
        np.testing.assert_array_equal(frame, clip['frames'][0])
        np.testing.assert_array_equal(mask, clip['masks'][0])
    np.random.seed(0)
    moved = FrameRandomAffine()(dict(frames=list(clip['frames']),
                                     masks=list(clip['masks'])))
    assert not np.array_equal(moved['masks'][0], moved['masks'][1])
    assert not np.array_equal(moved['masks'][1], moved['masks'][2])


def test_random_crop_pads_and_keeps_an_object():
    np.random.seed(0)
    crop = ClipRandomCrop((40, 40))
    for _ in range(20):
        out = crop(clip_of(1))
        assert out['masks'][0].shape == (40, 40)
        assert (out['masks'][0] == 1).any()
    big = ClipRandomCrop((90, 120))(clip_of(1))
    assert big['frames'][0].shape == (90, 120, 3)
    assert (big['masks'][0][H:] == 0).all()
    assert (big['frames'][0][:, W:] == 0).all()


def test_paste_objects(voc_root):
    ds = dataset(voc_root, [])
    with pytest.raises(KeyError, match='sample_loader'):
        PasteObjects(prob=1.0)(clip_of(1))
    # three objects already: nothing to paste
    full = clip_of(0)
    for mask in full['masks']:
        mask[:5, :5] = 3
    out = PasteObjects(max_objects=3, prob=1.0)(
        dict(full, sample_loader=ds.load_sample, num_samples=len(ds)))
    assert all(set(_ids(m)) == {1, 2, 3} for m in out['masks'])

    np.random.seed(3)
    counts = []
    for _ in range(10):
        clip = clip_of(1)
        clip.update(sample_loader=ds.load_sample, num_samples=len(ds),
                    sample_idx=1)
        out = PasteObjects(max_objects=3, prob=1.0, min_donor_pixels=50,
                           size_range=(0.3, 0.5))(clip)
        ids = set()
        for frame, mask in zip(out['frames'], out['masks']):
            ids |= set(_ids(mask))
            for label in _ids(mask):
                assert region_family(frame, mask == label) != 'gray'
        new = sorted(ids - {1})
        assert 1 <= len(new) <= 2 and new == list(range(2, 2 + len(new)))
        counts.append(len(new))
        # each pasted object moves on its own from frame to frame
        for label in new:
            assert not all(np.array_equal(out['masks'][0] == label,
                                          m == label)
                           for m in out['masks'][1:])
    assert set(counts) == {1, 2}
