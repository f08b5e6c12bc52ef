"""Per-video fine-tuning on the first frame (lucid-data-dreaming pairs, as
the second technical report).

:func:`finetune_on_first_frame` trains a copy of a model on clips
lucid-dreamed from the annotated first frame of one video
(:mod:`vosbench.datasets.transforms.lucid`), with Adam and the model's own
``loss``; the original model is left untouched. No runner is involved:
it is a plain PyTorch loop, batch-norm layers stay in eval mode (a batch
of clips of one video says little about feature statistics).
"""
import copy
import time
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from vosbench.datasets.transforms.lucid import (inpaint_background,
                                                lucid_dream_clip, object_ids)


def _round_up(value: int, divisor: int) -> int:
    return int(np.ceil(value / divisor) * divisor)


def _crop_clip(frames: List[np.ndarray], masks: List[np.ndarray],
               crop: Tuple[int, int], rng: np.random.Generator,
               attempts: int = 5):
    """The same random ``crop`` ``(h, w)`` window of every frame, chosen so
    that frame 0 shows an object where possible (padded when the frame is
    smaller)."""
    ch, cw = crop
    height, width = masks[0].shape
    if height < ch or width < cw:
        ph, pw = max(ch - height, 0), max(cw - width, 0)
        frames = [cv2.copyMakeBorder(f, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
                  for f in frames]
        masks = [np.pad(m, ((0, ph), (0, pw))) for m in masks]
        height, width = masks[0].shape
    for _ in range(attempts):
        y = int(rng.integers(0, height - ch + 1))
        x = int(rng.integers(0, width - cw + 1))
        if np.any((masks[0][y:y + ch, x:x + cw] != 0) &
                  (masks[0][y:y + ch, x:x + cw] != 255)):
            break
    return ([f[y:y + ch, x:x + cw] for f in frames],
            [m[y:y + ch, x:x + cw] for m in masks])


def lucid_training_batch(image: np.ndarray, labels: np.ndarray,
                         batch_size: int = 2, num_frames: int = 3,
                         crop: Optional[Tuple[int, int]] = None,
                         rng: Optional[np.random.Generator] = None,
                         background: Optional[np.ndarray] = None,
                         size_divisor: int = 16):
    """A training batch of lucid-dreamed clips of one annotated frame.

    Object ids are renumbered ``1..K`` in increasing order. Without
    ``crop`` the clips are resized to a multiple of ``size_divisor``.

    Returns:
        tuple: ``frames`` ``(B, T, 3, h, w)`` float in [0, 1] and
        ``data_samples``: dicts with ``masks`` ``(T, h, w)`` long and
        ``num_objects``.
    """
    rng = rng if rng is not None else np.random.default_rng()
    ids = object_ids(labels)
    lut = np.zeros(256, np.uint8)
    lut[255] = 255
    for new_id, old_id in enumerate(ids, start=1):
        lut[old_id] = new_id
    labels = lut[labels]
    if background is None:
        background = inpaint_background(image, labels)
    clips, samples = [], []
    for _ in range(batch_size):
        frames, masks = lucid_dream_clip(image, labels, num_frames, seed=rng,
                                         background=background)
        if crop is not None:
            frames, masks = _crop_clip(frames, masks, tuple(crop), rng)
        else:
            height, width = masks[0].shape
            size = (_round_up(width, size_divisor),
                    _round_up(height, size_divisor))
            if size != (width, height):
                frames = [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
                          for f in frames]
                masks = [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
                         for m in masks]
        clips.append(np.stack(frames))
        samples.append(dict(masks=torch.from_numpy(np.stack(masks)).long(),
                            num_objects=len(ids)))
    frames = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3)
    return frames.float().div_(255), samples


def set_bn_eval(model: torch.nn.Module) -> None:
    """Put every batch-norm layer of ``model`` in eval mode."""
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.eval()


def finetune_on_first_frame(model: torch.nn.Module, frame: np.ndarray,
                            labels: np.ndarray, iters: int = 200,
                            lr: float = 5e-6, batch_size: int = 2,
                            num_frames: int = 3,
                            crop: Optional[Sequence[int]] = None,
                            seed: int = 0, log_interval: int = 0,
                            logger: Optional[Callable[[str], None]] = print
                            ) -> torch.nn.Module:
    """Fine-tune a copy of ``model`` on one annotated frame.

    Args:
        model: A VOS model with ``loss(frames, data_samples)`` (STM).
        frame (np.ndarray): ``(H, W, 3)`` uint8 RGB first frame.
        labels (np.ndarray): ``(H, W)`` uint8 labels of the frame.
        iters (int): Optimisation steps. Defaults to 200.
        lr (float): Adam learning rate. Defaults to 5e-6 (report 2).
        batch_size (int): Clips per step. Defaults to 2.
        num_frames (int): Frames per dreamed clip. Defaults to 3.
        crop (tuple, optional): ``(h, w)`` training crop; None trains on
            the whole frame (resized to a multiple of 16).
        seed (int): Seed of the dreamed clips (and of torch). Defaults to 0.
        log_interval (int): Log the loss every so many steps (0: never).
        logger (callable): Where log lines go. Defaults to print.

    Returns:
        The fine-tuned copy, in eval mode.
    """
    frame = np.asarray(frame, np.uint8)
    labels = np.asarray(labels, np.uint8)
    if frame.shape[:2] != labels.shape:
        raise ValueError(f'frame {frame.shape} and labels {labels.shape} '
                         'differ in size')
    num_objects = len(object_ids(labels))
    if num_objects == 0:
        raise ValueError('the first-frame mask has no object to fine-tune on')
    tuned = copy.deepcopy(model)
    train_cfg = dict(getattr(tuned, 'train_cfg', None) or {})
    train_cfg['max_objects'] = max(int(train_cfg.get('max_objects', 0)),
                                   num_objects)
    tuned.train_cfg = train_cfg
    device = next(tuned.parameters()).device
    params = [p for p in tuned.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    background = inpaint_background(frame, labels)
    tuned.train()
    set_bn_eval(tuned)
    start = time.perf_counter()
    for step in range(1, iters + 1):
        frames, samples = lucid_training_batch(
            frame, labels, batch_size=batch_size, num_frames=num_frames,
            crop=crop, rng=rng, background=background)
        samples = [dict(s, masks=s['masks'].to(device)) for s in samples]
        losses = tuned.loss(frames.to(device), samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if logger is not None and log_interval and (
                step % log_interval == 0 or step == iters):
            logger(f'fine-tune step {step}/{iters}: loss {loss.item():.4f} '
                   f'({time.perf_counter() - start:.1f}s)')
    tuned.eval()
    return tuned
