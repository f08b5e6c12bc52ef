"""Shared fixtures: a tiny YouTube-VOS dataset in the released layout, the
tiny STM and a one-thread switch for the tests that run it (plain helpers
for the tiny STM are in ``vos_test_utils.py``)."""
import json
import os
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np
import pytest
import torch

from vosbench.utils.mask_io import write_mask

#: ``{video: {object id: (category, first frame index)}}`` of each split.
#: Frame indices count all frames; the sparse splits hold every 5th.
YTVOS_TRAIN_VIDEOS = {
    'train_a': {1: ('person', 0), 2: ('cat', 0)},
    'train_b': {1: ('zebra', 0), 2: ('person', 5)},
}
YTVOS_VALID_VIDEOS = {
    # object 2 joins at frame 5
    'vid_a': {1: ('person', 0), 2: ('zebra', 5)},
    # nothing in frame 0; ids need not be consecutive; penguin is unseen
    'vid_b': {1: ('cat', 5), 3: ('penguin', 10)},
}
YTVOS_NUM_FRAMES = 16
YTVOS_SIZE = (30, 44)  # not a multiple of 16: the model pads


def ytvos_object_box(obj_id: int, t: int) -> Tuple[slice, slice]:
    """Where object ``obj_id`` is in frame ``t`` (a small moving box)."""
    top = 2 + 9 * ((obj_id - 1) % 3) + t % 3
    left = 3 + 12 * ((obj_id - 1) % 3) + t // 2
    return slice(top, top + 8), slice(left, left + 10)


def _render(objects: Dict[int, Tuple[str, int]], t: int,
            rng: np.random.Generator, size: Tuple[int, int]):
    height, width = size
    frame = rng.integers(60, 120, (height, width, 3)).astype(np.uint8)
    labels = np.zeros(size, np.uint8)
    for obj_id, (_, start) in objects.items():
        if t >= start:
            box = ytvos_object_box(obj_id, t)
            frame[box] = (40 * obj_id % 256, 200, 255 - 50 * obj_id % 256)
            labels[box] = obj_id
    return frame, labels


def make_youtube_vos(root: str, valid_gt: bool = False,
                     num_frames: int = YTVOS_NUM_FRAMES,
                     size: Tuple[int, int] = YTVOS_SIZE,
                     seed: int = 0) -> str:
    """Write a tiny YouTube-VOS in the released layout under ``root``.

    ``train`` (every 5th frame, all annotated), ``valid`` (every 5th frame;
    only first-appearance masks holding the objects that appear there, or,
    with ``valid_gt``, the ground truth of every frame, as a local split
    with ground truth) and ``valid_all_frames`` (every frame, no
    annotations), each sparse split with its meta.json.

    Returns:
        str: ``root``.
    """
    rng = np.random.default_rng(seed)
    sparse = [t for t in range(num_frames) if t % 5 == 0]
    for split, videos in (('train', YTVOS_TRAIN_VIDEOS),
                          ('valid', YTVOS_VALID_VIDEOS)):
        meta = {'videos': {}}
        for video, objects in videos.items():
            for t in range(num_frames):
                frame, labels = _render(objects, t, rng, size)
                name = f'{t:05d}'
                folders = [f'{split}_all_frames'] if split == 'valid' else []
                if t in sparse:
                    folders.append(split)
                for folder in folders:
                    image_dir = osp.join(root, folder, 'JPEGImages', video)
                    os.makedirs(image_dir, exist_ok=True)
                    cv2.imwrite(osp.join(image_dir, name + '.jpg'),
                                cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                if t not in sparse:
                    continue
                mask_path = osp.join(root, split, 'Annotations', video,
                                     name + '.png')
                if split == 'train' or valid_gt:
                    write_mask(mask_path, labels)
                else:
                    new = [i for i, (_, s) in objects.items() if s == t]
                    if new:
                        write_mask(mask_path,
                                   np.where(np.isin(labels, new), labels,
                                            0).astype(np.uint8))
            meta['videos'][video] = {'objects': {
                str(obj_id): {
                    'category': category,
                    'frames': [f'{t:05d}' for t in sparse if t >= start]
                }
                for obj_id, (category, start) in objects.items()
            }}
        with open(osp.join(root, split, 'meta.json'), 'w') as f:
            json.dump(meta, f)
    return root


@pytest.fixture
def make_ytvos():
    """The generator, for tests that change the layout."""
    return make_youtube_vos


@pytest.fixture(scope='session')
def ytvos_root(tmp_path_factory):
    """A tiny YouTube-VOS whose valid split has first-appearance masks
    only (as released). Do not modify it."""
    return make_youtube_vos(str(tmp_path_factory.mktemp('ytvos')))


@pytest.fixture(scope='session')
def ytvos_gt_root(tmp_path_factory):
    """A tiny YouTube-VOS whose valid split has full ground truth."""
    return make_youtube_vos(str(tmp_path_factory.mktemp('ytvos_gt')),
                            valid_gt=True)


@pytest.fixture
def one_torch_thread():
    """Run the test on one torch thread (the tiny model runs fastest so on a
    shared CPU), restoring the thread count afterwards. Not autouse: a test
    module opts in with ``pytestmark =
    pytest.mark.usefixtures('one_torch_thread')``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny_stm():
    """The tiny STM of ``vos_test_utils.build_tiny()`` (seed 0, eval mode),
    one per test module."""
    from vos_test_utils import build_tiny
    return build_tiny()
