"""Deterministic synthetic data for semi-supervised VOS.

Two generators share one scene renderer:

* :func:`generate_synthetic_davis` writes short videos in the DAVIS 2017
  layout (``JPEGImages/480p``, ``Annotations/480p``, ``ImageSets/2017``), so
  that the DAVIS dataset, metric and tools work on it unchanged.
* :func:`generate_synthetic_static` writes a COCO-style set of still images
  (instance polygons), for static-image pre-training.

A scene is a smooth, low-saturation background with a faint pattern and
1-3 objects. Every object has its own shape (ellipse, polygon, blob,
rounded rectangle, star), texture (stripes, checker, noise, dots) and a
strongly saturated two-colour palette whose hue is far from the other
objects' hues, so objects can be told apart by appearance alone. In videos
the background pans slowly and the objects move along smooth random paths
while they scale and rotate a little. They occlude each other in a fixed
depth order, and in every third video (index % 3 == 1) one object leaves
the frame and comes back. Every object covers at least 1% of the frame, and
at least half of its own area, in frame 0. Label maps are exactly the
visible pixels of each object (ids ``1..N``, 0 elsewhere).

Everything is deterministic: each video (and each still image) draws from
its own ``numpy.random.Generator`` seeded by ``(seed, split, index)``, so
its bytes do not depend on how many items come before it.
"""
import colorsys
import json
import math
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from vosbench.utils.mask_io import write_mask

# Bump when the generated content changes, so that a resumed run does not
# mix videos from two versions of this module.
GENERATOR_VERSION = 1

SHAPES = ('ellipse', 'polygon', 'blob', 'rounded_rect', 'star')
TEXTURES = ('stripes', 'checker', 'noise', 'dots')

_SPLIT_CODES = {'train': 0, 'val': 1, 'static': 2}
_CONFIG_FILE = 'synthetic_config.json'
_JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 95]

_AREA_RANGE = (0.03, 0.09)     # object area at scale 1, fraction of frame
_MAX_SCALE = 1.12              # largest scale an object reaches in a video
_MIN_VISIBLE_FRAC = 0.01       # of the frame, for every object in frame 0
_MIN_VISIBLE_OWN = 0.5         # of the object's own area, in frame 0
_MIN_EXIT_FRAMES = 11          # shorter videos have no exit and re-entry
_MAX_ATTEMPTS = 100


def make_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of one item: depends only on its own key.

    Args:
        seed (int): Global seed (>= 0).
        split (str): ``'train'``, ``'val'`` or ``'static'``.
        index (int): Index of the video or image within its split.
    """
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    return np.random.default_rng(
        np.random.SeedSequence([seed, _SPLIT_CODES[split], index]))


# ---------------------------------------------------------------------------
# Colours, patterns, shapes
# ---------------------------------------------------------------------------
def _hsv_to_bgr(hue: float, sat: float, val: float) -> np.ndarray:
    """HSV in [0, 1] (hue wraps) -> ``(3,)`` float32 BGR in [0, 255]."""
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, min(max(sat, 0.0), 1.0),
                                  min(max(val, 0.0), 1.0))
    return np.array([b, g, r], dtype=np.float32) * 255.0


def _pattern(rng: np.random.Generator, kind: str, height: int, width: int,
             scale: float) -> np.ndarray:
    """A ``(height, width)`` float32 pattern in [0, 1].

    Args:
        kind (str): One of :data:`TEXTURES`.
        scale (float): Size in pixels the pattern's period relates to (an
            object's radius, or a fraction of the frame for backgrounds).
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xx * np.float32(math.cos(angle)) + yy * np.float32(math.sin(angle))
    v = -xx * np.float32(math.sin(angle)) + yy * np.float32(math.cos(angle))
    if kind == 'stripes':
        period = max(4.0, scale * rng.uniform(0.3, 0.6))
        t = 0.5 + 0.5 * np.sin(u * np.float32(2 * np.pi / period))
        t = np.clip((t - 0.5) * 3.0 + 0.5, 0.0, 1.0)
    elif kind == 'checker':
        cell = max(3.0, scale * rng.uniform(0.25, 0.45))
        t = ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
    elif kind == 'noise':
        cell = max(3.0, scale * rng.uniform(0.3, 0.5))
        grid = rng.random((int(height / cell) + 2, int(width / cell) + 2),
                          dtype=np.float32)
        t = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        t = np.clip((t - 0.5) * 2.5 + 0.5, 0.0, 1.0)
    elif kind == 'dots':
        period = max(5.0, scale * rng.uniform(0.4, 0.65))
        radius = period * rng.uniform(0.22, 0.34)
        row = np.floor(v / period)
        du = np.mod(u + (row % 2) * (period / 2), period) - period / 2
        dv = np.mod(v, period) - period / 2
        t = (du * du + dv * dv < radius * radius).astype(np.float32)
    else:
        raise ValueError(f'unknown texture {kind!r}, expected one of '
                         f'{TEXTURES}')
    return t.astype(np.float32)


