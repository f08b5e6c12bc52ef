"""Tests of the STM model, its components and its inference protocol.

Covers vosbench.models.vos (STM, soft aggregation, VideoStream),
vosbench.models.memory, vosbench.models.decoders, vosbench.models.losses and
vosbench.models.data_preprocessors (REFERENCE.md 1.1 and 1.2).
"""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.models.data_preprocessors import VOSDataPreprocessor
from vosbench.models.decoders import ResidualBlock, STMDecoder
from vosbench.models.losses import VOSCrossEntropyLoss
from vosbench.inference import (MemoryBank, VideoStream, labels_to_onehot,
                                pad_to_multiple)
from vosbench.models.memory import KeyValueProjection, SpaceTimeMemoryReader
from vosbench.models.vos import aggregated_probs, soft_aggregate
from vosbench.registry import (BACKBONES, DECODERS, MEMORY_READERS,
                               MODELS)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
TINY_CFG = osp.join(REPO_ROOT, 'configs/_base_/models/stm_r18-tiny.py')
R50_CFG = osp.join(REPO_ROOT, 'configs/_base_/models/stm_r50.py')
EPS = 1e-7
CLAMP_LOGIT = math.log(EPS / (1 - EPS))


def build_tiny(seed=0, **test_cfg):
    torch.manual_seed(seed)
    cfg = Config.fromfile(TINY_CFG)
    cfg.model.test_cfg.update(test_cfg)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def tiny_stm():
    return build_tiny().eval()


def trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------
def test_r50_stm_parameter_counts():
    model = MODELS.build(Config.fromfile(R50_CFG).model)
    assert trainable(model.memory_encoder) == 8_549_568
    assert trainable(model.query_encoder) == 8_543_296
    assert trainable(model.memory_key_value) == 5_898_880
    assert trainable(model.query_key_value) == 5_898_880
    assert trainable(model.decoder) == 10_034_946
    assert trainable(model) == 38_925_570


def test_tiny_stm_builds_with_config_components(tiny_stm):
    assert type(tiny_stm).__name__ == 'STM'
    assert isinstance(tiny_stm.memory_reader, SpaceTimeMemoryReader)
    assert isinstance(tiny_stm.decoder, STMDecoder)
    assert isinstance(tiny_stm.data_preprocessor, VOSDataPreprocessor)
    assert isinstance(tiny_stm.loss_module, VOSCrossEntropyLoss)
    # the memory encoder takes frame + object mask + other objects
    assert tiny_stm.memory_encoder.conv1.in_channels == 5
    assert tiny_stm.query_encoder.conv1.in_channels == 3


@pytest.mark.parametrize('registry,cfg,expected_name', [
    (BACKBONES, dict(type='NoSuchBackbone'), 'ResNet'),
    (MEMORY_READERS, dict(type='NoSuchReader'), 'SpaceTimeMemoryReader'),
    (DECODERS, dict(type='NoSuchDecoder'), 'STMDecoder'),
    (MODELS, dict(type='NoSuchModel'), 'STM'),
])
def test_unknown_type_lists_registered_names(registry, cfg, expected_name):
    with pytest.raises(KeyError) as info:
        registry.build(cfg)
    message = str(info.value)
    assert cfg['type'] in message
    assert expected_name in message


def test_components_build_from_plain_dicts():
    backbone = BACKBONES.build(dict(type='ResNet', depth=18, num_stages=1,
                                    out_indices=(0, )))
    assert type(backbone).__name__ == 'ResNet'
    assert isinstance(MEMORY_READERS.build(
        dict(type='SpaceTimeMemoryReader')), SpaceTimeMemoryReader)
    assert isinstance(DECODERS.build(dict(
        type='STMDecoder', in_channels=8, skip_channels=(4, 4),
        channels=8)), STMDecoder)


