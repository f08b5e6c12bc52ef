"""Helpers shared by the model tests that run the tiny STM
(``configs/_base_/models/stm_r18-tiny.py``) on small synthetic videos.

Test files import them with ``from vos_test_utils import ...``: pytest's
default ``prepend`` import mode puts ``tests/`` on ``sys.path`` for
``tests/conftest.py``. The ``one_torch_thread`` and ``tiny_stm`` fixtures
are in ``tests/conftest.py``.
"""
import math
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CFG = osp.join(REPO, 'configs/_base_/models/stm_r18-tiny.py')

#: Soft aggregation clamps probabilities to ``[EPS, 1 - EPS]``, so a logit
#: is at least ``CLAMP_LOGIT`` (about -16.1); padded objects get exactly it.
EPS = 1e-7
CLAMP_LOGIT = math.log(EPS / (1 - EPS))


def build_tiny(seed: int = 0, **test_cfg):
    """The tiny STM in eval mode, its weights drawn after
    ``torch.manual_seed(seed)``; ``test_cfg`` entries update the config's
    ``model.test_cfg``."""
    torch.manual_seed(seed)
    cfg = Config.fromfile(TINY_CFG)
    cfg.model.test_cfg.update(test_cfg)
    return MODELS.build(cfg.model).eval()


def make_video(num_frames: int, height: int, width: int,
               seed: int = 0) -> Tuple[List[np.ndarray], np.ndarray]:
    """Textured frames with two moving boxes, and the first mask.

    Returns:
        tuple: ``num_frames`` RGB uint8 frames of shape
        ``(height, width, 3)`` and the ``(height, width)`` uint8 labels of
        frame 0 (object 1 top left, object 2 bottom right).
    """
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(num_frames):
        frame = rng.integers(40, 90, (height, width, 3)).astype(np.uint8)
        frame[4 + t:16 + t, 5 + 2 * t:19 + 2 * t] = (220, 60, 40)
        frame[height - 14:height - 4, width - 18 - t:width - 6 - t] = (
            30, 200, 90)
        frames.append(frame)
    first = np.zeros((height, width), np.uint8)
    first[4:16, 5:19] = 1
    first[height - 14:height - 4, width - 18:width - 6] = 2
    return frames, first


def make_noise_video(num_frames: int, height: int, width: int,
                     seed: int = 0) -> Tuple[List[np.ndarray], np.ndarray]:
    """Uniform random frames and a first mask of two rectangles.

    Returns:
        tuple: ``num_frames`` RGB uint8 frames of shape
        ``(height, width, 3)`` drawn from a ``torch.Generator`` seeded with
        ``seed``, and the ``(height, width)`` uint8 labels of frame 0
        (object 1 in the second quarter of rows and columns, object 2 the
        bottom right quarter).
    """
    gen = torch.Generator().manual_seed(seed)
    frames = [torch.randint(0, 256, (height, width, 3), generator=gen,
                            dtype=torch.uint8).numpy()
              for _ in range(num_frames)]
    labels = np.zeros((height, width), np.uint8)
    labels[height // 4:height // 2, width // 4:width // 2] = 1
    labels[height // 2:, width // 2:] = 2
    return frames, labels


def run_probs(model, frames: Sequence[np.ndarray], first: np.ndarray,
              object_ids: Sequence[int] = (1, 2)):
    """Probabilities of every frame through ``model.new_stream``: started on
    ``frames[0]`` with ``first``, then each later frame segmented and its
    probabilities memorised.

    Returns:
        tuple: the stacked probabilities ``(T, 1 + num_objects, H, W)`` and
        the stream.
    """
    stream = model.new_stream(list(object_ids))
    out = [stream.start(frames[0], first)]
    for frame in frames[1:]:
        probs = stream.segment(frame)
        stream.memorize(probs)
        out.append(probs)
    return torch.stack(out), stream
