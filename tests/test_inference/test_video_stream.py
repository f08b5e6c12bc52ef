"""The video stream (vosbench.inference.video_stream) with the real tiny
STM instrumented: which frames the memory holds at each step (STM, Oh et
al. ICCV 2019), the memory options, soft probabilities memorised, the
segment / memorize order, padding and cropping, frame size checks and the
aggregation channels.

Objects that join mid-video (memory groups) are tested in
``test_video_stream_new_objects.py``.
"""
import numpy as np
import pytest
import torch
from vos_test_utils import make_noise_video

from vosbench.inference import VideoStream, labels_to_onehot, pad_to_multiple


class Spy:
    """Records what the STM's building blocks receive during inference.

    ``encode_memory`` calls are recorded with the (cropped) frame, the
    (cropped) probabilities and the key it produced; each segmented frame
    (``encode_query``, ``decode_objects`` then ``aggregate``) with the
    frame, the frames held in memory (identified by matching keys) and the
    aggregated logits.
    """

    def __init__(self, model, monkeypatch, frames, padding):
        self.model = model
        self.frames = frames  # list of (3, H, W) float tensors in [0, 1]
        self.left, _, self.top, _ = padding
        self.height, self.width = frames[0].shape[-2:]
        self.memory_calls = []
        self.segment_calls = []
        self._query = None
        self._memory = None
        encode_memory = model.encode_memory
        encode_query = model.encode_query
        decode_objects = model.decode_objects
        aggregate = model.aggregate

        def spy_encode_memory(frames_, probs, valid=None, other_probs=None):
            key, value = encode_memory(frames_, probs, valid, other_probs)
            self.memory_calls.append(dict(
                frames=frames_.clone(), probs=probs.clone(),
                frame=self.identify(frames_), key=key.clone()))
            return key, value

        def spy_encode_query(frames_):
            self._query = frames_.clone()
            return encode_query(frames_)

        def spy_decode_objects(memory_key, *args):
            self._memory = self.memory_frames(memory_key)
            return decode_objects(memory_key, *args)

        def spy_aggregate(object_probs, valid=None):
            logits = aggregate(object_probs, valid)
            self.segment_calls.append(dict(
                frame=self.identify(self._query), memory=self._memory,
                logits=logits.clone(), frames=self._query))
            return logits

        monkeypatch.setattr(model, 'encode_memory', spy_encode_memory)
        monkeypatch.setattr(model, 'encode_query', spy_encode_query)
        monkeypatch.setattr(model, 'decode_objects', spy_decode_objects)
        monkeypatch.setattr(model, 'aggregate', spy_aggregate)

    def crop(self, x):
        return x[..., self.top:self.top + self.height,
                 self.left:self.left + self.width]

    def identify(self, padded):
        crop = self.crop(padded[0])
        matches = [i for i, f in enumerate(self.frames)
                   if torch.allclose(crop, f, atol=1e-6)]
        assert len(matches) == 1, 'frame not recognised'
        return matches[0]

    def memory_frames(self, memory_key):
        found = []
        for t in range(memory_key.shape[2]):
            same = [c['frame'] for c in self.memory_calls
                    if torch.equal(c['key'], memory_key[:, :, t])]
            assert same, 'memory holds a key that was never encoded'
            found.append(same[-1])
        return found


def as_tensor(frame):
    return torch.from_numpy(frame).permute(2, 0, 1).float() / 255


def test_stream_memory_holds_kept_frames_and_previous(tiny_stm,
                                                      monkeypatch):
    frames, labels = make_noise_video(13, 16, 16)
    spy = Spy(tiny_stm, monkeypatch, [as_tensor(f) for f in frames],
              (0, 0, 0, 0))
    stream = tiny_stm.new_stream([1, 2])
    assert stream.bank.mem_every == 5
    stream.start(frames[0], labels)
    for t in range(1, 13):
        probs = stream.segment(frames[t])
        stream.memorize(probs)
        call = spy.segment_calls[-1]
        assert call['frame'] == t
        expected = sorted({i for i in range(0, t - 1, 5)} | {t - 1})
        assert sorted(call['memory']) == expected, f'frame {t}'
        # frame t - 1 was encoded just before segmenting frame t
        assert spy.memory_calls[-1]['frame'] == t - 1
    # each frame is encoded once, all objects in one batch
    assert [c['frame'] for c in spy.memory_calls] == list(range(12))
    assert all(c['probs'].shape == (1, 2, 16, 16) for c in spy.memory_calls)
    assert all(c['key'].shape[0] == 2 for c in spy.memory_calls)
    assert len(spy.segment_calls) == 12


def test_stream_memory_options(tiny_stm, monkeypatch):
    frames, labels = make_noise_video(9, 16, 16)
    spy = Spy(tiny_stm, monkeypatch, [as_tensor(f) for f in frames],
              (0, 0, 0, 0))
    stream = tiny_stm.new_stream([1, 2], mem_every=2, keep_previous=False,
                                 max_memory_frames=3)
    stream.start(frames[0], labels)
    memories = []
    for t in range(1, 9):
        stream.memorize(stream.segment(frames[t]))
        memories.append(sorted(spy.segment_calls[-1]['memory']))
    # kept: 0, 2, 4, 6 capped at 3 frames (oldest after 0 dropped first);
    # without the previous frame, frame t reads only the kept frames, a
    # memory frame from the step it is encoded at (t - 1) on
    assert memories == [[0], [0], [0, 2], [0, 2], [0, 2, 4], [0, 2, 4],
                        [0, 2, 4, 6], [0, 4, 6]]


