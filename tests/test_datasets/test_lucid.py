"""Lucid-data-dreaming clips: aligned masks, ids, shapes, determinism."""
import cv2
import numpy as np
import pytest

from vosbench.datasets.transforms.lucid import (LucidDreamClip,
                                                blend_object,
                                                change_illumination,
                                                inpaint_background,
                                                lucid_dream_clip,
                                                lucid_dream_pair)
from vosbench.registry import TRANSFORMS

H, W = 80, 112
RED, BLUE = (220, 30, 30), (30, 40, 220)


def scene(seed=0):
    """Grey noisy background, a red square (id 1) and a blue disc (id 3)."""
    rng = np.random.default_rng(seed)
    image = (rng.random((H, W, 3)) * 30 + 100).astype(np.uint8)
    labels = np.zeros((H, W), np.uint8)
    image[15:40, 15:45] = RED
    labels[15:40, 15:45] = 1
    cv2.circle(image, (80, 52), 14, BLUE, -1)
    cv2.circle(labels, (80, 52), 14, 3, -1)
    return image, labels


def test_inpaint_removes_objects():
    image, labels = scene()
    background = inpaint_background(image, labels)
    assert background.shape == image.shape
    inside = background[labels > 0].astype(int)
    # no red or blue left: channels stay close to each other (grey)
    assert np.abs(inside.max(1) - inside.min(1)).mean() < 30


def test_clip_shapes_ids_and_alignment():
    image, labels = scene()
    frames, masks = lucid_dream_clip(image, labels, num_frames=3, seed=3)
    assert len(frames) == len(masks) == 3
    for frame, mask in zip(frames, masks):
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        assert mask.shape == (H, W) and mask.dtype == np.uint8
        assert set(np.unique(mask).tolist()) == {0, 1, 3}
        red = frame[mask == 1].astype(int).mean(0)
        blue = frame[mask == 3].astype(int).mean(0)
        assert red[0] > red[1] + 60 and red[0] > red[2] + 60
        assert blue[2] > blue[0] + 60 and blue[2] > blue[1] + 60
        grey = frame[mask == 0].astype(int).mean(0)
        assert np.ptp(grey) < 25
        # the objects moved or changed a little, but not beyond recognition
        for obj in (1, 3):
            area0 = np.count_nonzero(labels == obj)
            assert 0.4 * area0 < np.count_nonzero(mask == obj) < 2.0 * area0
    assert not np.array_equal(masks[0], masks[1])


def test_determinism_under_seed():
    image, labels = scene()
    a = lucid_dream_pair(image, labels, seed=7)
    b = lucid_dream_pair(image, labels, seed=7)
    c = lucid_dream_pair(image, labels, seed=8)
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        assert np.array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a[0], c[0]))


def test_alpha_fallback_at_the_border_and_no_objects():
    canvas = np.full((40, 40, 3), 100, np.uint8)
    obj = np.zeros_like(canvas)
    obj[:] = RED
    mask = np.zeros((40, 40), bool)
    mask[0:15, 0:15] = True   # touches the border: no seamless cloning
    out = blend_object(canvas, obj, mask)
    assert tuple(out[5, 5]) == RED
    assert tuple(out[30, 30]) == (100, 100, 100)
    image, _ = scene()
    frames, masks = lucid_dream_clip(image, np.zeros((H, W), np.uint8),
                                     num_frames=2, seed=0)
    assert all(m.max() == 0 for m in masks)


def test_illumination_and_transform():
    image, labels = scene()
    darker = change_illumination(image, value=0.5)
    assert darker.mean() < image.mean() * 0.6
    transform = TRANSFORMS.build(dict(type='LucidDreamClip', num_frames=2))
    assert isinstance(transform, LucidDreamClip)
    np.random.seed(0)
    out = transform(dict(image=image, mask=labels))
    np.random.seed(0)
    again = transform(dict(image=image, mask=labels))
    assert len(out['frames']) == 2 and out['masks'][0].shape == (H, W)
    assert np.array_equal(out['frames'][1], again['frames'][1])
    with pytest.raises(ValueError):
        lucid_dream_clip(image, labels[:10], num_frames=2, seed=0)