def _unit_shape(rng: np.random.Generator, kind: str) -> np.ndarray:
    """Vertices ``(K, 2)`` of a closed shape whose farthest point is at 1."""
    if kind == 'ellipse':
        theta = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        pts = np.stack([np.cos(theta),
                        rng.uniform(0.55, 1.0) * np.sin(theta)], axis=1)
    elif kind == 'polygon':
        n = int(rng.integers(5, 9))
        theta = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * (2 * np.pi / n)
        radius = rng.uniform(0.75, 1.0, n)
        pts = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    elif kind == 'blob':
        theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        radius = np.ones_like(theta)
        for k in (2, 3, 4):
            radius += rng.uniform(0.0, 0.14) * np.cos(
                k * theta + rng.uniform(0, 2 * np.pi))
        pts = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    elif kind == 'rounded_rect':
        theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        power = 2.0 / rng.uniform(3.0, 6.0)
        c, s = np.cos(theta), np.sin(theta)
        pts = np.stack([np.sign(c) * np.abs(c)**power,
                        rng.uniform(0.5, 1.0) * np.sign(s) * np.abs(s)**power],
                       axis=1)
    elif kind == 'star':
        n = int(rng.integers(5, 8))
        theta = np.arange(2 * n) * (np.pi / n)
        radius = np.where(np.arange(2 * n) % 2 == 0, 1.0,
                          rng.uniform(0.55, 0.75))
        pts = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    else:
        raise ValueError(f'unknown shape {kind!r}, expected one of {SHAPES}')
    return pts / np.linalg.norm(pts, axis=1).max()


def _polygon_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) -
                           np.dot(y, np.roll(x, -1))))


# ---------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------
@dataclass
class _Sprite:
    """One object in its own frame, drawn once and warped per frame.

    Attributes:
        mask (np.ndarray): ``(S, S)`` uint8, 255 inside the shape.
        texture (np.ndarray): ``(S, S, 3)`` uint8 BGR texture.
        radius (float): Distance from the canvas centre to the farthest
            shape point, at scale 1.
    """
    mask: np.ndarray
    texture: np.ndarray
    radius: float

    @property
    def centre(self) -> float:
        return (self.mask.shape[0] - 1) / 2.0


@dataclass
class _Scene:
    """A background canvas (larger than the frame when it pans) and objects.

    ``sprites[i]`` has label ``i + 1``; ``depth`` lists sprite indices from
    back to front.
    """
    background: np.ndarray
    sprites: List[_Sprite]
    depth: List[int]


