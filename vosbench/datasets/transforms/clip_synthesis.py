"""Synthesising training clips from still images.

A static sample (``image`` ``(H, W, 3)`` uint8 RGB and ``mask`` ``(H, W)``
uint8 labels, as :class:`~vosbench.datasets.static_image.StaticImageDataset`
loads it) becomes a clip of ``frames``/``masks`` (lists of ``(H, W, 3)`` and
``(H, W)`` uint8) that ``SelectObjects`` and ``PackClipInputs`` finish like a
video clip. A typical pipeline (REFERENCE.md section 5)::

    [dict(type='StaticToClip', num_frames=3),
     dict(type='ClipSharedAffine', scale_range=(0.8, 1.5), flip_prob=0.5,
          short_side=384),
     dict(type='FrameRandomAffine', rotation=20, scale=(0.9, 1.1), shear=10),
     dict(type='PasteObjects', max_objects=3),
     dict(type='FrameThinPlateSpline', prob=0.3),
     dict(type='ClipRandomCrop', crop_size=(384, 384)),
     dict(type='ClipColorJitter'),
     dict(type='ResampleSmallObjects', min_pixels=100),
     dict(type='SelectObjects', max_objects=3, min_pixels=100),
     dict(type='PackClipInputs')]

Geometry: frames are interpolated bilinearly and masks with nearest
neighbours through the same maps, so labels stay on their pixels. Pixels
brought in from outside the image are black (0) in frames and background (0)
in masks.

Randomness: each call draws one seed from ``np.random`` and uses a
``numpy.random.Generator`` made from it, so ``np.random.seed(s)`` (and
mmengine's per-worker seeding) makes the pipeline reproducible.
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS
from vosbench.utils.labels import VOID_LABEL, is_object_label, object_ids


def _rng() -> np.random.Generator:
    """A generator seeded from the global ``np.random`` state."""
    return np.random.default_rng(np.random.randint(0, 2**31 - 1))


def objects_with_pixels(labels: np.ndarray, min_pixels: int) -> List[int]:
    """The object labels (neither background nor void) that have at least
    ``min_pixels`` pixels in the ``(H, W)`` label map, increasing."""
    ids, counts = np.unique(labels, return_counts=True)
    return [int(i) for i, c in zip(ids.tolist(), counts.tolist())
            if is_object_label(i) and c >= min_pixels]


def _affine_about(center: Tuple[float, float], angle_deg: float = 0.0,
                  scale: float = 1.0, shear_deg: float = 0.0,
                  target: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """``(2, 3)`` matrix: move ``center`` to the origin, scale, shear along
    x, rotate, then move to ``target`` (default: ``center``)."""
    cx, cy = center
    tx, ty = target if target is not None else center
    a = math.radians(angle_deg)
    rotation = np.array([[math.cos(a), -math.sin(a)],
                         [math.sin(a), math.cos(a)]])
    shear = np.array([[1.0, math.tan(math.radians(shear_deg))], [0.0, 1.0]])
    linear = rotation @ shear * scale
    offset = np.array([tx, ty]) - linear @ np.array([cx, cy])
    return np.concatenate([linear, offset[:, None]], axis=1)


def warp_affine(frame: np.ndarray, mask: np.ndarray, matrix: np.ndarray,
                size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Warp a frame (bilinear) and its mask (nearest) by the forward
    ``(2, 3)`` ``matrix`` into ``size`` ``(height, width)``."""
    height, width = size
    frame = cv2.warpAffine(frame, matrix, (width, height),
                           flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpAffine(mask, matrix, (width, height),
                          flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return frame, mask


# ---------------------------------------------------------------------------
# thin-plate splines
# ---------------------------------------------------------------------------
def _tps_kernel(sq_dist: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r, written with the squared distance."""
    return 0.5 * sq_dist * np.log(np.where(sq_dist > 0, sq_dist, 1.0))


def fit_thin_plate_spline(src: np.ndarray, dst: np.ndarray,
                          regularization: float = 0.0
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """The 2-D thin-plate spline ``f`` with ``f(src[i]) = dst[i]``.

    ``f(p) = [1, x, y] @ affine + sum_i U(|p - src_i|) * weights[i]``.

    Args:
        src (np.ndarray): ``(N, 2)`` control points (N >= 3, not collinear).
        dst (np.ndarray): ``(N, 2)`` their images.
        regularization (float): Smoothing; 0 interpolates exactly.

    Returns:
        tuple: ``weights`` ``(N, 2)`` and ``affine`` ``(3, 2)``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n = len(src)
    sq = ((src[:, None] - src[None]) ** 2).sum(-1)
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = _tps_kernel(sq) + regularization * np.eye(n)
    system[:n, n] = 1.0
    system[:n, n + 1:] = src
    system[n, :n] = 1.0
    system[n + 1:, :n] = src.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = dst
    solution = np.linalg.solve(system, rhs)
    return solution[:n], solution[n:]


def _interp_weights(size: int, nodes: np.ndarray):
    """Linear interpolation at pixels ``0..size-1`` between values given at
    increasing ``nodes``: indices ``left``, ``right`` and weight ``t`` of
    the right node, each ``(size,)``."""
    pos = np.arange(size, dtype=np.float64)
    if len(nodes) == 1:
        zeros = np.zeros(size, np.int64)
        return zeros, zeros, np.zeros(size)
    right = np.clip(np.searchsorted(nodes, pos, side='right'), 1,
                    len(nodes) - 1)
    left = right - 1
    return left, right, (pos - nodes[left]) / (nodes[right] - nodes[left])


def _upsample(coarse: np.ndarray, rows, cols) -> np.ndarray:
    """Separable linear interpolation of ``coarse`` ``(ny, nx)`` with the
    ``(left, right, t)`` weights of :func:`_interp_weights` (element-wise,
    no BLAS: its threads thrash a busy CPU)."""
    left, right, t = rows
    tall = coarse[left] * (1 - t)[:, None] + coarse[right] * t[:, None]
    left, right, t = cols
    return tall[:, left] * (1 - t)[None] + tall[:, right] * t[None]


def thin_plate_spline_maps(size: Tuple[int, int], out_points: np.ndarray,
                           src_points: np.ndarray, step: int = 8
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Backward maps for ``cv2.remap``: output pixel ``p`` samples the input
    at ``f(p)``, where the thin-plate spline ``f`` takes ``out_points`` to
    ``src_points`` (both ``(N, 2)`` pixel ``(x, y)``).

    The spline is fitted to the displacements ``src - out`` (so none gives
    exactly the identity). Its affine part is evaluated at every pixel, the
    smooth non-linear part on a grid of ``step`` pixels and interpolated
    linearly in between.

    Returns:
        tuple: ``map_x``, ``map_y``: ``(H, W)`` float32.
    """
    height, width = size
    norm = float(max(height, width, 2) - 1)
    out_points = np.asarray(out_points, np.float64)
    shift = np.asarray(src_points, np.float64) - out_points
    weights, affine = fit_thin_plate_spline(out_points / norm, shift / norm)
    xs = np.arange(width, dtype=np.float64) / norm
    ys = np.arange(height, dtype=np.float64) / norm
    maps = [xs[None, :] + affine[0, 0] + affine[1, 0] * xs[None, :] +
            affine[2, 0] * ys[:, None],
            ys[:, None] + affine[0, 1] + affine[1, 1] * xs[None, :] +
            affine[2, 1] * ys[:, None]]
    if np.abs(weights).max(initial=0.0) > 0:
        node_x = np.unique(np.append(np.arange(0, width, step), width - 1))
        node_y = np.unique(np.append(np.arange(0, height, step), height - 1))
        gx, gy = np.meshgrid(node_x / norm, node_y / norm)
        grid = np.stack([gx.ravel(), gy.ravel()], 1)
        centres = out_points / norm
        sq = ((grid[:, None] - centres[None]) ** 2).sum(-1)
        kernel = _tps_kernel(sq)
        rows = _interp_weights(height, node_y.astype(np.float64))
        cols = _interp_weights(width, node_x.astype(np.float64))
        for k in range(2):
            radial = (kernel * weights[None, :, k]).sum(1)
            maps[k] = maps[k] + _upsample(
                radial.reshape(len(node_y), len(node_x)), rows, cols)
    return ((maps[0] * norm).astype(np.float32),
            (maps[1] * norm).astype(np.float32))


def warp_thin_plate_spline(frame: np.ndarray, mask: np.ndarray,
                           out_points: np.ndarray, src_points: np.ndarray
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Warp a frame (bilinear) and its mask (nearest) so that the content
    at ``src_points`` moves to ``out_points``."""
    map_x, map_y = thin_plate_spline_maps(frame.shape[:2], out_points,
                                          src_points)
    frame = cv2.remap(frame, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.remap(mask, map_x, map_y, interpolation=cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return frame, mask


# ---------------------------------------------------------------------------
# colour
# ---------------------------------------------------------------------------
def adjust_color(frame: np.ndarray, brightness: float = 1.0,
                 contrast: float = 1.0, saturation: float = 1.0,
                 hue: float = 0.0) -> np.ndarray:
    """Brightness, contrast and saturation factors (1 = unchanged) and a hue
    shift in turns (0.1 = 36 degrees), in that order, on uint8 RGB."""
    x = frame.astype(np.float32)
    if brightness != 1.0:
        x *= brightness
    if contrast != 1.0:
        mean = float(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).mean())
        x = (x - mean) * contrast + mean
    if saturation != 1.0:
        gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
        x = gray + (x - gray) * saturation
    x = np.clip(x, 0, 255)
    if hue != 0.0:
        hsv = cv2.cvtColor(x / 255.0, cv2.COLOR_RGB2HSV)  # H in [0, 360)
        hsv[..., 0] = np.mod(hsv[..., 0] + hue * 360.0, 360.0)
        x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# transforms
# ---------------------------------------------------------------------------
@TRANSFORMS.register_module()
class StaticToClip(BaseTransform):
    """Repeat a still image (``image``, ``mask``) as a clip of
    ``num_frames`` identical ``frames``/``masks`` (``image`` and ``mask`` are
    removed; ``clip_indices`` is ``0..num_frames-1``).

    Args:
        num_frames (int): Defaults to 3.
    """

    def __init__(self, num_frames: int = 3):
        if num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        self.num_frames = num_frames

    def transform(self, results: dict) -> dict:
        image = results.pop('image')
        mask = results.pop('mask')
        if image.shape[:2] != mask.shape:
            raise ValueError(f'{results.get("img_path")}: mask {mask.shape} '
                             f'and image {image.shape[:2]} differ in size')
        results['frames'] = [image.copy() for _ in range(self.num_frames)]
        results['masks'] = [mask.copy() for _ in range(self.num_frames)]
        results['clip_indices'] = list(range(self.num_frames))
        return results


@TRANSFORMS.register_module()
class ClipSharedAffine(BaseTransform):
    """Rescale every frame of a clip by one random factor and flip them all
    horizontally with probability ``flip_prob``.

    Args:
        scale_range (tuple[float, float]): Range of the factor. Defaults to
            (0.8, 1.5).
        flip_prob (float): Defaults to 0.5.
        short_side (int, optional): Scale relative to the size whose shorter
            side is ``short_side`` (e.g. the crop size) rather than to the
            input size.
    """

    def __init__(self, scale_range: Tuple[float, float] = (0.8, 1.5),
                 flip_prob: float = 0.5, short_side: Optional[int] = None):
        self.scale_range = tuple(scale_range)
        self.flip_prob = flip_prob
        self.short_side = short_side

    def transform(self, results: dict) -> dict:
        rng = _rng()
        height, width = results['masks'][0].shape
        scale = rng.uniform(*self.scale_range)
        if self.short_side is not None:
            scale *= self.short_side / min(height, width)
        flip = rng.random() < self.flip_prob
        size = (max(1, int(round(width * scale))),
                max(1, int(round(height * scale))))
        frame_interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        frames, masks = [], []
        for frame, mask in zip(results['frames'], results['masks']):
            if size != (width, height):
                frame = cv2.resize(frame, size, interpolation=frame_interp)
                mask = cv2.resize(mask, size,
                                  interpolation=cv2.INTER_NEAREST_EXACT)
            if flip:
                frame, mask = frame[:, ::-1], mask[:, ::-1]
            frames.append(np.ascontiguousarray(frame))
            masks.append(np.ascontiguousarray(mask))
        results['frames'], results['masks'] = frames, masks
        return results


@TRANSFORMS.register_module()
class ClipColorJitter(BaseTransform):
    """Colour jitter shared by the clip, then a small one per frame.

    Factors are drawn from ``[1 - x, 1 + x]`` and hue shifts (in turns) from
    ``[-x, x]``; a frame's factor is the shared one times its own.

    Args:
        brightness, contrast, saturation (float): Shared ranges. Default 0.3.
        hue (float): Shared hue range. Defaults to 0.03.
        frame_brightness, frame_contrast, frame_saturation (float): Per-frame
            ranges. Default 0.05.
        frame_hue (float): Per-frame hue range. Defaults to 0.01.
    """

    def __init__(self, brightness: float = 0.3, contrast: float = 0.3,
                 saturation: float = 0.3, hue: float = 0.03,
                 frame_brightness: float = 0.05, frame_contrast: float = 0.05,
                 frame_saturation: float = 0.05, frame_hue: float = 0.01):
        self.shared = (brightness, contrast, saturation, hue)
        self.per_frame = (frame_brightness, frame_contrast, frame_saturation,
                          frame_hue)

    @staticmethod
    def _draw(rng: np.random.Generator, ranges) -> np.ndarray:
        b, c, s, h = ranges
        return np.array([rng.uniform(1 - b, 1 + b), rng.uniform(1 - c, 1 + c),
                         rng.uniform(1 - s, 1 + s), rng.uniform(-h, h)])

    def transform(self, results: dict) -> dict:
        rng = _rng()
        shared = self._draw(rng, self.shared)
        frames = []
        for frame in results['frames']:
            own = self._draw(rng, self.per_frame)
            factors = shared[:3] * own[:3]
            frames.append(adjust_color(frame, *factors.tolist(),
                                       hue=float(shared[3] + own[3])))
        results['frames'] = frames
        return results


@TRANSFORMS.register_module()
class FrameRandomAffine(BaseTransform):
    """An independent random affine for each frame, about its centre.

    Args:
        rotation (float): Angles from ``[-rotation, rotation]`` degrees.
            Defaults to 20.
        scale (tuple[float, float]): Defaults to (0.9, 1.1).
        shear (float): Horizontal shear angles from ``[-shear, shear]``
            degrees. Defaults to 10.
        translate (float): Shifts up to this fraction of the width/height.
            Defaults to 0.
        prob (float): Probability of warping each frame. Defaults to 1.
    """

    def __init__(self, rotation: float = 20.0,
                 scale: Tuple[float, float] = (0.9, 1.1),
                 shear: float = 10.0, translate: float = 0.0,
                 prob: float = 1.0):
        self.rotation = rotation
        self.scale = tuple(scale)
        self.shear = shear
        self.translate = translate
        self.prob = prob

    def transform(self, results: dict) -> dict:
        rng = _rng()
        frames, masks = [], []
        for frame, mask in zip(results['frames'], results['masks']):
            height, width = mask.shape
            params = (rng.uniform(-self.rotation, self.rotation),
                      rng.uniform(*self.scale),
                      rng.uniform(-self.shear, self.shear),
                      rng.uniform(-self.translate, self.translate, 2))
            if rng.random() < self.prob:
                angle, scale, shear, shift = params
                center = ((width - 1) / 2, (height - 1) / 2)
                target = (center[0] + shift[0] * width,
                          center[1] + shift[1] * height)
                matrix = _affine_about(center, angle, scale, shear, target)
                frame, mask = warp_affine(frame, mask, matrix,
                                          (height, width))
            frames.append(frame)
            masks.append(mask)
        results['frames'], results['masks'] = frames, masks
        return results


@TRANSFORMS.register_module()
class FrameThinPlateSpline(BaseTransform):
    """Occasionally deform a frame with a random thin-plate spline.

    A ``grid_size`` x ``grid_size`` grid of control points spans the frame;
    each point moves by up to ``max_displacement`` times the shorter side in
    x and y; the spline through these moves warps frame and mask.

    Args:
        prob (float): Probability for each frame. Defaults to 0.3.
        grid_size (int): Control points per side. Defaults to 3.
        max_displacement (float): Defaults to 0.05.
    """

    def __init__(self, prob: float = 0.3, grid_size: int = 3,
                 max_displacement: float = 0.05):
        if grid_size < 2:
            raise ValueError(f'grid_size must be >= 2, got {grid_size}')
        self.prob = prob
        self.grid_size = grid_size
        self.max_displacement = max_displacement

    def transform(self, results: dict) -> dict:
        rng = _rng()
        frames, masks = [], []
        for frame, mask in zip(results['frames'], results['masks']):
            height, width = mask.shape
            warp = rng.random() < self.prob
            shift = rng.uniform(-1, 1, (self.grid_size ** 2, 2)) * \
                self.max_displacement * min(height, width)
            if warp:
                gx, gy = np.meshgrid(np.linspace(0, width - 1, self.grid_size),
                                     np.linspace(0, height - 1,
                                                 self.grid_size))
                points = np.stack([gx.ravel(), gy.ravel()], 1)
                # content at points + shift moves to points
                frame, mask = warp_thin_plate_spline(frame, mask, points,
                                                     points + shift)
            frames.append(frame)
            masks.append(mask)
        results['frames'], results['masks'] = frames, masks
        return results


@TRANSFORMS.register_module()
class PasteObjects(BaseTransform):
    """Paste objects cut from other images of the dataset into the clip,
    each moving on its own from frame to frame, to make multi-object clips.

    The donors come from ``results['sample_loader']`` (an ``index -> static
    sample`` callable that :class:`StaticImageDataset` adds, with
    ``results['num_samples']``); their indices are drawn from the seeded
    generator, so a seeded pipeline is reproducible. When the first frame
    already has ``max_objects`` objects nothing is pasted; otherwise, with
    probability ``prob``, 1 to ``max_objects - present`` objects are. Each
    gets the next free label and covers what was below it.

    An object is placed at a random point with its longer side a random
    fraction (``size_range``) of the frame's shorter side; in each frame it
    is moved further by up to ``max_shift`` of the shorter side (a random
    walk), rotated by up to ``rotation`` degrees and scaled by
    ``frame_scale``.

    Args:
        max_objects (int): Defaults to 3.
        prob (float): Defaults to 0.5.
        size_range (tuple[float, float]): Defaults to (0.2, 0.6).
        max_shift (float): Defaults to 0.08.
        rotation (float): Defaults to 15.
        frame_scale (tuple[float, float]): Defaults to (0.9, 1.1).
        min_donor_pixels (int): Smallest object taken. Defaults to 100.
        max_donor_attempts (int): Donor images tried per object. Defaults
            to 3.
    """

    def __init__(self, max_objects: int = 3, prob: float = 0.5,
                 size_range: Tuple[float, float] = (0.2, 0.6),
                 max_shift: float = 0.08, rotation: float = 15.0,
                 frame_scale: Tuple[float, float] = (0.9, 1.1),
                 min_donor_pixels: int = 100, max_donor_attempts: int = 3):
        self.max_objects = max_objects
        self.prob = prob
        self.size_range = tuple(size_range)
        self.max_shift = max_shift
        self.rotation = rotation
        self.frame_scale = tuple(frame_scale)
        self.min_donor_pixels = min_donor_pixels
        self.max_donor_attempts = max_donor_attempts

    def _cut_object(self, rng: np.random.Generator, loader: Callable,
                    num_samples: int, own_index: Optional[int]):
        """An ``(image crop, binary crop)`` from a random other sample, or
        None when the tried donors have no object big enough."""
        for _ in range(self.max_donor_attempts):
            index = int(rng.integers(num_samples))
            if index == own_index and num_samples > 1:
                index = (index + 1) % num_samples
            donor = loader(index)
            usable = objects_with_pixels(donor['mask'],
                                         self.min_donor_pixels)
            if not usable:
                continue
            binary = donor['mask'] == usable[int(rng.integers(len(usable)))]
            ys, xs = np.nonzero(binary)
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            return (np.ascontiguousarray(donor['image'][y0:y1, x0:x1]),
                    binary[y0:y1, x0:x1].astype(np.uint8))
        return None

    def transform(self, results: dict) -> dict:
        rng = _rng()
        frames, masks = results['frames'], results['masks']
        present = len(object_ids(masks[0]))
        room = self.max_objects - present
        if room <= 0 or rng.random() >= self.prob:
            return results
        loader = results.get('sample_loader')
        if loader is None:
            raise KeyError(
                'PasteObjects needs results["sample_loader"] (a callable '
                'index -> static sample) and results["num_samples"], which '
                'StaticImageDataset provides; use it in such a pipeline')
        num_paste = int(rng.integers(1, room + 1))
        height, width = masks[0].shape
        short = min(height, width)
        next_id = max([0] + [max(object_ids(m), default=0)
                             for m in masks]) + 1
        frames = [f.copy() for f in frames]
        masks = [m.copy() for m in masks]
        for _ in range(num_paste):
            if next_id >= VOID_LABEL:
                break
            cut = self._cut_object(rng, loader, int(results['num_samples']),
                                   results.get('sample_idx'))
            if cut is None:
                continue
            patch, binary = cut
            ph, pw = binary.shape
            base_scale = rng.uniform(*self.size_range) * short / max(ph, pw)
            centre = np.array([rng.uniform(0, width - 1),
                               rng.uniform(0, height - 1)])
            for frame, mask in zip(frames, masks):
                matrix = _affine_about(
                    ((pw - 1) / 2, (ph - 1) / 2),
                    rng.uniform(-self.rotation, self.rotation),
                    base_scale * rng.uniform(*self.frame_scale),
                    target=tuple(centre))
                warped, covered = warp_affine(patch, binary, matrix,
                                              (height, width))
                covered = covered > 0
                frame[covered] = warped[covered]
                mask[covered] = next_id
                centre = centre + rng.uniform(-1, 1, 2) * self.max_shift * \
                    short
            next_id += 1
        results['frames'], results['masks'] = frames, masks
        return results


@TRANSFORMS.register_module()
class ClipRandomCrop(BaseTransform):
    """Crop the same ``crop_size`` window from every frame, placed so that it
    contains a random object pixel of the first frame when there is one.
    Frames smaller than the crop are padded at the bottom and right (black,
    masks background).

    Args:
        crop_size (tuple[int, int]): ``(height, width)``.
    """

    def __init__(self, crop_size: Sequence[int]):
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))

    def transform(self, results: dict) -> dict:
        rng = _rng()
        crop_h, crop_w = self.crop_size
        height, width = results['masks'][0].shape
        pad_h, pad_w = max(0, crop_h - height), max(0, crop_w - width)
        frames, masks = results['frames'], results['masks']
        if pad_h or pad_w:
            frames = [cv2.copyMakeBorder(f, 0, pad_h, 0, pad_w,
                                         cv2.BORDER_CONSTANT, value=0)
                      for f in frames]
            masks = [cv2.copyMakeBorder(m, 0, pad_h, 0, pad_w,
                                        cv2.BORDER_CONSTANT, value=0)
                     for m in masks]
            height, width = height + pad_h, width + pad_w
        first = masks[0]
        ys, xs = np.nonzero((first > 0) & (first != VOID_LABEL))
        if len(ys):
            pick = int(rng.integers(len(ys)))
            y, x = int(ys[pick]), int(xs[pick])
            top = int(rng.integers(max(0, y - crop_h + 1),
                                   min(y, height - crop_h) + 1))
            left = int(rng.integers(max(0, x - crop_w + 1),
                                    min(x, width - crop_w) + 1))
        else:
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
        results['frames'] = [np.ascontiguousarray(
            f[top:top + crop_h, left:left + crop_w]) for f in frames]
        results['masks'] = [np.ascontiguousarray(
            m[top:top + crop_h, left:left + crop_w]) for m in masks]
        return results


@TRANSFORMS.register_module()
class ResampleSmallObjects(BaseTransform):
    """Reject a clip whose objects became too small.

    An object counts when it has at least ``min_pixels`` in the first frame
    and at least ``min_later_pixels`` in every later frame. With fewer than
    ``min_objects`` such objects the transform returns None: a
    :class:`StaticImageDataset` then augments the same image again, and
    after ``augment_attempts`` failures draws another image (as every
    mmengine dataset does when its pipeline returns None).

    Args:
        min_pixels (int): Defaults to 100.
        min_later_pixels (int): Defaults to 0 (objects may leave the view).
        min_objects (int): Defaults to 1.
    """

    def __init__(self, min_pixels: int = 100, min_later_pixels: int = 0,
                 min_objects: int = 1):
        self.min_pixels = min_pixels
        self.min_later_pixels = min_later_pixels
        self.min_objects = min_objects

    def transform(self, results: dict) -> Optional[dict]:
        masks = results['masks']
        valid = sum(
            all(np.count_nonzero(m == obj) >= self.min_later_pixels
                for m in masks[1:])
            for obj in objects_with_pixels(masks[0], self.min_pixels))
        return results if valid >= self.min_objects else None
