"""``object_chunk_size``: objects encoded and decoded a few at a time give
the result of all at once (fp32, to 1e-5)."""
import numpy as np
import pytest
import torch
from vos_test_utils import build_tiny

from vosbench.inference import segment_video


def many_objects(num_frames=5, height=64, width=96, num_objects=5):
    rng = np.random.default_rng(0)
    frames, first = [], np.zeros((height, width), np.uint8)
    for t in range(num_frames):
        frame = rng.integers(40, 90, (height, width, 3)).astype(np.uint8)
        for i in range(num_objects):
            top, left = 4 + 11 * (i % 5), 4 + 17 * i + t
            frame[top:top + 9, left:left + 12] = ((40 * i) % 256,
                                                  (200 - 30 * i) % 256, 90)
            if t == 0:
                first[top:top + 9, left:left + 12] = i + 1
        frames.append(frame)
    return frames, first


def run(model, frames, given):
    stream, out = None, []
    for t, frame in enumerate(frames):
        if stream is None:
            stream = model.new_stream(sorted(set(given[0].ravel()) - {0}))
            out.append(stream.start(frame, given[0]))
        else:
            out.append(stream.step(frame, given.get(t)))
    return out


@pytest.mark.parametrize('chunk', [1, 2, 3])
def test_chunked_objects_equal_unchunked(chunk):
    torch.set_num_threads(1)
    frames, first = many_objects()
    # objects 4 and 5 join at frame 2: two memory groups
    start = np.where(first > 3, 0, first).astype(np.uint8)
    later = np.where(first > 3, first, 0).astype(np.uint8)
    given = {0: start, 2: later}
    whole = run(build_tiny(), frames, given)
    chunked = run(build_tiny(object_chunk_size=chunk), frames, given)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_chunks_bound_the_objects_per_call():
    torch.set_num_threads(1)
    frames, first = many_objects()
    model = build_tiny(object_chunk_size=2)
    sizes = []
    decode = model.decode_objects

    def spy(memory_key, *args):
        sizes.append(memory_key.shape[0])
        return decode(memory_key, *args)
    model.decode_objects = spy
    labels = list(segment_video(model, frames, first))
    assert len(labels) == 5 and max(sizes) == 2
    assert sizes[:3] == [2, 2, 1]  # 5 objects: 2 + 2 + 1 per frame


def torch_peak_bytes(fn) -> int:
    """Peak of the bytes torch allocates while ``fn()`` runs, above what was
    allocated before (from the profiler's memory records, in time order)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        fn()
    events = sorted(p.events(), key=lambda e: e.time_range.start)
    current = peak = 0
    for event in events:
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak


def step_peak(num_objects: int, height=64, width=176) -> tuple:
    """Peak memory of the third step of a chunked stream (chunks of 2), and
    the bytes the memory read by that step holds per object."""
    frames, first = many_objects(num_frames=4, height=height, width=width,
                                 num_objects=num_objects)
    stream = build_tiny(object_chunk_size=2).new_stream(
        list(range(1, num_objects + 1)))
    # ``probs`` (the last step's output, held as a caller may hold it) was
    # allocated before the profiled step: it is not counted in its peak
    probs = stream.start(frames[0], first)
    for frame in frames[1:3]:
        probs = stream.step(frame)
    peak = torch_peak_bytes(lambda: stream.step(frames[3]))
    bank_per_object = sum(t[0].numel() * t.element_size()
                          for t in stream.bank.keys + stream.bank.values)
    return peak, bank_per_object


def test_chunked_step_memory_grows_by_about_two_planes_per_object():
    """With chunks, a step's peak grows with the objects by about two
    frame-size planes each (2.1 measured), not by the six that decoding
    every chunk into its own tensor and aggregating out of place made (6.0
    measured here before the in-place buffer)."""
    torch.set_num_threads(1)
    few, bank_per_object = step_peak(2)
    many, _ = step_peak(8)
    plane = 64 * 176 * 4  # one float32 plane at the padded frame size
    growth_per_object = (many - few) / 6
    assert growth_per_object < 2.5 * plane + bank_per_object, (
        growth_per_object / plane, bank_per_object / plane)
