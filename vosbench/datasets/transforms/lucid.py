"""Lucid-data-dreaming style augmentation: training clips from one frame.

From a single annotated frame (``(H, W, 3)`` uint8 RGB and ``(H, W)`` uint8
labels, 0 background, 1..N objects, 255 ignored) this module dreams clips of
plausible "next frames" with aligned label maps (REFERENCE.md section 5,
per-object fine-tuning):

1. the objects are removed and the hole is filled with ``cv2.inpaint``
   (masks dilated first, so no object rim stays in the background);
2. the background is shifted a little (and possibly mirrored once per clip);
3. every object is cut out, moved, scaled and rotated about its centre,
   deformed by a thin-plate spline (the TPS code of
   :mod:`~vosbench.datasets.transforms.clip_synthesis`) and pasted back with
   ``cv2.seamlessClone``; the object's own pixels are kept in its interior
   and the Poisson-blended result is used only in a band along its
   outline, so the object keeps its colours while its border merges into
   the new background. Where seamless cloning is impossible (object at the
   image border) or fails, the object is alpha-blended with a feathered
   mask;
4. the illumination changes in HSV (value and saturation gains, a small hue
   shift).

The first frame of a clip departs strongly from the given frame; each later
frame departs only a little from the previous one (its parameters are the
previous ones plus small steps), so a clip looks like a short video. Later
objects are pasted over earlier ones (in id order) and the label maps record
what is visible. All randomness comes from one ``numpy.random.Generator``,
so a seed makes the output reproducible.
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from vosbench.registry import TRANSFORMS
from vosbench.utils.labels import object_ids
from .clip_synthesis import warp_thin_plate_spline

SeedLike = Union[None, int, np.random.Generator]


def _as_rng(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------
def inpaint_background(image: np.ndarray, labels: np.ndarray,
                       dilate: int = 7, radius: int = 5) -> np.ndarray:
    """``image`` with every object (and ignored pixel) removed and the hole
    filled by ``cv2.inpaint`` (Telea), the hole dilated by ``dilate``
    pixels first."""
    hole = (labels != 0).astype(np.uint8)
    if not hole.any():
        return image.copy()
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                           (2 * dilate + 1, 2 * dilate + 1))
        hole = cv2.dilate(hole, kernel)
    if hole.all():  # nothing to fill from: a flat mean colour
        return np.broadcast_to(image.reshape(-1, 3).mean(0).astype(np.uint8),
                               image.shape).copy()
    return cv2.inpaint(np.ascontiguousarray(image), hole, radius,
                       cv2.INPAINT_TELEA)


def shift_background(background: np.ndarray, dx: float, dy: float,
                     flip: bool = False) -> np.ndarray:
    """Translate (pixels) and optionally mirror the background; pixels
    brought in from outside are reflected ones."""
    height, width = background.shape[:2]
    if flip:
        background = background[:, ::-1]
    matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float64)
    return cv2.warpAffine(np.ascontiguousarray(background), matrix,
                          (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


def change_illumination(image: np.ndarray, hue: float = 0.0,
                        saturation: float = 1.0,
                        value: float = 1.0) -> np.ndarray:
    """Hue shift (degrees) and saturation/value gains, in HSV."""
    hsv = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue, 360.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * value, 0, 1)
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def transform_object(image: np.ndarray, mask: np.ndarray,
                     center: Tuple[float, float], shift: Tuple[float, float],
                     scale: float, angle: float,
                     tps_offsets: Optional[np.ndarray] = None
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Move (``shift`` pixels), scale and rotate (``angle`` degrees) one
    object about ``center`` ``(x, y)``, then deform it by a thin-plate
    spline whose 3x3 control points on the moved object's box move by
    ``tps_offsets`` ``(9, 2)`` pixels.

    Returns:
        tuple: the moved ``(H, W, 3)`` image and its ``(H, W)`` bool mask.
    """
    height, width = mask.shape
    matrix = cv2.getRotationMatrix2D((float(center[0]), float(center[1])),
                                     float(angle), float(scale))
    matrix[:, 2] += shift
    moved = cv2.warpAffine(image, matrix, (width, height),
                           flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    moved_mask = cv2.warpAffine(mask.astype(np.uint8), matrix,
                                (width, height), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if tps_offsets is not None and moved_mask.any():
        x, y, w, h = cv2.boundingRect(moved_mask)
        gx, gy = np.meshgrid(np.linspace(x, x + max(w - 1, 1), 3),
                             np.linspace(y, y + max(h - 1, 1), 3))
        points = np.stack([gx.ravel(), gy.ravel()], 1)
        # content at points moves to points + offsets
        moved, moved_mask = warp_thin_plate_spline(
            moved, moved_mask, points + np.asarray(tps_offsets), points)
    return moved, moved_mask > 0


def blend_object(canvas: np.ndarray, obj: np.ndarray, mask: np.ndarray,
                 seamless: bool = True, band: int = 3) -> np.ndarray:
    """Paste ``obj`` (``(H, W, 3)``, where ``mask`` is set) on ``canvas``.

    With ``seamless``, ``cv2.seamlessClone`` (normal cloning) blends the
    object into the canvas and its result is used in a band of ``band``
    pixels inside the outline; the interior keeps the object's pixels.
    When the object touches the image border (seamlessClone needs a margin)
    or OpenCV raises, the object is alpha-blended with a feathered mask.
    """
    mask = mask.astype(bool)
    if not mask.any():
        return canvas
    height, width = mask.shape
    mask_u8 = mask.astype(np.uint8) * 255
    x, y, w, h = cv2.boundingRect(mask_u8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    core = cv2.erode(mask_u8, kernel)
    alpha = cv2.GaussianBlur(core.astype(np.float32) / 255.0,
                             (2 * band + 1, 2 * band + 1), 0)
    alpha = np.maximum(alpha, core > 0)[..., None]
    base = None
    if seamless and x > 1 and y > 1 and x + w < width - 1 and \
            y + h < height - 1 and min(w, h) > 2:
        try:
            center = (x + w // 2, y + h // 2)
            # seamlessClone places the mask's box centred at ``center``
            # (the box of an odd size is centred at x + w // 2 as well)
            base = cv2.seamlessClone(
                np.ascontiguousarray(obj), np.ascontiguousarray(canvas),
                mask_u8, center, cv2.NORMAL_CLONE)
        except cv2.error:
            base = None
    if base is None:  # alpha blending with a soft edge inside the object
        soft = cv2.GaussianBlur(mask.astype(np.float32), (5, 5), 0)
        soft = (np.where(mask, np.maximum(soft, 0.5), 0))[..., None]
        base = canvas * (1 - soft) + obj * soft
    out = obj * alpha + base * (1 - alpha)
    out = np.where(mask[..., None], out, base)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# clip generation
# ---------------------------------------------------------------------------
def _draw_params(rng: np.random.Generator, ids: Sequence[int],
                 size: Tuple[int, int], strength: float) -> dict:
    """Random departures from the identity, ``strength`` 1 for the first
    frame, smaller for the steps between frames."""
    height, width = size
    s = strength
    return dict(
        bg_shift=rng.uniform(-1, 1, 2) * s * 0.04 * np.array([width, height]),
        hue=rng.uniform(-1, 1) * s * 6.0,
        saturation=float(np.exp(rng.uniform(-1, 1) * s * 0.15)),
        value=float(np.exp(rng.uniform(-1, 1) * s * 0.2)),
        objects={
            i: dict(shift=rng.uniform(-1, 1, 2) * s * 0.08 *
                    np.array([width, height]),
                    log_scale=rng.uniform(-1, 1) * s * 0.15,
                    angle=rng.uniform(-1, 1) * s * 12.0,
                    tps=rng.uniform(-1, 1, (9, 2)) * s * 0.06)
            for i in ids})


def _accumulate(params: dict, step: dict) -> dict:
    out = dict(
        bg_shift=params['bg_shift'] + step['bg_shift'],
        hue=params['hue'] + step['hue'],
        saturation=params['saturation'] * step['saturation'],
        value=params['value'] * step['value'],
        objects={})
    for i, p in params['objects'].items():
        q = step['objects'][i]
        out['objects'][i] = dict(shift=p['shift'] + q['shift'],
                                 log_scale=p['log_scale'] + q['log_scale'],
                                 angle=p['angle'] + q['angle'],
                                 tps=p['tps'] + q['tps'])
    return out


def _render(background: np.ndarray, image: np.ndarray, labels: np.ndarray,
            ids: Sequence[int], params: dict, flip: bool,
            seamless: bool) -> Tuple[np.ndarray, np.ndarray]:
    height, width = labels.shape
    canvas = shift_background(background, *params['bg_shift'], flip=flip)
    out_labels = np.zeros((height, width), np.uint8)
    for obj_id in ids:
        mask = labels == obj_id
        ys, xs = np.nonzero(mask)
        center = (float(xs.mean()), float(ys.mean()))
        p = params['objects'][obj_id]
        # keep the object's centre in the image: the clip must show it
        shift = np.asarray(p['shift'], np.float64)
        target = np.clip(np.array(center) + shift,
                         [0.05 * width, 0.05 * height],
                         [0.95 * width, 0.95 * height])
        shift = target - np.array(center)
        obj_size = max(np.ptp(xs) + 1, np.ptp(ys) + 1)
        moved, moved_mask = transform_object(
            image, mask, center, shift, float(np.exp(p['log_scale'])),
            p['angle'], p['tps'] * obj_size)
        if not moved_mask.any():
            continue
        canvas = blend_object(canvas, moved, moved_mask, seamless=seamless)
        out_labels[moved_mask] = obj_id
    canvas = change_illumination(canvas, params['hue'],
                                 params['saturation'], params['value'])
    return canvas, out_labels


def lucid_dream_clip(image: np.ndarray, labels: np.ndarray,
                     num_frames: int = 2, seed: SeedLike = None,
                     step_strength: float = 0.3, flip_prob: float = 0.2,
                     seamless: bool = True,
                     background: Optional[np.ndarray] = None
                     ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Dream a clip of ``num_frames`` images from one annotated frame.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        labels (np.ndarray): ``(H, W)`` uint8 labels (255 ignored: removed
            with the objects, background in the output).
        num_frames (int): Frames of the clip (2 = a pair). Defaults to 2.
        seed (int | np.random.Generator, optional): Randomness; None draws
            a seed from ``np.random``.
        step_strength (float): Size of the change between consecutive
            frames relative to that between the given frame and frame 0.
        flip_prob (float): Probability to mirror the background of the
            clip. Defaults to 0.2.
        seamless (bool): Poisson blending; False alpha-blends. Defaults to
            True.
        background (np.ndarray, optional): The inpainted background, if
            already computed (:func:`inpaint_background`).

    Returns:
        tuple: lists of ``(H, W, 3)`` uint8 frames and ``(H, W)`` uint8
        label maps (object ids as given).
    """
    if num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    image = np.asarray(image, np.uint8)
    labels = np.asarray(labels, np.uint8)
    if image.ndim != 3 or image.shape[:2] != labels.shape:
        raise ValueError(f'image {image.shape} and labels {labels.shape} '
                         'do not match')
    rng = _as_rng(seed)
    ids = object_ids(labels)
    if background is None:
        background = inpaint_background(image, labels)
    flip = bool(rng.random() < flip_prob)
    params = _draw_params(rng, ids, labels.shape, 1.0)
    frames, masks = [], []
    for t in range(num_frames):
        if t > 0:
            params = _accumulate(
                params, _draw_params(rng, ids, labels.shape, step_strength))
        frame, out = _render(background, image, labels, ids, params, flip,
                             seamless)
        frames.append(frame)
        masks.append(out)
    return frames, masks


def lucid_dream_pair(image: np.ndarray, labels: np.ndarray,
                     seed: SeedLike = None, **kwargs):
    """Two dreamed frames (a training pair): ``lucid_dream_clip`` with
    ``num_frames=2``."""
    return lucid_dream_clip(image, labels, num_frames=2, seed=seed, **kwargs)


@TRANSFORMS.register_module()
class LucidDreamClip(BaseTransform):
    """Replace a sample by a lucid-dreamed clip of its first frame.

    Takes ``image``/``mask`` (a static sample) or the first of
    ``frames``/``masks`` and writes ``frames``/``masks`` lists of
    ``num_frames``, for ``SelectObjects`` and ``PackClipInputs``. The seed
    is drawn from ``np.random`` (reproducible under ``np.random.seed``).

    Args:
        num_frames (int): Defaults to 3.
        step_strength (float): See :func:`lucid_dream_clip`.
        flip_prob (float): See :func:`lucid_dream_clip`.
        seamless (bool): See :func:`lucid_dream_clip`.
    """

    def __init__(self, num_frames: int = 3, step_strength: float = 0.3,
                 flip_prob: float = 0.2, seamless: bool = True):
        self.num_frames = num_frames
        self.kwargs = dict(step_strength=step_strength, flip_prob=flip_prob,
                           seamless=seamless)

    def transform(self, results: dict) -> dict:
        if 'image' in results:
            image, labels = results['image'], results['mask']
        else:
            image, labels = results['frames'][0], results['masks'][0]
        seed = int(np.random.randint(0, 2**31 - 1))
        frames, masks = lucid_dream_clip(image, labels, self.num_frames,
                                         seed=seed, **self.kwargs)
        results['frames'], results['masks'] = frames, masks
        results['img_shape'] = labels.shape
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_frames={self.num_frames}, '
                f'{self.kwargs})')