def test_stream_memorises_soft_probabilities(tiny_stm, monkeypatch):
    frames, labels = make_noise_video(3, 32, 32)
    spy = Spy(tiny_stm, monkeypatch, [as_tensor(f) for f in frames],
              (0, 0, 0, 0))
    stream = tiny_stm.new_stream([1, 2])
    probs0 = stream.start(frames[0], labels)
    torch.testing.assert_close(probs0, labels_to_onehot(labels, [1, 2]))
    probs1 = stream.segment(frames[1])
    # frame 0 was encoded with its one-hot ground truth
    torch.testing.assert_close(spy.memory_calls[0]['probs'][0], probs0[1:])
    stream.memorize(probs1)
    stream.segment(frames[2])
    memorised = spy.memory_calls[1]['probs'][0]
    torch.testing.assert_close(memorised, probs1[1:])
    # soft values, not an argmax
    assert ((memorised > 0.01) & (memorised < 0.99)).any()
    # whatever the caller memorises (e.g. an ensemble average) is used
    custom = torch.full_like(probs1, 0.25)
    stream.memorize(custom)
    stream.segment(frames[2])
    torch.testing.assert_close(spy.memory_calls[2]['probs'][0], custom[1:])


def test_stream_requires_memorize_between_frames(tiny_stm):
    frames, labels = make_noise_video(3, 16, 16)
    stream = tiny_stm.new_stream([1])
    with pytest.raises(RuntimeError):
        stream.segment(frames[1])
    stream.start(frames[0], labels)
    stream.segment(frames[1])
    with pytest.raises(RuntimeError, match='memorize'):
        stream.segment(frames[2])


def test_pad_to_multiple():
    # (left, right, top, bottom): floor(d / 2) before, the rest after
    assert pad_to_multiple((69, 91), 16) == (2, 3, 5, 6)
    assert pad_to_multiple((70, 90), 16) == (3, 3, 5, 5)
    assert pad_to_multiple((480, 854), 16) == (5, 5, 0, 0)
    assert pad_to_multiple((64, 32), 16) == (0, 0, 0, 0)


@pytest.mark.parametrize('size,padding', [((69, 91), (2, 3, 5, 6)),
                                          ((70, 90), (3, 3, 5, 5))])
def test_stream_pads_and_crops(tiny_stm, monkeypatch, size, padding):
    height, width = size
    frames, labels = make_noise_video(3, height, width)
    left, right, top, bottom = padding  # floor(d / 2) left / top
    spy = Spy(tiny_stm, monkeypatch, [as_tensor(f) for f in frames],
              padding)
    stream = tiny_stm.new_stream([1, 2])
    stream.start(frames[0], labels)
    probs = stream.segment(frames[1])
    assert probs.shape == (3, height, width)

    mem = spy.memory_calls[0]
    assert mem['frames'].shape == (1, 3, 80, 96)
    # zero padding in [0, 1] space, floor(d / 2) on the left / top
    padded = mem['frames'][0]
    torch.testing.assert_close(padded[:, top:top + height,
                                      left:left + width], as_tensor(frames[0]))
    outside = torch.ones(80, 96, dtype=torch.bool)
    outside[top:top + height, left:left + width] = False
    assert padded[:, outside].abs().max() == 0
    assert mem['probs'][0][:, outside].abs().max() == 0
    torch.testing.assert_close(
        mem['probs'][0][:, top:top + height, left:left + width],
        labels_to_onehot(labels, [1, 2])[1:])

    seg = spy.segment_calls[0]
    assert seg['frames'].shape == (1, 3, 80, 96)
    full = torch.softmax(seg['logits'][0], dim=0)
    torch.testing.assert_close(
        probs, full[:, top:top + height, left:left + width])


def test_stream_rejects_frames_of_another_size(tiny_stm):
    frames, labels = make_noise_video(2, 32, 32)
    stream = tiny_stm.new_stream([1, 2])
    stream.start(frames[0], labels)
    with pytest.raises(ValueError, match='size'):
        stream.segment(np.zeros((32, 48, 3), np.uint8))
    other = tiny_stm.new_stream([1])
    with pytest.raises(ValueError, match='first mask'):
        other.start(frames[0], labels[:16])
    with pytest.raises(ValueError):
        VideoStream(tiny_stm, [])


def test_stream_aggregation_channels(tiny_stm):
    frames, labels = make_noise_video(2, 16, 16)
    outs = []
    for channels in (None, 11):
        stream = tiny_stm.new_stream([1, 2], aggregation_channels=channels)
        stream.start(frames[0], labels)
        outs.append(stream.segment(frames[1]))
    diff = (outs[0] - outs[1]).abs().max().item()
    assert 0 < diff < 1e-5
