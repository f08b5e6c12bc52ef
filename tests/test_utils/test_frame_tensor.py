"""frames_to_tensor: the one conversion of uint8 frames to [0, 1]."""
import numpy as np
import pytest
import torch

from vosbench.utils.frame_tensor import frames_to_tensor


def test_array_frame_becomes_chw_unit_float():
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[0, 1] = (255, 51, 0)
    tensor = frames_to_tensor(frame)
    assert tensor.shape == (3, 2, 3) and tensor.dtype == torch.float32
    assert torch.equal(tensor[:, 0, 1], torch.tensor([1.0, 0.2, 0.0]))
    assert tensor.sum() == pytest.approx(1.2)


def test_uint8_tensor_keeps_its_shape_and_float_passes():
    clips = torch.randint(0, 256, (2, 3, 3, 4, 5), dtype=torch.uint8)
    out = frames_to_tensor(clips)
    assert out.shape == clips.shape
    assert torch.equal(out, clips.float() / 255)
    unit = torch.rand(3, 4, 5, dtype=torch.float64)
    assert torch.equal(frames_to_tensor(unit), unit.float())


def test_rejects_arrays_that_are_not_rgb_frames():
    with pytest.raises(ValueError, match='RGB'):
        frames_to_tensor(np.zeros((4, 5), np.uint8))
