"""A frame of another size in a training video is named itself (the table
row: "a frame of another size in a training video: the error names the
frame after the odd one")."""
import os

import cv2
import numpy as np
import pytest

from vosbench.datasets.transforms import LoadClipFrames
from vosbench.utils.mask_io import write_mask


def write_sequence(folder, sizes, mask_sizes=None):
    """Frames ``00000.jpg ...`` of the given ``(H, W)`` sizes and their
    masks (of ``mask_sizes``, default the frames' sizes)."""
    os.makedirs(folder, exist_ok=True)
    frames, masks = [], []
    for t, size in enumerate(sizes):
        frames.append(os.path.join(folder, f'{t:05d}.jpg'))
        cv2.imwrite(frames[-1], np.full((*size, 3), 100, np.uint8))
        masks.append(os.path.join(folder, f'{t:05d}.png'))
        write_mask(masks[-1], np.zeros((mask_sizes or sizes)[t], np.uint8))
    return dict(seq_name='seq', frame_paths=frames, mask_paths=masks)


@pytest.mark.parametrize('odd', [0, 1, 2])
def test_the_odd_frame_of_a_clip_is_named(tmp_path, odd):
    sizes = [(24, 32)] * 3
    sizes[odd] = (24, 40)
    results = write_sequence(str(tmp_path), sizes)
    with pytest.raises(ValueError) as info:
        LoadClipFrames()(dict(results, clip_indices=[0, 1, 2]))
    message = str(info.value)
    assert f'{odd:05d}.jpg (24, 40)' in message
    assert '(24, 32)' in message and 'seq' in message
    others = {0, 1, 2} - {odd}
    assert not any(f'{t:05d}.jpg' in message for t in others)


def test_two_frame_clip_uses_the_annotation_size(tmp_path):
    """No majority in a 2-frame clip: the frame whose size is not its
    annotation's is the odd one."""
    results = write_sequence(str(tmp_path), [(24, 40), (24, 32)],
                             mask_sizes=[(24, 32), (24, 32)])
    with pytest.raises(ValueError) as info:
        LoadClipFrames()(dict(results, clip_indices=[0, 1]))
    message = str(info.value)
    assert '00000.jpg (24, 40)' in message and '00001.jpg' not in message


def test_clip_of_one_size_loads(tmp_path):
    results = write_sequence(str(tmp_path), [(24, 32)] * 3)
    out = LoadClipFrames()(dict(results, clip_indices=[2, 0]))
    assert [f.shape for f in out['frames']] == [(24, 32, 3)] * 2
