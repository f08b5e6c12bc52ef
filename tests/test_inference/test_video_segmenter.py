"""Whole-video inference (vosbench.inference.video_segmenter) through
``STM.segment_video``: object ids mapped back from the stream's channels,
the void label, all objects in one batch, and a video without objects.

Objects given mid-video are tested in ``test_video_stream_new_objects.py``.
"""
import numpy as np
import torch
from vos_test_utils import make_noise_video


def test_segment_video_maps_back_object_ids(tiny_stm, monkeypatch):
    height, width = 20, 24
    frames, _ = make_noise_video(4, height, width)
    first = np.zeros((height, width), np.uint8)
    first[2:8, 2:8] = 2
    first[10:18, 12:20] = 5
    first[0, :] = 255
    calls = []

    def fake_decode_objects(memory_key, memory_value, query_key,
                            query_value, skips):
        # object channel 1 on the left half, channel 2 on the right half
        calls.append(memory_key.shape[0])
        h, w = (16 * d for d in query_key.shape[-2:])
        probs = torch.zeros(1, 2, h, w)
        probs[:, 0, :, :w // 2] = 0.9
        probs[:, 1, :, w // 2:] = 0.9
        return probs

    monkeypatch.setattr(tiny_stm, 'decode_objects', fake_decode_objects)
    out = list(tiny_stm.segment_video(iter(frames), first))
    assert len(out) == 4
    assert all(o.dtype == np.uint8 and o.shape == (height, width)
               for o in out)
    expected0 = first.copy()
    expected0[expected0 == 255] = 0
    np.testing.assert_array_equal(out[0], expected0)
    # the padding is 8 columns, 4 on each side: the model's halves are
    # split at column 16 of the padded frame, i.e. column 12 of the crop
    split = 12
    for labels in out[1:]:
        assert (labels[:, :split] == 2).all()
        assert (labels[:, split:] == 5).all()
    # both objects in one batch at every step
    assert calls == [2, 2, 2]


def test_segment_video_with_the_real_model(tiny_stm):
    frames, _ = make_noise_video(4, 24, 40)
    first = np.zeros((24, 40), np.uint8)
    first[4:12, 4:20] = 2
    first[12:20, 20:36] = 5
    first[20:, :4] = 255
    out = list(tiny_stm.segment_video(frames, first))
    assert len(out) == 4
    expected0 = np.where(first == 255, 0, first).astype(np.uint8)
    np.testing.assert_array_equal(out[0], expected0)
    for labels in out:
        assert labels.dtype == np.uint8 and labels.shape == (24, 40)
        assert set(np.unique(labels)) <= {0, 2, 5}


def test_segment_video_without_objects(tiny_stm):
    frames, _ = make_noise_video(3, 16, 16)
    empty = np.zeros((16, 16), np.uint8)
    empty[0] = 255
    out = list(tiny_stm.segment_video(frames, empty))
    assert len(out) == 3 and all((o == 0).all() for o in out)