# ---------------------------------------------------------------------------
# soft aggregation
# ---------------------------------------------------------------------------
def test_soft_aggregate_formula():
    probs = torch.tensor([0.0, 0.3, 0.9, 1.0]).view(1, 1, 2, 2)
    probs = torch.cat([probs, torch.tensor([0.5, 0.2, 0.0, 1.0]).view(
        1, 1, 2, 2)], dim=1)  # (1, 2, 2, 2)
    logits = soft_aggregate(probs)
    assert logits.shape == (1, 3, 2, 2)
    # float32, as the original computes it
    background = (1 - probs[:, 0]) * (1 - probs[:, 1])
    full = torch.cat([background[:, None], probs], dim=1).clamp(EPS, 1 - EPS)
    expected = torch.log(full / (1 - full))
    torch.testing.assert_close(logits, expected)
    # unsaturated values match the exact formula
    exact = torch.logit(torch.tensor([0.3, 0.5, 0.2, 0.9]).double())
    torch.testing.assert_close(
        logits[0, [1, 2, 2, 1], [0, 0, 0, 1], [1, 0, 1, 0]].double(), exact)
    # the clamp bounds the logits at about +-log((1-eps)/eps) = +-16.1
    assert logits.min().item() == pytest.approx(CLAMP_LOGIT, rel=1e-5)
    assert logits.max().item() == pytest.approx(-CLAMP_LOGIT, rel=2e-2)
    # background 0.7 * 0.8 where the objects have 0.3 and 0.2
    assert torch.sigmoid(logits[0, 0, 0, 1]).item() == pytest.approx(
        0.56, abs=1e-6)


def test_soft_aggregate_padded_objects_get_clamp_value():
    torch.manual_seed(0)
    probs = torch.rand(2, 3, 4, 5)
    valid = torch.tensor([[True, True, False], [True, False, False]])
    logits = soft_aggregate(probs, valid)
    torch.testing.assert_close(logits[0, 3], torch.full((4, 5), CLAMP_LOGIT))
    torch.testing.assert_close(logits[1, 2:],
                               torch.full((2, 4, 5), CLAMP_LOGIT))
    # the real objects and the background ignore the padded ones
    torch.testing.assert_close(logits[1, :2], soft_aggregate(probs[1:, :1])[0])
    torch.testing.assert_close(logits[0, :3], soft_aggregate(probs[:1, :2])[0])


def test_aggregated_probs_with_eleven_channels_differs_by_1e6():
    torch.manual_seed(0)
    logits = soft_aggregate(torch.rand(1, 2, 6, 6))
    probs = aggregated_probs(logits)
    probs11 = aggregated_probs(logits, total_channels=11)
    torch.testing.assert_close(probs, torch.softmax(logits, dim=1))
    assert probs11.shape == probs.shape
    diff = (probs - probs11).abs().max().item()
    assert 1e-8 < diff < 1e-5
    # the 8 unused channels take 8 * sigmoid(clamp logit) / Z of the mass
    z = torch.exp(logits).sum(1)
    leaked = 8 * EPS / (1 - EPS)
    torch.testing.assert_close(probs11.sum(1), z / (z + leaked))
    # the mass lost by the real channels is about 1e-6
    lost = (1 - probs11.sum(1)).max().item()
    assert 1e-7 < lost < 1e-5
    # not more channels than real: identical to the plain softmax
    torch.testing.assert_close(aggregated_probs(logits, total_channels=3),
                               probs)


# ---------------------------------------------------------------------------
# memory read, key/value heads, decoder, loss
# ---------------------------------------------------------------------------
def test_memory_reader_matches_direct_computation():
    torch.manual_seed(0)
    n, ck, cv, t, h, w = 2, 8, 6, 3, 4, 5
    mk, mv = torch.randn(n, ck, t, h, w), torch.randn(n, cv, t, h, w)
    qk, qv = torch.randn(n, ck, h, w), torch.randn(n, cv, h, w)
    out = SpaceTimeMemoryReader()(mk, mv, qk, qv)
    assert out.shape == (n, 2 * cv, h, w)
    sim = torch.einsum('nctij,ncxy->ntijxy', mk, qk) / math.sqrt(ck)
    sim = sim.reshape(n, t * h * w, h, w)
    affinity = torch.softmax(sim, dim=1).reshape(n, t, h, w, h, w)
    read = torch.einsum('nctij,ntijxy->ncxy', mv, affinity)
    torch.testing.assert_close(out[:, :cv], read, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out[:, cv:], qv)


def test_key_value_projection_shapes():
    kv = KeyValueProjection(in_channels=16, key_channels=4, value_channels=8)
    key, value = kv(torch.randn(2, 16, 3, 5))
    assert key.shape == (2, 4, 3, 5) and value.shape == (2, 8, 3, 5)
    assert kv.key_conv.kernel_size == (3, 3) and kv.key_conv.bias is not None


def test_residual_block_formula():
    block = ResidualBlock(4)
    x = torch.randn(1, 4, 5, 5)
    expected = x + block.conv2(F.relu(block.conv1(F.relu(x))))
    torch.testing.assert_close(block(x), expected)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    torch.testing.assert_close(block(x), x)