def _make_background(rng: np.random.Generator, height: int,
                     width: int) -> np.ndarray:
    """Smooth low-saturation colour field + gradient + faint pattern."""
    hue = rng.random()
    sat = rng.uniform(0.05, 0.28)
    val = rng.uniform(0.35, 0.75)
    gh, gw = int(rng.integers(3, 6)), int(rng.integers(4, 8))
    grid = np.stack([
        _hsv_to_bgr(hue + rng.uniform(-0.08, 0.08),
                    min(sat + rng.uniform(-0.08, 0.08), 0.32),
                    val + rng.uniform(-0.15, 0.15))
        for _ in range(gh * gw)
    ]).reshape(gh, gw, 3)
    img = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xx - width / 2) * math.cos(angle) +
            (yy - height / 2) * math.sin(angle)) / math.hypot(height, width)
    img += (ramp * rng.uniform(20, 50))[..., None]

    kind = TEXTURES[int(rng.integers(len(TEXTURES)))]
    pattern = _pattern(rng, kind, height, width,
                       scale=min(height, width) * rng.uniform(0.15, 0.35))
    img += ((pattern - 0.5) * (2 * rng.uniform(4, 10)))[..., None]
    img += rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _object_hues(rng: np.random.Generator, num_objects: int) -> List[float]:
    """Hues spaced evenly around the colour wheel, with a little jitter."""
    base = rng.random()
    return [base + k / num_objects + rng.uniform(-0.04, 0.04)
            for k in range(num_objects)]


def _make_sprite(rng: np.random.Generator, hue: float,
                 frame_area: int) -> _Sprite:
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    unit = _unit_shape(rng, shape)
    target_area = rng.uniform(*_AREA_RANGE) * frame_area
    radius = math.sqrt(target_area / _polygon_area(unit))
    size = 2 * int(math.ceil(radius)) + 6
    centre = (size - 1) / 2.0

    mask = np.zeros((size, size), np.uint8)
    pts = np.round((unit * radius + centre) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_8, shift=4)

    light = _hsv_to_bgr(hue, rng.uniform(0.55, 1.0), rng.uniform(0.75, 1.0))
    dark = _hsv_to_bgr(hue + rng.uniform(-0.06, 0.06),
                       rng.uniform(0.6, 1.0), rng.uniform(0.3, 0.5))
    if rng.random() < 0.5:
        light, dark = dark, light
    kind = TEXTURES[int(rng.integers(len(TEXTURES)))]
    t = _pattern(rng, kind, size, size, scale=radius)[..., None]
    texture = light * (1 - t) + dark * t
    texture += rng.normal(0, 4, (size, size, 1)).astype(np.float32)
    texture = np.clip(texture, 0, 255).astype(np.uint8)
    return _Sprite(mask=mask, texture=texture, radius=radius)


def _make_scene(rng: np.random.Generator, height: int, width: int,
                margin: int) -> _Scene:
    """Background of ``(height + 2 margin, width + 2 margin)`` and objects."""
    num_objects = int(rng.integers(1, 4))
    background = _make_background(rng, height + 2 * margin,
                                  width + 2 * margin)
    sprites = [_make_sprite(rng, hue, height * width)
               for hue in _object_hues(rng, num_objects)]
    depth = [int(i) for i in rng.permutation(num_objects)]
    return _Scene(background=background, sprites=sprites, depth=depth)


def _pose_matrix(sprite: _Sprite, x: float, y: float, scale: float,
                 angle: float) -> np.ndarray:
    """``(2, 3)`` affine map from sprite canvas to frame coordinates."""
    a, b = scale * math.cos(angle), scale * math.sin(angle)
    c = sprite.centre
    return np.array([[a, -b, x - (a * c - b * c)],
                     [b, a, y - (b * c + a * c)]], dtype=np.float64)


