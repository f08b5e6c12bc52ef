"""Test-time augmentation: the views (vosbench.models.tta.views), the
averaging of view streams and VOSTTAModel (vosbench.models.tta)."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn
from vos_test_utils import REPO, TINY_CFG, build_tiny, make_video, run_probs

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.models.tta import (DEFAULT_TTA_VIEWS, ComposedView,
                                 HorizontalFlipView, IdentityView, ScaleView,
                                 VOSTTAModel, build_views, default_tta_model)
from vosbench.inference import StreamingSegmenterMixin, VideoStream
from vosbench.registry import MODELS, TTA

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def make_symmetric_video(num_frames, height, width, seed=0):
    """Frames and first mask that are their own mirror image."""
    frames, first = make_video(num_frames, height, width // 2, seed)
    frames = [np.concatenate([f, f[:, ::-1]], axis=1) for f in frames]
    first = np.concatenate([first, first[:, ::-1]], axis=1)
    return frames, first


# ---------------------------------------------------------------------------
# views
# ---------------------------------------------------------------------------
def test_views_are_registered_and_unknown_ones_listed():
    assert isinstance(TTA.build(dict(type='HorizontalFlipView')),
                      HorizontalFlipView)
    assert TTA.build(dict(type='ScaleView', scale=0.5)).scale == 0.5
    with pytest.raises(KeyError, match='HorizontalFlipView'):
        TTA.build(dict(type='VerticalFlipView'))


def test_build_views_union_product_and_default():
    flip_and_scales = [[dict(type='IdentityView'),
                        dict(type='HorizontalFlipView')],
                       [dict(type='ScaleView', scale=0.75),
                        dict(type='ScaleView', scale=1.0)]]
    names = [v.name for v in build_views(flip_and_scales)]
    assert names == ['scale0.75', 'scale1', 'flip+scale0.75', 'flip+scale1']
    product = build_views(dict(type='ViewProduct', factors=[
        dict(type='FlipViews'),
        dict(type='MultiScaleViews', scales=[0.5, 0.75, 1.0])]))
    assert len(product) == 6
    # a flat list is the union of its items
    union = build_views([dict(type='FlipViews'),
                         dict(type='MultiScaleViews', scales=[0.5])])
    assert [v.name for v in union] == ['identity', 'flip', 'scale0.5']
    # default: flip x scales (0.75, 1.0)
    assert [v.name for v in build_views(None)] == names
    assert [v.name for v in build_views(DEFAULT_TTA_VIEWS)] == names
    assert default_tta_model()['views'] == DEFAULT_TTA_VIEWS
    # the base config gives the same default
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/tta.py'))
    assert [v.name for v in build_views(cfg.tta_model['views'])] == names
    assert cfg.tta_pipeline == [dict(type='PackVideoInputs')]
    with pytest.raises(ValueError):
        build_views([])


def test_flip_view_round_trips_exactly():
    view = HorizontalFlipView()
    frame = np.random.default_rng(0).integers(0, 255, (5, 7, 3)).astype(
        np.uint8)
    tensor = view.frame_to_view(frame)
    expected = torch.from_numpy(frame[:, ::-1].copy()).permute(2, 0, 1) / 255
    torch.testing.assert_close(tensor, expected.float())
    labels = np.arange(35, dtype=np.uint8).reshape(5, 7)
    np.testing.assert_array_equal(view.labels_to_view(labels),
                                  labels[:, ::-1])
    probs = torch.rand(3, 5, 7)
    assert torch.equal(view.probs_from_view(view.probs_to_view(probs),
                                            (5, 7)), probs)


def test_scale_view_sizes_and_mappings():
    view = ScaleView(0.75)
    assert view.view_size((40, 56)) == (30, 42)
    assert view.view_size((48, 64)) == (36, 48)
    assert ScaleView(0.5).view_size((5, 7)) == (3, 4)  # halves round up
    frame = torch.rand(3, 40, 56)
    small = view.frame_to_view(frame)
    torch.testing.assert_close(small, F.interpolate(
        frame[None], size=(30, 42), mode='bilinear',
        align_corners=False)[0])
    probs = torch.softmax(torch.randn(3, 30, 42), 0)
    back = view.probs_from_view(probs, (40, 56))
    assert back.shape == (3, 40, 56)
    torch.testing.assert_close(back.sum(0), torch.ones(40, 56))
    labels = np.zeros((40, 56), np.uint8)
    labels[8:24, 16:40] = 3
    small_labels = view.labels_to_view(labels)
    assert small_labels.shape == (30, 42) and small_labels.dtype == np.uint8
    assert set(np.unique(small_labels)) == {0, 3}
    assert (small_labels == 3).sum() == 12 * 18
    # scale 1 changes nothing
    same = ScaleView(1.0)
    assert same.frame_to_view(frame) is frame
    assert same.probs_to_view(probs) is probs
    with pytest.raises(ValueError):
        ScaleView(0)


def test_composed_view_maps_back_in_reverse():
    view = ComposedView([dict(type='HorizontalFlipView'),
                         dict(type='ScaleView', scale=0.75)])
    assert view.name == 'flip+scale0.75'
    frame = torch.rand(3, 40, 56)
    expected = ScaleView(0.75).frame_to_view(frame.flip(-1))
    torch.testing.assert_close(view.frame_to_view(frame), expected)
    probs = torch.rand(2, 30, 42)
    back = view.probs_from_view(probs, (40, 56))
    torch.testing.assert_close(back, ScaleView(0.75).probs_from_view(
        probs, (40, 56)).flip(-1))
    # identity views are dropped
    assert ComposedView([IdentityView(), HorizontalFlipView()]).name == 'flip'


# ---------------------------------------------------------------------------
# VOSTTAModel
# ---------------------------------------------------------------------------
def test_tta_model_builds_from_config_and_defaults_to_four_views():
    cfg = Config.fromfile(TINY_CFG)
    model = MODELS.build(dict(type='VOSTTAModel', module=cfg.model))
    assert type(model.module).__name__ == 'STM'
    assert [v.name for v in model.views] == [
        'scale0.75', 'scale1', 'flip+scale0.75', 'flip+scale1']
    assert 'flip+scale0.75' in repr(model)
    with pytest.raises(TypeError, match='new_stream'):
        VOSTTAModel(nn.Linear(2, 2), views=[dict(type='IdentityView')])


def test_identity_view_equals_the_plain_run(tiny_stm):
    frames, first = make_video(6, 40, 56)
    plain, _ = run_probs(tiny_stm, frames, first)
    tta, _ = run_probs(VOSTTAModel(tiny_stm, views=[
        dict(type='IdentityView')]), frames, first)
    assert torch.equal(plain, tta)


def test_single_flip_view_is_the_mirrored_plain_run(tiny_stm):
    """Exact for any model: a flip-only TTA of a video is the plain run of
    the mirrored video, mirrored back."""
    frames, first = make_video(6, 40, 56)
    mirrored = [f[:, ::-1].copy() for f in frames]
    plain, _ = run_probs(tiny_stm, mirrored, first[:, ::-1].copy())
    tta, _ = run_probs(VOSTTAModel(tiny_stm, views=[
        dict(type='HorizontalFlipView')]), frames, first)
    torch.testing.assert_close(tta, plain.flip(-1), atol=0, rtol=0)


class FlipSymmetrizedSTM(StreamingSegmenterMixin, nn.Module):
    """The tiny STM made to commute with horizontal flips: each function a
    stream calls is averaged with its mirrored run, ``g(x) = (f(x) +
    flip(f(flip(x)))) / 2``, so ``g(flip(x)) = flip(g(x))`` exactly. (A
    ResNet itself is not flip-equivariant: its stride-2 sampling grid is
    not symmetric.)"""

    def __init__(self, stm):
        super().__init__()
        self.stm = stm

    def encode_memory(self, frames, object_probs, valid=None,
                      other_probs=None):
        assert valid is None and other_probs is None
        key, value = self.stm.encode_memory(frames, object_probs)
        fkey, fvalue = self.stm.encode_memory(frames.flip(-1),
                                              object_probs.flip(-1))
        return (key + fkey.flip(-1)) / 2, (value + fvalue.flip(-1)) / 2

    def encode_query(self, frames):
        # the query is encoded inside decode_objects, with and without flip
        return frames, None, []

    def decode_objects(self, memory_key, memory_value, frames, query_value,
                       skips):
        probs = self.stm.decode_objects(memory_key, memory_value,
                                        *self.stm.encode_query(frames))
        flipped = self.stm.decode_objects(
            memory_key.flip(-1), memory_value.flip(-1),
            *self.stm.encode_query(frames.flip(-1)))
        return (probs + flipped.flip(-1)) / 2

    def aggregate(self, object_probs, valid=None):
        return self.stm.aggregate(object_probs, valid)

    def probs_from_logits(self, logits, total_channels=None):
        return self.stm.probs_from_logits(logits, total_channels)

    def new_stream(self, object_ids, **overrides):
        stream = self.stm.new_stream(object_ids, **overrides)
        stream.model = self
        return stream

    def test_step(self, data):
        return self.stm.test_step(data)


@pytest.fixture(scope='module')
def equivariant_stm():
    """The symmetrised tiny STM. Its random weights are scaled so that its
    output depends on the memorised masks (by about 1e-2 instead of 1e-6),
    so that memorising a wrongly mapped average shows."""
    stm = build_tiny()
    with torch.no_grad():
        stm.memory_encoder.conv1.weight[:, 3:] *= 100  # the two mask inputs
        stm.memory_key_value.key_conv.weight *= 10
        stm.query_key_value.key_conv.weight *= 10
    return FlipSymmetrizedSTM(stm).eval()


def test_equivariant_model_really_is(equivariant_stm):
    frames, first = make_video(4, 40, 56)
    plain, _ = run_probs(equivariant_stm, frames, first)
    mirrored, _ = run_probs(equivariant_stm,
                            [f[:, ::-1].copy() for f in frames],
                            first[:, ::-1].copy())
    torch.testing.assert_close(mirrored.flip(-1), plain, atol=1e-5, rtol=0)
    # and it is not trivial: it is not the tiny STM's own output
    tiny, _ = run_probs(equivariant_stm.stm, frames, first)
    assert (tiny - plain).abs().max() > 1e-2


@pytest.mark.parametrize('symmetric', [True, False])
def test_flip_tta_equals_the_plain_run(equivariant_stm, symmetric):
    """Flip TTA (identity + flip) of a horizontally symmetric video equals
    the plain run; with a flip-equivariant model, so does flip TTA of any
    video (which fails if the flipped view were not flipped back, or
    memorised the average unflipped)."""
    make = make_symmetric_video if symmetric else make_video
    frames, first = make(7, 40, 56)
    if symmetric:
        assert all((f == f[:, ::-1]).all() for f in frames)
        assert (first == first[:, ::-1]).all()
    plain, _ = run_probs(equivariant_stm, frames, first)
    model = VOSTTAModel(equivariant_stm, views=dict(type='FlipViews'))
    tta, _ = run_probs(model, frames, first)
    torch.testing.assert_close(tta, plain, atol=1e-5, rtol=0)
    labels = list(model.segment_video(frames, first))
    plain_labels = list(equivariant_stm.segment_video(frames, first))
    for x, y in zip(labels, plain_labels):
        assert (x != y).mean() < 1e-3  # ties may flip at 1e-7


@pytest.mark.parametrize('size', [(40, 56), (48, 64)])
def test_scales_not_multiple_of_16(tiny_stm, size):
    height, width = size
    frames, first = make_video(6, height, width)
    model = VOSTTAModel(tiny_stm, views=[
        [dict(type='IdentityView'), dict(type='HorizontalFlipView')],
        [dict(type='ScaleView', scale=0.75),
         dict(type='ScaleView', scale=1.0)]])
    probs, stream = run_probs(model, frames, first)
    assert probs.shape == (6, 3, height, width)
    torch.testing.assert_close(probs.sum(1), torch.ones(6, height, width))
    small = ScaleView(0.75).view_size(size)
    assert small != size and (small[0] % 16 or small[1] % 16)
    for view, view_stream in zip(stream.views, stream.streams):
        assert isinstance(view_stream, VideoStream)
        expected = small if '0.75' in view.name else size
        assert view_stream.size == expected
        padded = view_stream._current_frame.shape[-2:]
        assert padded[0] % 16 == 0 and padded[1] % 16 == 0
    labels = list(model.segment_video(frames, first))
    assert all(lab.shape == size for lab in labels)
    np.testing.assert_array_equal(labels[0], first)
    # the objects are tracked at the original resolution
    assert {1, 2} <= set(np.unique(labels[-1]).tolist())


def test_average_is_memorised_in_every_view(tiny_stm, monkeypatch):
    frames, first = make_video(5, 40, 56)
    model = VOSTTAModel(tiny_stm)  # 4 views, two of them scaled
    stream = model.new_stream([1, 2])
    segmented, memorised = {}, {}
    for i, view_stream in enumerate(stream.streams):
        def spy_segment(frame, _s=view_stream, _i=i,
                        _orig=view_stream.segment):
            segmented[_i] = _orig(frame)
            return segmented[_i]

        def spy_memorize(probs, _i=i, _orig=view_stream.memorize):
            memorised.setdefault(_i, []).append(probs)
            return _orig(probs)
        monkeypatch.setattr(view_stream, 'segment', spy_segment)
        monkeypatch.setattr(view_stream, 'memorize', spy_memorize)
    stream.start(frames[0], first)
    memorised.clear()
    for frame in frames[1:]:
        avg = stream.segment(frame)
        # the mean of the views' probabilities mapped back
        expected = sum(v.probs_from_view(segmented[i], (40, 56))
                       for i, v in enumerate(stream.views)) / 4
        torch.testing.assert_close(avg, expected)
        stream.memorize(avg)
        for i, view in enumerate(stream.views):
            # written out: resize to the view's size, then mirror
            size = (30, 42) if '0.75' in view.name else (40, 56)
            expected = F.interpolate(avg[None], size=size, mode='bilinear',
                                     align_corners=False)[0]
            if 'flip' in view.name:
                expected = expected.flip(-1)
            torch.testing.assert_close(memorised[i][-1], expected)
            # what the stream encodes at the next step
            assert stream.streams[i]._previous[1] is memorised[i][-1]
    assert all(len(m) == 4 for m in memorised.values())


def _tensor_bytes(obj, seen=None, found=None):
    """Bytes of the tensors an object holds (through attributes, lists,
    tuples and dicts; models and views excluded), each storage once."""
    if seen is None:
        seen, found = set(), {}
    if id(obj) in seen or isinstance(obj, nn.Module):
        return found
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        storage = obj.untyped_storage()
        found[storage.data_ptr()] = storage.nbytes()
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _tensor_bytes(item, seen, found)
    elif isinstance(obj, dict):
        for item in obj.values():
            _tensor_bytes(item, seen, found)
    elif hasattr(obj, '__dict__'):
        for key, value in vars(obj).items():
            if key not in ('model', 'views'):
                _tensor_bytes(value, seen, found)
    return found


def _held_after(model, frames, first):
    stream = model.new_stream([1, 2])
    stream.start(frames[0], first)
    for frame in frames[1:]:
        stream.memorize(stream.segment(frame))
    bank_frames = [list(s.bank.frame_indices) for s in stream.streams]
    return sum(_tensor_bytes(stream).values()), bank_frames


def test_memory_grows_with_views_not_with_video_length():
    capped = build_tiny(max_memory_frames=2)
    frames, first = make_video(24, 40, 56)
    n = 12
    one_view = VOSTTAModel(capped, views=[dict(type='IdentityView')])
    two_views = VOSTTAModel(capped, views=dict(type='FlipViews'))
    four_views = VOSTTAModel(capped)
    held = {}
    for name, model in (('1', one_view), ('2', two_views),
                        ('4', four_views)):
        for length in (n, 2 * n):
            held[name, length] = _held_after(model, frames[:length], first)
    for name, views in (('1', 1), ('2', 2), ('4', 4)):
        bytes_n, banks_n = held[name, n]
        bytes_2n, banks_2n = held[name, 2 * n]
        # the memory policy bounds each view's bank (frame 0 + 1 more)
        assert len(banks_n) == len(banks_2n) == views
        assert all(len(b) == 2 and b[0] == 0 for b in banks_n + banks_2n)
        # twice the video, the same memory
        assert bytes_2n == bytes_n
    # more views, more memory: two full-size views hold twice one
    assert held['2', n][0] == 2 * held['1', n][0]
    assert held['4', n][0] > held['2', n][0]
    # without a cap each view holds exactly what the plain stream holds
    plain = build_tiny()
    _, plain_banks = _held_after(VOSTTAModel(plain, views=[
        dict(type='IdentityView')]), frames[:n], first)
    _, tta_banks = _held_after(VOSTTAModel(plain), frames[:n], first)
    assert tta_banks == plain_banks * 4 == [[0, 5, 10]] * 4


def test_objects_given_mid_video_join_every_view(tiny_stm):
    frames, first = make_video(7, 40, 56)
    given1 = np.where(first == 1, 1, 0).astype(np.uint8)
    given3 = np.where(first == 2, 2, 0).astype(np.uint8)  # object 2 later
    model = VOSTTAModel(tiny_stm)
    labels = list(model.segment_video(frames, given_labels={0: given1,
                                                            3: given3}))
    assert len(labels) == 7
    assert (labels[3][given3 == 2] == 2).all()
    assert set(np.unique(labels[0])) == {0, 1}
    # every view stream got object 2 in a group of its own at frame 3
    stream = model.new_stream([1])
    stream.start(frames[0], given1)
    for frame in frames[1:4]:
        stream.memorize(stream.segment(frame))
    probs = stream.add_objects(given3, [2])
    assert probs.shape == (3, 40, 56)
    assert torch.equal(probs[2], torch.from_numpy(given3 == 2).float())
    for view, view_stream in zip(stream.views, stream.streams):
        assert view_stream.object_ids == [1, 2]
        assert [g.start_index for g in view_stream.groups] == [0, 3]
        view_probs = view_stream._previous[1]
        assert view_probs.shape[-2:] == view.view_size((40, 56))
        expected = torch.from_numpy(view.labels_to_view(given3) == 2)
        assert torch.equal(view_probs[2], expected.float())
    assert stream.add_objects(given3).shape == (3, 40, 56)  # nothing new


def test_test_step_predicts_data_samples(tiny_stm, tmp_path):
    import cv2

    from vosbench.utils.mask_io import write_mask
    frames, first = make_video(4, 40, 56)
    paths = []
    for t, frame in enumerate(frames):
        paths.append(str(tmp_path / f'{t:05d}.png'))
        cv2.imwrite(paths[-1], cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    write_mask(str(tmp_path / 'first.png'), first)
    from vosbench.datasets.transforms import PackVideoInputs
    sample = PackVideoInputs()(dict(
        seq_name='v', frame_names=[f'{t:05d}' for t in range(4)],
        frame_paths=paths,
        mask_paths=[str(tmp_path / 'first.png')] + [None] * 3)
    )['data_samples']
    model = VOSTTAModel(tiny_stm, views=dict(type='FlipViews'))
    results = model.test_step(dict(inputs=[None], data_samples=[sample]))
    assert len(results) == 1
    expected = np.stack(list(model.segment_video(frames, first)))
    np.testing.assert_array_equal(results[0]['pred_labels'], expected)
    assert results[0]['pred_frame_names'] == sample['frame_names']
    merged = model.merge_preds([[torch.ones(2, 3, 3), torch.zeros(2, 3, 3)]])
    torch.testing.assert_close(merged[0], torch.full((2, 3, 3), 0.5))
