"""Objects that appear mid-video (YouTube-VOS), in vosbench.inference:
memory groups in VideoStream (video_stream.py), a shared query encoding per
frame, given masks in STM.segment_video / STM.predict (video_segmenter.py),
and the DAVIS path left unchanged."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.inference import MemoryGroup
from vosbench.models.vos import aggregated_probs, soft_aggregate
from vosbench.datasets.transforms import PackVideoInputs
from vosbench.utils.mask_io import write_mask

# the tiny STM (``tiny_stm``) runs fastest on one thread (the CPU is shared)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def pack_video(**fields):
    """A test data sample, packed by the test pipeline."""
    return PackVideoInputs()(fields)['data_samples']


def make_frames(num_frames, height=16, width=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
            for _ in range(num_frames)]


def box_labels(height, width, boxes):
    """``{label: (top, left, h, w)}`` -> ``(H, W)`` uint8 labels."""
    labels = np.zeros((height, width), np.uint8)
    for label, (top, left, h, w) in boxes.items():
        labels[top:top + h, left:left + w] = label
    return labels


class Recorder:
    """Wraps the STM building blocks to record what the stream calls."""

    def __init__(self, model, monkeypatch):
        self.calls = []
        for name in ('encode_query', 'encode_memory', 'decode_objects',
                     'segment_frame'):
            self._wrap(model, name, monkeypatch)

    def _wrap(self, model, name, monkeypatch):
        original = getattr(model, name)

        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            self.calls.append(dict(name=name, args=args, kwargs=kwargs,
                                   out=out))
            return out

        monkeypatch.setattr(model, name, wrapper)

    def named(self, name):
        return [c for c in self.calls if c['name'] == name]

    def clear(self):
        self.calls.clear()


# ---------------------------------------------------------------------------
# VideoStream.add_objects and memory groups
# ---------------------------------------------------------------------------
def test_new_object_gets_its_own_memory_from_its_first_frame(
        tiny_stm, monkeypatch):
    frames = make_frames(9)
    first = box_labels(16, 16, {1: (2, 2, 6, 6)})
    later = box_labels(16, 16, {2: (9, 8, 5, 6)})
    stream = tiny_stm.new_stream([1])
    stream.start(frames[0], first)
    for t in (1, 2, 3):
        stream.memorize(stream.segment(frames[t]))
    rec = Recorder(tiny_stm, monkeypatch)
    stream.add_objects(later)  # object 2 is first given in frame 3
    assert stream.object_ids == [1, 2]
    assert [(g.object_ids, g.start_index) for g in stream.groups] == [
        ([1], 0), ([2], 3)]
    assert rec.calls == []  # adding encodes nothing yet
    reads = {}
    for t in range(4, 9):
        rec.clear()
        out = stream.step(frames[t])
        assert out.shape == (3, 16, 16)
        torch.testing.assert_close(out.sum(0), torch.ones(16, 16))
        # one query encoding per frame, whatever the number of groups
        assert len(rec.named('encode_query')) == 1
        assert rec.named('segment_frame') == []
        decodes = rec.named('decode_objects')
        assert len(decodes) == 2
        reads[t] = [d['args'][0].shape[2] for d in decodes]
        assert [d['args'][0].shape[0] for d in decodes] == [1, 1]
        # both groups decode the same query features
        for d in decodes:
            assert d['args'][2] is rec.named('encode_query')[0]['out'][0]
    # kept: the stream's memory frames (0, 5, ...) and each group's first
    # frame; read: those plus the previous frame
    assert stream.groups[0].bank.frame_indices == [0, 5]
    assert stream.groups[1].bank.frame_indices == [3, 5]
    assert reads == {4: [2, 1],  # {0, 3} and {3}
                     5: [2, 2],  # {0, 4} and {3, 4}
                     6: [2, 2],  # {0, 5} and {3, 5}
                     7: [3, 3],  # {0, 5, 6} and {3, 5, 6}
                     8: [3, 3]}
    assert 'memory_frames=[3, 5]' in repr(stream.groups[1])
    assert isinstance(stream.groups[1], MemoryGroup)


def test_given_mask_overrides_and_is_memorised(tiny_stm, monkeypatch):
    frames = make_frames(4)
    first = box_labels(16, 16, {1: (2, 2, 8, 8)})
    new = box_labels(16, 16, {4: (6, 6, 6, 6)})
    new[0, :] = 255  # void is not an object
    stream = tiny_stm.new_stream([1])
    stream.start(frames[0], first)
    segmented = stream.segment(frames[1])
    stream.memorize(segmented)
    merged = stream.add_objects(new, [4])
    inside = torch.from_numpy(new == 4)
    assert merged.shape == (3, 16, 16)
    # the new object is its mask; background and object 1 are 0 inside it
    torch.testing.assert_close(merged[2], inside.float())
    assert merged[:2, inside].abs().max() == 0
    torch.testing.assert_close(merged[:2, ~inside], segmented[:, ~inside])
    labels = merged.argmax(0)
    assert (labels[inside] == 2).all()

    rec = Recorder(tiny_stm, monkeypatch)
    probs2 = stream.segment(frames[2])
    enc = rec.named('encode_memory')
    assert len(enc) == 2
    # group of object 1: its memorised probability and, as the other
    # objects' mask, object 4's given mask
    own1, others1 = enc[0]['args'][1][0, 0], enc[0]['kwargs']['other_probs']
    torch.testing.assert_close(own1, merged[1])
    torch.testing.assert_close(others1[0, 0], merged[2])
    own4, others4 = enc[1]['args'][1][0, 0], enc[1]['kwargs']['other_probs']
    torch.testing.assert_close(own4, inside.float())
    torch.testing.assert_close(others4[0, 0], merged[1])
    # soft aggregation over all objects together
    object_probs = torch.cat([d['out'] for d in
                              rec.named('decode_objects')], dim=1)
    expected = aggregated_probs(soft_aggregate(object_probs))[0]
    torch.testing.assert_close(probs2, expected)


def test_objects_added_at_the_start_frame_join_the_first_group(tiny_stm):
    frames = make_frames(7)
    both = box_labels(16, 16, {1: (1, 1, 6, 6), 2: (8, 8, 6, 6)})
    only1 = np.where(both == 1, 1, 0).astype(np.uint8)
    joined = tiny_stm.new_stream([1])
    joined.start(frames[0], only1)
    joined.add_objects(both, [2])
    assert len(joined.groups) == 1 and joined.object_ids == [1, 2]
    direct = tiny_stm.new_stream([1, 2])
    direct.start(frames[0], both)
    for frame in frames[1:]:
        assert torch.equal(joined.step(frame), direct.step(frame))


def test_encode_memory_other_probs_equals_objects_in_the_batch(tiny_stm):
    torch.manual_seed(0)
    frames = torch.rand(1, 3, 32, 32)
    probs = torch.rand(1, 3, 32, 32) / 2
    with torch.no_grad():
        key, value = tiny_stm.encode_memory(frames, probs)
        key1, value1 = tiny_stm.encode_memory(
            frames, probs[:, :1], other_probs=probs[:, 1:].sum(1, True))
    torch.testing.assert_close(key1, key[:1])
    torch.testing.assert_close(value1, value[:1])


def test_add_objects_errors(tiny_stm):
    frames = make_frames(2)
    labels = box_labels(16, 16, {1: (2, 2, 4, 4)})
    stream = tiny_stm.new_stream([1])
    with pytest.raises(RuntimeError, match='start'):
        stream.add_objects(labels)
    stream.start(frames[0], labels)
    with pytest.raises(ValueError, match='already tracked'):
        stream.add_objects(labels, [1])
    with pytest.raises(ValueError, match='size'):
        stream.add_objects(labels[:8], [2])
    with pytest.raises(ValueError, match='unique'):
        stream.add_objects(labels, [2, 2])
    # nothing new in the mask: nothing changes
    same = stream.add_objects(labels)
    assert same.shape == (2, 16, 16) and stream.object_ids == [1]


# ---------------------------------------------------------------------------
# STM.segment_video / predict with given masks
# ---------------------------------------------------------------------------
def test_segment_video_objects_given_later(tiny_stm, monkeypatch):
    frames = make_frames(7, 20, 24)
    given2 = box_labels(20, 24, {5: (2, 2, 6, 6)})
    given2[-1, :] = 255
    given4 = box_labels(20, 24, {3: (10, 12, 6, 8)})
    rec = Recorder(tiny_stm, monkeypatch)
    out = list(tiny_stm.segment_video(frames, given_labels={2: given2,
                                                            4: given4}))
    assert len(out) == 7
    # nothing before the first object, and no model call for it
    assert not out[0].any() and not out[1].any()
    assert len(rec.named('encode_query')) == 4  # frames 3..6
    # the given frames take the given masks of their new objects
    np.testing.assert_array_equal(out[2], np.where(given2 == 5, 5, 0))
    assert (out[4][given4 == 3] == 3).all()
    for labels in out:
        assert labels.dtype == np.uint8 and labels.shape == (20, 24)
        assert set(np.unique(labels)) <= {0, 3, 5}
    # a per-frame list gives the same result
    listed = [None, None, given2, None, given4, None, None]
    again = list(tiny_stm.segment_video(frames, given_labels=listed))
    for x, y in zip(out, again):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match='at least one'):
        list(tiny_stm.segment_video(frames, given_labels=[None] * 7))


def test_segment_video_davis_path_is_the_plain_stream(tiny_stm):
    frames = make_frames(8, 24, 40)
    first = box_labels(24, 40, {2: (4, 4, 8, 16), 5: (12, 20, 8, 16)})
    out = list(tiny_stm.segment_video(frames, first))
    stream = tiny_stm.new_stream([2, 5])
    lut = np.array([0, 2, 5], np.uint8)
    expected = [lut[stream.start(frames[0], first).argmax(0).numpy()]]
    for frame in frames[1:]:
        probs = stream.segment(frame)
        stream.memorize(probs)
        expected.append(lut[probs.argmax(0).numpy()])
    for x, y in zip(out, expected):
        np.testing.assert_array_equal(x, y)
    given = list(tiny_stm.segment_video(frames, given_labels={0: first}))
    for x, y in zip(out, given):
        np.testing.assert_array_equal(x, y)


def _write_video(folder, frames):
    paths = []
    for t, frame in enumerate(frames):
        path = osp.join(folder, f'{t:05d}.png')  # lossless
        cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def test_predict_with_given_masks_and_output_frames(tiny_stm, tmp_path):
    frames = make_frames(11, 20, 24)
    paths = _write_video(str(tmp_path), frames)
    names = [f'{t:05d}' for t in range(11)]
    given1 = box_labels(20, 24, {1: (2, 2, 6, 6)})
    given5 = box_labels(20, 24, {2: (10, 12, 6, 8)})
    write_mask(str(tmp_path / 'g1.png'), given1)
    write_mask(str(tmp_path / 'g5.png'), given5)
    given_paths = [None] * 11
    given_paths[1], given_paths[5] = str(tmp_path / 'g1.png'), \
        str(tmp_path / 'g5.png')
    sample = pack_video(seq_name='v', frame_names=names, frame_paths=paths,
                        mask_paths=given_paths, given_mask_paths=given_paths)
    full = tiny_stm.predict(None, [sample])[0]
    assert full['pred_labels'].shape == (11, 20, 24)
    assert full['pred_frame_names'] == names
    assert not full['pred_labels'][0].any()
    np.testing.assert_array_equal(full['pred_labels'][5][given5 == 2], 2)
    expected = list(tiny_stm.segment_video(
        frames, given_labels={1: given1, 5: given5}))
    np.testing.assert_array_equal(full['pred_labels'], np.stack(expected))

    out_names = ['00000', '00005', '00010']
    part = tiny_stm.predict(None, [dict(sample,
                                        output_frame_names=out_names)])[0]
    assert part['pred_frame_names'] == out_names
    assert part['pred_frame_indices'] == [0, 5, 10]
    np.testing.assert_array_equal(part['pred_labels'],
                                  full['pred_labels'][[0, 5, 10]])
    with pytest.raises(ValueError, match='00099'):
        tiny_stm.predict(None, [dict(sample, output_frame_names=['00099'])])


def test_predict_davis_sample_without_given_paths(tiny_stm, tmp_path):
    frames = make_frames(4, 16, 16)
    paths = _write_video(str(tmp_path), frames)
    first = box_labels(16, 16, {1: (2, 2, 6, 6)})
    write_mask(str(tmp_path / 'first.png'), first)
    davis = dict(seq_name='d', frame_names=[f'{t:05d}' for t in range(4)],
                 frame_paths=paths,
                 mask_paths=[str(tmp_path / 'first.png')] + [None] * 3)
    sample = pack_video(**davis)
    assert sample['given_masks'].indices == [0]
    old = tiny_stm.predict(None, [sample])[0]
    new = tiny_stm.predict(None, [pack_video(
        **davis, given_mask_paths=[sample['first_mask_path']] + [None] * 3)])[0]
    np.testing.assert_array_equal(old['pred_labels'], new['pred_labels'])
    np.testing.assert_array_equal(old['pred_labels'][0], first)