def test_decoder_output_shape():
    dec = STMDecoder(in_channels=16, skip_channels=(8, 4), channels=8)
    out = dec(torch.randn(2, 16, 3, 4),
              [torch.randn(2, 8, 6, 8), torch.randn(2, 4, 12, 16)])
    # stride 16 -> stride 1 (two refine steps of 2x, then 4x)
    assert out.shape == (2, 2, 48, 64)


def test_decoder_runs_skip_branches_once_per_frame():
    """Skips given once per frame (B) for B*K memory reads equal skips
    copied per object, and the skip branch runs on B maps only."""
    torch.manual_seed(0)
    decoder = STMDecoder(in_channels=32, skip_channels=(16, 8),
                         channels=8).eval()
    frames, objects = 2, 3
    read = torch.randn(frames * objects, 32, 3, 4)
    skips = [torch.randn(frames, 16, 6, 8), torch.randn(frames, 8, 12, 16)]
    seen = []
    decoder.refine_modules[1].skip_conv.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape[0]))
    shared = decoder(read, skips)
    copied = decoder(read, [s.repeat_interleave(objects, 0) for s in skips])
    assert seen == [frames, frames * objects]
    assert shared.shape == (frames * objects, 2, 48, 64)
    torch.testing.assert_close(shared, copied, rtol=0, atol=1e-5)
    # objects of a frame are consecutive: object 1 of frame 1 decoded alone
    alone = decoder(read[4:5], [s[1:2] for s in skips])
    torch.testing.assert_close(alone, shared[4:5], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match='not a multiple'):
        decoder(read[:5], skips)


def test_cross_entropy_loss_ignores_void():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4)
    labels = torch.randint(0, 3, (2, 4, 4))
    labels[:, 0] = 255
    loss = VOSCrossEntropyLoss()(logits, labels)
    keep = labels != 255
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[keep],
                               labels[keep])
    torch.testing.assert_close(loss, expected)
    changed = logits.clone()
    changed[:, :, 0] = 100.0  # only the void row
    torch.testing.assert_close(VOSCrossEntropyLoss()(changed, labels), loss)
    torch.testing.assert_close(
        VOSCrossEntropyLoss(loss_weight=2.0)(logits, labels), 2 * loss)


# ---------------------------------------------------------------------------
# memory bank
# ---------------------------------------------------------------------------
def _kv(index):
    return torch.full((1, 2, 1, 1), float(index)), \
        torch.full((1, 3, 1, 1), float(index))


def _frames_of(key):
    """Frame indices stored along the T axis of a ``(N, C, T, H, W)`` key."""
    return [int(v) for v in key[0, 0, :, 0, 0].tolist()]


def test_memory_bank_keeps_every_fifth_frame_plus_previous():
    bank = MemoryBank(mem_every=5)
    assert [i for i in range(16) if bank.is_memory_frame(i)] == [0, 5, 10,
                                                                  15]
    for index in range(13):
        if bank.is_memory_frame(index):
            bank.add(*_kv(index), index)
    assert bank.frame_indices == [0, 5, 10]
    key, value = bank.gather((*_kv(12), 12))
    assert _frames_of(key) == [0, 5, 10, 12]
    assert key.shape == (1, 2, 4, 1, 1) and value.shape == (1, 3, 4, 1, 1)
    # the previous frame is not duplicated when it is already kept
    key, _ = bank.gather((*_kv(10), 10))
    assert _frames_of(key) == [0, 5, 10]


def test_memory_bank_max_frames_drops_oldest_after_first():
    bank = MemoryBank(mem_every=5, max_frames=3)
    for index in (0, 5, 10, 15, 20):
        bank.add(*_kv(index), index)
    assert bank.frame_indices == [0, 15, 20]
    assert len(bank) == 3
    assert _frames_of(bank.gather()[0]) == [0, 15, 20]


def test_memory_bank_without_previous_frame():
    bank = MemoryBank(mem_every=5, keep_previous=False)
    # empty memory: the previous frame is still used (else nothing to read)
    assert _frames_of(bank.gather((*_kv(0), 0))[0]) == [0]
    bank.add(*_kv(0), 0)
    assert _frames_of(bank.gather((*_kv(3), 3))[0]) == [0]
    # a memory frame is read as soon as it is encoded
    assert _frames_of(bank.gather((*_kv(5), 5))[0]) == [0, 5]