def _render(scene: _Scene, poses: Sequence[np.ndarray],
            bg_offset: Tuple[float, float], height: int,
            width: int) -> Tuple[np.ndarray, np.ndarray, List[int]]:
    """Composite one frame.

    Args:
        poses: One ``(2, 3)`` matrix per sprite (see :func:`_pose_matrix`).
        bg_offset: ``(x, y)`` of the frame's top-left in the background.

    Returns:
        tuple: ``(H, W, 3)`` uint8 BGR image, ``(H, W)`` uint8 labels and
        each object's pixel count before occlusion.
    """
    shift = np.array([[1, 0, -bg_offset[0]], [0, 1, -bg_offset[1]]],
                     dtype=np.float64)
    image = cv2.warpAffine(scene.background, shift, (width, height),
                           flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    labels = np.zeros((height, width), np.uint8)
    full_areas = [0] * len(scene.sprites)
    for idx in scene.depth:
        sprite = scene.sprites[idx]
        inside = cv2.warpAffine(sprite.mask, poses[idx], (width, height),
                                flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT,
                                borderValue=0) >= 128
        full_areas[idx] = int(np.count_nonzero(inside))
        if not full_areas[idx]:
            continue
        texture = cv2.warpAffine(sprite.texture, poses[idx], (width, height),
                                 flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT)
        image[inside] = texture[inside]
        labels[inside] = idx + 1
    return image, labels, full_areas


def _add_noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    noise = rng.normal(0, 2.0, image.shape).astype(np.float32)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _clearly_visible(labels: np.ndarray, full_areas: Sequence[int]) -> bool:
    """Whether every object covers >= 1% of the frame and >= half itself."""
    counts = np.bincount(labels.ravel(), minlength=len(full_areas) + 1)
    min_pixels = _MIN_VISIBLE_FRAC * labels.size
    return all(counts[i + 1] >= max(min_pixels, _MIN_VISIBLE_OWN * full)
               for i, full in enumerate(full_areas))


# ---------------------------------------------------------------------------
# Motion
# ---------------------------------------------------------------------------
def _catmull_rom(keys: np.ndarray, spacing: int,
                 num_frames: int) -> np.ndarray:
    """Sample a uniform Catmull-Rom spline through ``keys`` (``(K, 2)``)
    placed every ``spacing`` frames; returns ``(num_frames, 2)``."""
    out = np.empty((num_frames, 2))
    last = len(keys) - 1
    for t in range(num_frames):
        k = min(t // spacing, last - 1)
        u = (t - k * spacing) / spacing
        p0, p1 = keys[max(k - 1, 0)], keys[k]
        p2, p3 = keys[k + 1], keys[min(k + 2, last)]
        out[t] = 0.5 * (2 * p1 + (p2 - p0) * u +
                        (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 +
                        (3 * p1 - p0 - 3 * p2 + p3) * u**3)
    return out


def _random_walk(rng: np.random.Generator, start: np.ndarray, num_keys: int,
                 step: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Keyframe positions of a smooth random walk that bounces off walls."""
    keys = [np.asarray(start, dtype=np.float64)]
    heading = rng.uniform(0, 2 * np.pi)
    for _ in range(num_keys - 1):
        heading += rng.normal(0, 0.7)
        delta = step * rng.uniform(0.6, 1.4) * np.array(
            [math.cos(heading), math.sin(heading)])
        pos = keys[-1] + delta
        for axis in (0, 1):
            if pos[axis] < low[axis]:
                pos[axis] = 2 * low[axis] - pos[axis]
                delta[axis] = -delta[axis]
            elif pos[axis] > high[axis]:
                pos[axis] = 2 * high[axis] - pos[axis]
                delta[axis] = -delta[axis]
        pos = np.clip(pos, low, high)
        heading = math.atan2(delta[1], delta[0])
        keys.append(pos)
    return np.stack(keys)


def _exit_keys(rng: np.random.Generator, keys: np.ndarray, exit_key: int,
               extent: float, size: np.ndarray) -> np.ndarray:
    """Rewrite keyframes so the object leaves the frame and comes back.

    ``keys[exit_key - 1]`` moves close to a border, ``keys[exit_key]`` and
    ``keys[exit_key + 1]`` lie beyond it by more than the object's extent
    (a Catmull-Rom segment between two equal outside keys with inside
    neighbours stays outside), and ``keys[exit_key + 2]`` re-enters at
    another point of the same border.
    """
    keys = keys.copy()
    side = int(rng.choice(4, p=[0.35, 0.35, 0.15, 0.15]))  # L, R, T, B
    axis, far = (0, side == 1) if side < 2 else (1, side == 3)

    def place(key: int, inside_by: float, far_side: bool) -> None:
        keys[key, axis] = (size[axis] - inside_by) if far_side else inside_by
        keys[key, 1 - axis] = rng.uniform(0.25, 0.75) * size[1 - axis]

    place(exit_key - 1, 0.3 * extent, far)
    place(exit_key, -(extent + 3), far)
    keys[exit_key + 1] = keys[exit_key]
    place(exit_key + 2, 0.3 * extent, far)
    return keys


def _plan_video(rng: np.random.Generator, scene: _Scene, height: int,
                width: int, num_frames: int,
                exit_object: Optional[int]) -> List[List[np.ndarray]]:
    """Poses of every object in every frame: ``poses[t][i]``."""
    size = np.array([width, height], dtype=np.float64)
    diag = math.hypot(width, height)
    if exit_object is None:
        spacing = 6
    else:
        spacing = int(np.clip((num_frames - 1) // 5, 2, 8))
    num_keys = -(-(num_frames - 1) // spacing) + 1 if num_frames > 1 else 2

    paths = []
    for idx, sprite in enumerate(scene.sprites):
        extent = sprite.radius * _MAX_SCALE
        low = np.minimum(0.6 * extent, size / 2)
        high = np.maximum(size - 0.6 * extent, size / 2)
        first_low = np.minimum(extent, size / 2)
        first_high = np.maximum(size - extent, size / 2)
        start = rng.uniform(first_low, first_high)
        speed = rng.uniform(0.004, 0.013) * diag  # pixels per frame
        keys = _random_walk(rng, start, num_keys, speed * spacing, low, high)
        if idx == exit_object:
            last_inside = (num_frames - 1) // spacing  # last key in the video
            exit_key = int(rng.integers(2, last_inside - 2 + 1))
            keys = _exit_keys(rng, keys, exit_key, extent, size)
        centres = _catmull_rom(keys, spacing, num_frames)
        scale_amp = rng.uniform(0.0, _MAX_SCALE - 1.0)
        scale_freq = rng.uniform(0.08, 0.25)
        scale_phase = rng.uniform(0, 2 * np.pi)
        angle0 = rng.uniform(0, 2 * np.pi)
        spin = rng.uniform(-0.035, 0.035)  # radians per frame
        paths.append([
            _pose_matrix(sprite, centres[t, 0], centres[t, 1],
                         1.0 + scale_amp * math.sin(scale_freq * t +
                                                    scale_phase),
                         angle0 + spin * t) for t in range(num_frames)
        ])
    return [[path[t] for path in paths] for t in range(num_frames)]


def _leaves_and_returns(presence: np.ndarray) -> bool:
    """``presence``: ``(T,)`` bools. Present, then absent, then present."""
    absent = np.flatnonzero(~presence)
    return (presence[0] and absent.size > 0
            and bool(presence[absent[0]:].any()))


# ---------------------------------------------------------------------------
# Public renderers (one item, in memory)
# ---------------------------------------------------------------------------
def render_synthetic_video(
        split: str, index: int, num_frames: int = 30, height: int = 128,
        width: int = 224,
        seed: int = 0) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Render one synthetic video in memory.

    Args:
        split (str): ``'train'`` or ``'val'``.
        index (int): Video index within the split.

    Returns:
        tuple: ``num_frames`` ``(H, W, 3)`` uint8 BGR frames and as many
        ``(H, W)`` uint8 label maps (objects ``1..N``, background 0).
    """
    if split not in ('train', 'val'):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if num_frames < 1 or height < 32 or width < 32:
        raise ValueError('need num_frames >= 1 and frames of at least '
                         f'32x32, got {num_frames} frames of {height}x{width}')
    rng = make_rng(seed, split, index)
    has_exit = index % 3 == 1 and num_frames >= _MIN_EXIT_FRAMES
    pan_speed = rng.uniform(0.1, 0.6)
    pan_dir = rng.uniform(0, 2 * np.pi)
    pan = pan_speed * np.array([math.cos(pan_dir), math.sin(pan_dir)])
    margin = int(math.ceil(pan_speed * (num_frames - 1) / 2)) + 2
    offsets = [tuple(margin + pan * (t - (num_frames - 1) / 2))
               for t in range(num_frames)]

    for _ in range(_MAX_ATTEMPTS):
        scene = _make_scene(rng, height, width, margin)
        exit_object = (int(rng.integers(len(scene.sprites)))
                       if has_exit else None)
        poses = _plan_video(rng, scene, height, width, num_frames,
                            exit_object)
        image, labels, full = _render(scene, poses[0], offsets[0], height,
                                      width)
        if not _clearly_visible(labels, full):
            continue
        frames, masks = [image], [labels]
        for t in range(1, num_frames):
            image, labels, _ = _render(scene, poses[t], offsets[t], height,
                                       width)
            frames.append(image)
            masks.append(labels)
        if exit_object is not None:
            presence = np.array([(m == exit_object + 1).any() for m in masks])
            if not _leaves_and_returns(presence):
                continue
        return [_add_noise(rng, f) for f in frames], masks
    raise RuntimeError(f'could not lay out synthetic video {split} {index} '
                       f'in {_MAX_ATTEMPTS} attempts at {height}x{width}')


def render_static_sample(index: int, height: int = 128, width: int = 224,
                         seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Render one still image of the static set in memory.

    Every object covers >= 1% of the image and its visible region has no
    holes (so it is described exactly by outer polygons).

    Returns:
        tuple: ``(H, W, 3)`` uint8 BGR image and ``(H, W)`` uint8 labels.
    """
    if height < 32 or width < 32:
        raise ValueError(f'images must be at least 32x32, got '
                         f'{height}x{width}')
    rng = make_rng(seed, 'static', index)
    size = np.array([width, height], dtype=np.float64)
    for _ in range(_MAX_ATTEMPTS):
        scene = _make_scene(rng, height, width, margin=0)
        poses = []
        for sprite in scene.sprites:
            extent = sprite.radius * _MAX_SCALE
            x, y = rng.uniform(np.minimum(0.6 * extent, size / 2),
                               np.maximum(size - 0.6 * extent, size / 2))
            poses.append(_pose_matrix(sprite, x, y, rng.uniform(0.9, 1.1),
                                      rng.uniform(0, 2 * np.pi)))
        image, labels, full = _render(scene, poses, (0.0, 0.0), height, width)
        if _clearly_visible(labels, full) and not _has_holes(labels):
            return _add_noise(rng, image), labels
    raise RuntimeError(f'could not lay out static image {index} in '
                       f'{_MAX_ATTEMPTS} attempts at {height}x{width}')


def _has_holes(labels: np.ndarray) -> bool:
    for label in range(1, int(labels.max()) + 1):
        _, hierarchy = cv2.findContours((labels == label).astype(np.uint8),
                                        cv2.RETR_CCOMP,
                                        cv2.CHAIN_APPROX_SIMPLE)
        if hierarchy is not None and (hierarchy[0, :, 3] >= 0).any():
            return True
    return False


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a binary mask as COCO polygons.

    Coordinates are the centres of the boundary pixels (``x + 0.5``) in
    COCO's continuous image coordinates; contours with fewer than three
    points are dropped.
    """
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [(c.reshape(-1, 2).astype(np.float64) + 0.5).ravel().tolist()
            for c in contours if len(c) >= 3]


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------
def _progress(enabled: bool, name: str, done: int, total: int) -> None:
    if enabled and (done % 10 == 0 or done == total):
        print(f'[synthetic] {name} {done}/{total}', flush=True)


def _write_text_atomic(path: str, text: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _check_config(out_root: str, config: Dict) -> None:
    """Refuse to mix videos made with other settings, or to write into a
    dataset this module did not make; record the settings otherwise."""
    path = osp.join(out_root, _CONFIG_FILE)
    if osp.isfile(path):
        with open(path) as f:
            existing = json.load(f)
        if existing != config:
            raise ValueError(
                f'{out_root} holds synthetic data made with {existing}, not '
                f'{config}; choose another output directory or delete it')
        return
    if osp.exists(osp.join(out_root, 'ImageSets')):
        raise ValueError(f'{out_root} already holds a dataset that this '
                         f'generator did not write (no {_CONFIG_FILE}); '
                         'refusing to overwrite its ImageSets')
    _write_text_atomic(path, json.dumps(config, indent=2) + '\n')


def _is_complete(image_dir: str, ann_dir: str, num_frames: int) -> bool:
    if not (osp.isdir(image_dir) and osp.isdir(ann_dir)):
        return False
    jpgs = {f for f in os.listdir(image_dir) if f.endswith('.jpg')}
    pngs = {f for f in os.listdir(ann_dir) if f.endswith('.png')}
    return (jpgs == {f'{t:05d}.jpg' for t in range(num_frames)}
            and pngs == {f'{t:05d}.png' for t in range(num_frames)})


def _write_video(image_dir: str, ann_dir: str, frames: Sequence[np.ndarray],
                 masks: Sequence[np.ndarray]) -> None:
    """Write into ``<seq>.tmp`` dirs, then rename both into place."""
    tmp_dirs = [f'{image_dir}.tmp', f'{ann_dir}.tmp']
    for path in tmp_dirs + [image_dir, ann_dir]:
        if osp.isdir(path):
            shutil.rmtree(path)
    for path in tmp_dirs:
        os.makedirs(path)
    for t, (frame, mask) in enumerate(zip(frames, masks)):
        jpg = osp.join(tmp_dirs[0], f'{t:05d}.jpg')
        if not cv2.imwrite(jpg, frame, _JPEG_PARAMS):
            raise OSError(f'cv2.imwrite failed for {jpg}')
        write_mask(osp.join(tmp_dirs[1], f'{t:05d}.png'), mask)
    os.rename(tmp_dirs[0], image_dir)
    os.rename(tmp_dirs[1], ann_dir)


def generate_synthetic_davis(out_root: str,
                             num_train: int = 60,
                             num_val: int = 8,
                             num_frames: int = 30,
                             height: int = 128,
                             width: int = 224,
                             seed: int = 0,
                             progress: bool = True) -> dict:
    """Write a synthetic VOS dataset in the DAVIS 2017 layout.

    ``<out_root>/JPEGImages/480p/<seq>/%05d.jpg`` (JPEG quality 95),
    ``<out_root>/Annotations/480p/<seq>/%05d.png`` (palette PNGs, one per
    frame) and ``<out_root>/ImageSets/2017/{train,val}.txt``. Sequences are
    named ``synth_train_0000``, ``synth_val_0000``, ...

    The run can be interrupted and resumed: each video is written to
    ``<seq>.tmp`` and renamed into place, complete videos are skipped, and
    the ImageSets are written last. The settings that decide a video's
    content are recorded in ``<out_root>/synthetic_config.json``; resuming
    with other settings raises ``ValueError``.

    Returns:
        dict: ``root``, ``image_root``, ``ann_root``, ``imagesets`` (split ->
        file), ``train`` / ``val`` (sequence names), ``num_train``,
        ``num_val``, ``num_frames``, ``height``, ``width``, ``seed``,
        ``generated`` and ``skipped`` (video counts of this run) and
        ``seconds``.
    """
    if num_train < 0 or num_val < 0:
        raise ValueError('num_train and num_val must be >= 0')
    start = time.perf_counter()
    image_root = osp.join(out_root, 'JPEGImages', '480p')
    ann_root = osp.join(out_root, 'Annotations', '480p')
    os.makedirs(out_root, exist_ok=True)
    _check_config(out_root, dict(generator_version=GENERATOR_VERSION,
                                 seed=seed, num_frames=num_frames,
                                 height=height, width=width))
    os.makedirs(image_root, exist_ok=True)
    os.makedirs(ann_root, exist_ok=True)

    names: Dict[str, List[str]] = {}
    generated = skipped = 0
    for split, count in (('train', num_train), ('val', num_val)):
        names[split] = []
        for index in range(count):
            seq = f'synth_{split}_{index:04d}'
            names[split].append(seq)
            image_dir = osp.join(image_root, seq)
            ann_dir = osp.join(ann_root, seq)
            if _is_complete(image_dir, ann_dir, num_frames):
                skipped += 1
            else:
                frames, masks = render_synthetic_video(
                    split, index, num_frames, height, width, seed)
                _write_video(image_dir, ann_dir, frames, masks)
                generated += 1
            _progress(progress, split, index + 1, count)

    imagesets = {}
    for split in ('train', 'val'):
        imagesets[split] = osp.join(out_root, 'ImageSets', '2017',
                                    f'{split}.txt')
        _write_text_atomic(imagesets[split],
                           ''.join(f'{seq}\n' for seq in names[split]))
    seconds = time.perf_counter() - start
    if progress:
        print(f'[synthetic] {generated} videos written, {skipped} already '
              f'complete, in {seconds:.1f}s -> {out_root}', flush=True)
    return dict(root=out_root, image_root=image_root, ann_root=ann_root,
                imagesets=imagesets, train=names['train'], val=names['val'],
                num_train=num_train, num_val=num_val, num_frames=num_frames,
                height=height, width=width, seed=seed, generated=generated,
                skipped=skipped, seconds=seconds)


def generate_synthetic_static(out_root: str,
                              num_images: int = 200,
                              height: int = 128,
                              width: int = 224,
                              seed: int = 0,
                              progress: bool = True) -> dict:
    """Write a COCO-style set of synthetic still images.

    ``<out_root>/images/%06d.jpg`` (the number is the image id, from 1) and
    ``<out_root>/annotations.json`` with one instance per object: outer
    polygons of its visible region (``segmentation``), pixel ``area``,
    ``bbox`` ``[x, y, w, h]``, ``iscrowd`` 0 and ``category_id`` 1 (the
    only category, ``object``). The annotation file is written last.

    Returns:
        dict: ``root``, ``image_dir``, ``ann_file``, ``num_images``,
        ``num_annotations`` and ``seconds``.
    """
    if num_images < 0:
        raise ValueError('num_images must be >= 0')
    start = time.perf_counter()
    image_dir = osp.join(out_root, 'images')
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        image, labels = render_static_sample(index, height, width, seed)
        image_id = index + 1
        file_name = f'{image_id:06d}.jpg'
        tmp = osp.join(image_dir, f'.{image_id:06d}.tmp.jpg')
        if not cv2.imwrite(tmp, image, _JPEG_PARAMS):
            raise OSError(f'cv2.imwrite failed for {tmp}')
        os.replace(tmp, osp.join(image_dir, file_name))
        images.append(dict(id=image_id, file_name=file_name, height=height,
                           width=width))
        for label in range(1, int(labels.max()) + 1):
            mask = (labels == label).astype(np.uint8)
            x, y, w, h = cv2.boundingRect(mask)
            annotations.append(
                dict(id=len(annotations) + 1, image_id=image_id,
                     category_id=1, segmentation=mask_to_polygons(mask),
                     area=float(np.count_nonzero(mask)),
                     bbox=[float(x), float(y), float(w), float(h)],
                     iscrowd=0))
        _progress(progress, 'static', index + 1, num_images)

    ann_file = osp.join(out_root, 'annotations.json')
    coco = dict(
        info=dict(description='vosbench synthetic static images',
                  generator_version=GENERATOR_VERSION, seed=seed),
        images=images, annotations=annotations,
        categories=[dict(id=1, name='object')])
    _write_text_atomic(ann_file, json.dumps(coco, separators=(',', ':')))
    seconds = time.perf_counter() - start
    if progress:
        print(f'[synthetic] {num_images} static images, {len(annotations)} '
              f'instances, in {seconds:.1f}s -> {out_root}', flush=True)
    return dict(root=out_root, image_dir=image_dir, ann_file=ann_file,
                num_images=num_images, num_annotations=len(annotations),
                seconds=seconds)
