"""``max_size``: frames with a larger shorter side are processed at that
size and the results come back at the frame's size."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from vos_test_utils import build_tiny, make_video, run_probs

from vosbench.inference import segment_video
from vosbench.inference.video_stream import processing_size, resize_probs
from vosbench.utils.option_checks import OptionError


@pytest.mark.parametrize('size,max_size,expected', [
    ((1080, 1920), 480, (480, 853)),
    ((480, 854), 480, (480, 854)),   # not larger: unchanged
    ((240, 427), 480, (240, 427)),   # smaller frames are not enlarged
    ((1920, 1080), 480, (853, 480)),  # portrait: the shorter side
    ((64, 96), None, (64, 96)),
])
def test_processing_size(size, max_size, expected):
    assert processing_size(size, max_size) == expected


def test_outputs_are_at_the_frame_size_and_the_network_sees_less():
    torch.set_num_threads(1)
    frames, first = make_video(5, 64, 96)
    model = build_tiny(max_size=32)
    seen = []
    encode_query = model.encode_query

    def spy(frame):
        seen.append(tuple(frame.shape[-2:]))
        return encode_query(frame)
    model.encode_query = spy
    probs, stream = run_probs(model, frames, first)
    assert probs.shape == (5, 3, 64, 96)
    assert stream.internal_size == (32, 48)
    assert set(seen) == {(32, 48)}  # a multiple of 16: no padding
    torch.testing.assert_close(probs.sum(1), torch.ones(5, 64, 96))
    labels = list(segment_video(model, frames, first))
    assert all(lab.shape == (64, 96) for lab in labels)
    np.testing.assert_array_equal(labels[0], first)
    # the objects are still found: most of each box is labelled right
    later = labels[-1]
    assert (later == 1).sum() > 0.5 * (first == 1).sum()


def test_same_results_as_running_on_resized_frames():
    """The stream at max_size equals a plain stream on frames resized as
    the stream resizes them, its probabilities resized back."""
    torch.set_num_threads(1)
    frames, first = make_video(4, 64, 96)
    capped, _ = run_probs(build_tiny(max_size=32), frames, first)

    def down(frame):
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
        return F.interpolate(x, (32, 48), mode='bilinear',
                             align_corners=False, antialias=True)[0]
    plain = build_tiny()
    stream = plain.new_stream([1, 2])
    onehot = torch.stack([torch.from_numpy(first == i) for i in (0, 1, 2)])
    small = F.interpolate(onehot[None].float(), (32, 48), mode='area')[0]
    stream.start(down(frames[0]), np.zeros((32, 48), np.uint8))
    stream.memorize(small)
    for t, frame in enumerate(frames[1:], start=1):
        probs = stream.segment(down(frame))
        stream.memorize(probs)
        up = F.interpolate(probs[None], (64, 96), mode='bilinear',
                           align_corners=False)[0]
        torch.testing.assert_close(capped[t], up, atol=1e-5, rtol=0)


def test_max_size_not_smaller_than_the_frame_changes_nothing():
    torch.set_num_threads(1)
    frames, first = make_video(4, 64, 96)
    plain, _ = run_probs(build_tiny(), frames, first)
    capped, _ = run_probs(build_tiny(max_size=64), frames, first)
    assert torch.equal(plain, capped)


def test_max_size_is_checked():
    with pytest.raises(OptionError, match='max_size'):
        build_tiny(max_size=0)


@pytest.mark.parametrize('channels', [1, 3, 13])
def test_resize_probs_is_bilinear_with_half_pixel_centres(channels):
    """The CPU path (OpenCV) agrees with F.interpolate(align_corners=False)
    for any channel count, including the one OpenCV returns as 2-D."""
    torch.manual_seed(0)
    probs = torch.rand(channels, 45, 80)
    expected = F.interpolate(probs[None], (108, 192), mode='bilinear',
                             align_corners=False)[0]
    resized = resize_probs(probs, (108, 192))
    assert resized.shape == (channels, 108, 192)
    torch.testing.assert_close(resized, expected, atol=1e-4, rtol=0)
    # float64 takes torch's own path: exact
    assert torch.equal(resize_probs(probs.double(), (108, 192)),
                       F.interpolate(probs.double()[None], (108, 192),
                                     mode='bilinear', align_corners=False)[0])