def test_memory_bank_errors():
    with pytest.raises(RuntimeError, match='empty'):
        MemoryBank().gather()
    with pytest.raises(ValueError):
        MemoryBank(mem_every=0)
    with pytest.raises(ValueError):
        MemoryBank(max_frames=0)


# ---------------------------------------------------------------------------
# VideoStream protocol, with the real tiny STM instrumented
# ---------------------------------------------------------------------------
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


def make_video(num_frames, height, width, seed=0):
    gen = torch.Generator().manual_seed(seed)
    frames = [torch.randint(0, 256, (height, width, 3), generator=gen,
                            dtype=torch.uint8).numpy()
              for _ in range(num_frames)]
    labels = np.zeros((height, width), np.uint8)
    labels[height // 4:height // 2, width // 4:width // 2] = 1
    labels[height // 2:, width // 2:] = 2
    return frames, labels


def as_tensor(frame):
    return torch.from_numpy(frame).permute(2, 0, 1).float() / 255


def test_stream_memory_holds_kept_frames_and_previous(tiny_stm,
                                                      monkeypatch):
    frames, labels = make_video(13, 16, 16)
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
    frames, labels = make_video(9, 16, 16)
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
    frames, labels = make_video(3, 32, 32)
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
    frames, labels = make_video(3, 16, 16)
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
    frames, labels = make_video(3, height, width)
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
    frames, labels = make_video(2, 32, 32)
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
    frames, labels = make_video(2, 16, 16)
    outs = []
    for channels in (None, 11):
        stream = tiny_stm.new_stream([1, 2], aggregation_channels=channels)
        stream.start(frames[0], labels)
        outs.append(stream.segment(frames[1]))
    diff = (outs[0] - outs[1]).abs().max().item()
    assert 0 < diff < 1e-5


# ---------------------------------------------------------------------------
# segment_video
# ---------------------------------------------------------------------------
def test_segment_video_maps_back_object_ids(tiny_stm, monkeypatch):
    height, width = 20, 24
    frames, _ = make_video(4, height, width)
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
    frames, _ = make_video(4, 24, 40)
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
    frames, _ = make_video(3, 16, 16)
    empty = np.zeros((16, 16), np.uint8)
    empty[0] = 255
    out = list(tiny_stm.segment_video(frames, empty))
    assert len(out) == 3 and all((o == 0).all() for o in out)


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------
def make_clip_batch(num_objects=(2, 1), size=32, frames=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for k in num_objects:
        clip = torch.randint(0, 256, (frames, 3, size, size), generator=gen,
                             dtype=torch.uint8)
        masks = torch.zeros(frames, size, size, dtype=torch.long)
        for t in range(frames):
            for obj in range(1, k + 1):
                top = 4 + 8 * (obj - 1) + t
                masks[t, top:top + 8, 4 + t:20 + t] = obj
        masks[:, -2:] = 255
        inputs.append(clip)
        samples.append(dict(masks=masks, num_objects=k))
    return dict(inputs=inputs, data_samples=samples)


def test_train_step_loss_and_gradients():
    model = build_tiny().train()
    data = model.data_preprocessor(make_clip_batch(), True)
    assert data['inputs'].shape == (2, 3, 3, 32, 32)
    losses = model(**data, mode='loss')
    loss = losses['loss_ce']
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for name in ('memory_encoder', 'query_encoder', 'memory_key_value',
                 'query_key_value', 'decoder'):
        grads = [p.grad for p in getattr(model, name).parameters()
                 if p.requires_grad]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum().item() for g in grads) > 0, name
    # the memory encoder's mask input convolution learns too
    assert model.memory_encoder.conv1.weight.grad[:, 3:].abs().sum() > 0


def test_forward_clips_outputs_and_modes():
    model = build_tiny().eval()
    data = model.data_preprocessor(make_clip_batch(frames=3), False)
    with torch.no_grad():
        outputs = model(**data, mode='tensor')
    # frames 1 and 2, max_objects (3, from train_cfg) + background
    assert len(outputs) == 2
    assert all(o.shape == (2, 4, 32, 32) for o in outputs)
    # the second sample has one object: channels 2 and 3 are padding
    torch.testing.assert_close(outputs[0][1, 2:],
                               torch.full((2, 32, 32), CLAMP_LOGIT))
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(**data, mode='nonsense')


def test_encode_memory_inputs_and_invalid_objects(tiny_stm):
    torch.manual_seed(0)
    frames = torch.rand(1, 3, 32, 32)
    probs = torch.rand(1, 3, 32, 32)
    valid = torch.tensor([[True, True, False]])
    with torch.no_grad():
        key, value = tiny_stm.encode_memory(frames, probs, valid)
        zeroed = probs.clone()
        zeroed[:, 2] = 0
        key0, value0 = tiny_stm.encode_memory(frames, zeroed)
        # the 5-channel input: normalised frame, the object's mask, the
        # sum of the other objects' masks clamped to [0, 1]
        full = torch.full((1, 3, 32, 32), 0.8)
        key_full, value_full = tiny_stm.encode_memory(frames, full)
        normalised = (frames - torch.tensor(
            [0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
                [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        manual = torch.cat([normalised, full[:, :1],
                            torch.ones(1, 1, 32, 32)], dim=1)
        expected = tiny_stm.memory_key_value(
            tiny_stm.memory_encoder(manual)[-1])
    assert key.shape == (3, 32, 2, 2) and value.shape == (3, 128, 2, 2)
    # real objects see the padding object as an empty mask; the padding
    # object itself is not encoded (zero key and value)
    torch.testing.assert_close(key[:2], key0[:2])
    torch.testing.assert_close(value[:2], value0[:2])
    assert not key[2].any() and not value[2].any()
    torch.testing.assert_close(key_full[:1], expected[0])
    torch.testing.assert_close(value_full[2:], expected[1])


def _loss_of_single_sample(model, max_objects):
    data = model.data_preprocessor(make_clip_batch(num_objects=(1, )), True)
    model.train_cfg['max_objects'] = max_objects
    with torch.no_grad():
        return model(**data, mode='loss')['loss_ce'].item()


def test_padded_objects_do_not_change_loss_with_frozen_norm():
    """Padding objects are zero masks to the memory encoder and get the
    clamp value in aggregation, so the loss of the real objects changes
    only by the clamp's ~1e-7 leak when batch norm uses running statistics
    (eval mode, or norm_eval=True as in the ResNet-50 config)."""
    model = build_tiny().eval()
    alone = _loss_of_single_sample(model, 1)
    padded = _loss_of_single_sample(model, 3)
    assert padded == pytest.approx(alone, rel=1e-5, abs=1e-6)

    model = build_tiny()
    model.memory_encoder.norm_eval = True
    model.query_encoder.norm_eval = True
    model.train()
    alone = _loss_of_single_sample(model, 1)
    padded = _loss_of_single_sample(model, 3)
    assert padded == pytest.approx(alone, rel=1e-5, abs=1e-6)


def test_padded_objects_do_not_change_loss_with_batch_statistics():
    model = build_tiny().train()
    alone = _loss_of_single_sample(model, 1)
    padded = _loss_of_single_sample(model, 3)
    assert padded == pytest.approx(alone, rel=1e-5, abs=1e-6)


# ---------------------------------------------------------------------------
# data preprocessor
# ---------------------------------------------------------------------------
def test_data_preprocessor_stacks_clips_to_unit_range():
    pre = VOSDataPreprocessor()
    clips = [torch.full((3, 3, 4, 4), 255, dtype=torch.uint8),
             torch.zeros((3, 3, 4, 4), dtype=torch.uint8)]
    clips[1][0, 0, 0, 0] = 51
    samples = [dict(masks=torch.zeros(3, 4, 4, dtype=torch.long),
                    num_objects=1)] * 2
    out = pre(dict(inputs=clips, data_samples=samples), True)
    assert out['inputs'].shape == (2, 3, 3, 4, 4)
    assert out['inputs'].dtype == torch.float32
    assert out['inputs'][0].min() == 1.0
    assert out['inputs'][1, 0, 0, 0, 0].item() == pytest.approx(0.2)
    assert out['inputs'][1].sum().item() == pytest.approx(0.2)
    assert out['data_samples'][0]['num_objects'] == 1
    assert torch.is_tensor(out['data_samples'][0]['masks'])


def test_data_preprocessor_passes_test_samples_through():
    pre = VOSDataPreprocessor()
    sample = dict(seq_name='a', frame_paths=['x/00000.jpg'],
                  first_mask_path='y/00000.png')
    out = pre(dict(inputs=[None], data_samples=[sample]), False)
    assert out['inputs'] == [None]
    assert out['data_samples'] == [sample]
