"""The original STM checkpoint format: conversion both ways, the converter
tool, and the fidelity of our STM + VideoStream to the original model.

The fidelity test re-implements the ORIGINAL STM's forward and inference
loop (REFERENCE.md 1.1/1.2) with the original parameter names, loads the same
random weights into it and into ours (through the converter), and compares
the per-frame probabilities of a small video.
"""
import math
import os
import os.path as osp
import runpy
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.models.utils import (IMAGENET_MEAN, IMAGENET_STD,
                                   convert_official_stm_state_dict,
                                   official_stm_shapes,
                                   to_official_stm_state_dict)
from vosbench.registry import MODELS
from vosbench.testing.original_stm import OrigSTM

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TSV = osp.join(
    os.environ.get('VOSBENCH_REFERENCE_DIR', '/work/shared/reference'),
    'stm_official_state_dict.tsv')
STM_R50_CFG = dict(type='STM',
                   memory_encoder=dict(type='ResNet',
                                       depth=50,
                                       in_channels=5,
                                       num_stages=3,
                                       out_indices=(2, )),
                   query_encoder=dict(type='ResNet',
                                      depth=50,
                                      num_stages=3,
                                      out_indices=(0, 1, 2)),
                   memory_key_value=dict(type='KeyValueProjection',
                                         in_channels=1024,
                                         key_channels=128,
                                         value_channels=512),
                   query_key_value=dict(type='KeyValueProjection',
                                        in_channels=1024,
                                        key_channels=128,
                                        value_channels=512),
                   memory_reader=dict(type='SpaceTimeMemoryReader'),
                   decoder=dict(type='STMDecoder',
                                in_channels=1024,
                                skip_channels=(512, 256),
                                channels=256),
                   test_cfg=dict(mem_every=5, aggregation_channels=11))


def read_tsv():
    """``[(key, shape, dtype)]`` of the original checkpoint."""
    if not osp.isfile(TSV):
        pytest.skip(f'{TSV} not available')
    rows = []
    with open(TSV) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            key, shape, dtype = line.rstrip('\n').split('\t')
            shape = tuple(
                int(s) for s in shape.strip('()').split(',') if s.strip())
            rows.append((key, shape, getattr(torch, dtype.split('.')[-1])))
    return rows


def random_official_state_dict(rows, seed=0):
    """Random tensors of the listed shapes/dtypes; ImageNet mean/std."""
    gen = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for key, shape, dtype in rows:
        if key.endswith('.mean'):
            sd[key] = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        elif key.endswith('.std'):
            sd[key] = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        elif dtype == torch.int64:
            sd[key] = torch.randint(0, 10**6, shape, generator=gen)
        else:
            sd[key] = torch.randn(shape, generator=gen, dtype=dtype)
    return sd


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    """One intra-op thread: as fast for these small inputs, and much faster
    when other jobs share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def model():
    return MODELS.build(STM_R50_CFG).eval()


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------
def test_spec_matches_tsv():
    rows = read_tsv()
    assert len(rows) == 558
    assert [(k, s) for k, s, _ in rows] == list(official_stm_shapes().items())


def test_model_is_the_original_size(model):
    num = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert num == 38_925_570
    assert len(model.state_dict()) == 552


@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_round_trip(model, prefix):
    rows = read_tsv()
    original = random_official_state_dict(rows)
    converted = convert_official_stm_state_dict(
        OrderedDict((prefix + k, v) for k, v in original.items()))
    assert list(converted) == list(model.state_dict())
    model.load_state_dict(converted, strict=True)
    w = converted['memory_encoder.conv1.weight']
    assert torch.equal(w[:, :3], original['Encoder_M.conv1.weight'])
    assert torch.equal(w[:, 3:4], original['Encoder_M.conv1_m.weight'])
    assert torch.equal(w[:, 4:5], original['Encoder_M.conv1_o.weight'])

    back = to_official_stm_state_dict(model.state_dict())
    assert list(back) == [k for k, _, _ in rows]
    for key, shape, dtype in rows:
        assert back[key].dtype == dtype, key
        assert tuple(back[key].shape) == shape, key
        assert torch.equal(back[key], original[key]), key


def test_official_keys_of_a_fresh_model():
    fresh = MODELS.build(STM_R50_CFG)
    official = to_official_stm_state_dict(fresh.state_dict())
    assert list(official) == [k for k, _, _ in read_tsv()]
    assert torch.equal(official['Encoder_Q.std'],
                       torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
    # and the inverse accepts DataParallel keys of ours too
    wrapped = {'module.' + k: v for k, v in fresh.state_dict().items()}
    assert list(to_official_stm_state_dict(wrapped)) == list(official)


def _official():
    return random_official_state_dict([
        (k, s,
         torch.int64 if k.endswith('num_batches_tracked') else torch.float32)
        for k, s in official_stm_shapes().items()
    ])


def test_unknown_and_missing_keys_are_listed():
    sd = _official()
    del sd['Decoder.RF2.ResMM.conv2.bias']
    del sd['Encoder_M.conv1_o.weight']
    sd['Decoder.RF4.convFS.weight'] = torch.zeros(1)
    with pytest.raises(ValueError) as info:
        convert_official_stm_state_dict(sd)
    msg = str(info.value)
    for key in ('Decoder.RF2.ResMM.conv2.bias', 'Encoder_M.conv1_o.weight',
                'Decoder.RF4.convFS.weight'):
        assert key in msg


def test_shape_mismatch_is_reported():
    sd = _official()
    sd['KV_Q_r4.Key.weight'] = torch.zeros(64, 1024, 3, 3)
    with pytest.raises(ValueError, match=r'KV_Q_r4\.Key\.weight.*\(64, 1024'):
        convert_official_stm_state_dict(sd)


def test_non_imagenet_normalisation_is_refused():
    sd = _official()
    sd['Encoder_Q.std'] = torch.ones(1, 3, 1, 1)
    with pytest.raises(ValueError, match=r'Encoder_Q\.std'):
        convert_official_stm_state_dict(sd)


def test_duplicate_prefixed_keys_are_refused():
    sd = _official()
    sd['module.Decoder.pred2.bias'] = sd['Decoder.pred2.bias']
    with pytest.raises(ValueError, match=r'Decoder\.pred2\.bias'):
        convert_official_stm_state_dict(sd)


def test_inverse_refuses_foreign_keys(model):
    sd = dict(model.state_dict())
    sd['loss_module.weight'] = torch.ones(2)
    del sd['decoder.cls_conv.bias']
    with pytest.raises(ValueError) as info:
        to_official_stm_state_dict(sd)
    assert 'loss_module.weight' in str(info.value)
    assert 'decoder.cls_conv.bias' in str(info.value)


# ---------------------------------------------------------------------------
# the converter tool
# ---------------------------------------------------------------------------
TOOL = osp.join('tools', 'model_converters', 'stm_to_vosbench.py')


def test_converter_tool(tmp_path, model, capsys):
    original = _official()
    src, dst = tmp_path / 'STM_weights.pth', tmp_path / 'out' / 'stm.pth'
    torch.save(OrderedDict(('module.' + k, v) for k, v in original.items()),
               src)
    proc = subprocess.run([sys.executable, TOOL,
                           str(src), str(dst)],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and '38,925,570 parameters' in lines[0]
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['converted_from'] == 'STM_weights.pth'
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert torch.equal(
        to_official_stm_state_dict(
            ckpt['state_dict'])['Decoder.RF3.convFS.weight'],
        original['Decoder.RF3.convFS.weight'])
    assert sorted(os.listdir(dst.parent)) == ['stm.pth']  # no temp files

    # errors name the file, exit non-zero and leave no output behind
    tool = runpy.run_path(osp.join(REPO_ROOT, TOOL))  # not as __main__
    bad = tmp_path / 'bad.pth'
    torch.save({'module.Encoder_X.conv9.weight': torch.zeros(1)}, bad)
    for source, detail in ((bad, 'Encoder_X.conv9.weight'),
                           (tmp_path / 'missing.pth', 'no such file')):
        assert tool['main']([str(source), str(tmp_path / 'x.pth')]) == 1
        err = capsys.readouterr().err
        assert str(source) in err and detail in err
        assert not (tmp_path / 'x.pth').exists()



def scaled_random_official_state_dict(seed=0):
    """Random original-format weights with scales that keep a ResNet-50
    STM in a non-saturated regime: fan-in scaled convs, BN close to the
    identity with damped residual branches."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(shape, generator=gen)

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=gen)

    sd = OrderedDict()
    for key, shape in official_stm_shapes().items():
        if key.endswith('.mean'):
            sd[key] = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        elif key.endswith('.std'):
            sd[key] = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        elif key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(1000)
        elif key.endswith('running_mean'):
            sd[key] = 0.1 * randn(*shape)
        elif key.endswith('running_var'):
            sd[key] = uniform(shape, 0.5, 1.5)
        elif '.bn' in key or 'downsample.1' in key:  # BN affine
            if key.endswith('.weight'):
                last = '.bn3.' in key or 'downsample.1' in key
                sd[key] = uniform(shape, 0.2, 0.4) if last else \
                    uniform(shape, 0.8, 1.2)
            else:
                sd[key] = 0.1 * randn(*shape)
        elif key.endswith('.bias'):
            sd[key] = 0.1 * randn(*shape)
        else:  # conv weight
            fan_in = int(np.prod(shape[1:]))
            sd[key] = randn(*shape) * math.sqrt(2.0 / fan_in)
    # Moderate per-object logits (|l1 - l0| < about 3): near p = 1 the
    # original's log(p / (1 - p)) turns one float32 ulp of p into a large
    # logit change, so saturated outputs cannot be compared to 1e-5 by any
    # re-implementation that is not bitwise identical.
    sd['Decoder.pred2.weight'] *= 0.2
    sd['Decoder.pred2.bias'] = torch.tensor([1.0, -1.0])
    # Objects that differ: stronger mask inputs and sharper memory attention
    # (otherwise p1 and p2 are nearly equal everywhere).
    sd['Encoder_M.conv1_m.weight'] *= 5
    sd['Encoder_M.conv1_o.weight'] *= 5
    sd['KV_M_r4.Key.weight'] *= 2
    sd['KV_Q_r4.Key.weight'] *= 2
    return sd


def make_video(num_frames=8, height=69, width=87, seed=0):
    """Smooth coloured noise with two moving rectangles; labels of frame
    0. 69x87 pads to 80x96 with unequal margins (5/6 and 4/5). With 8
    frames and memory every 5 frames, frame 7 reads {0, 5, 6}: the kept
    frame 5 is used."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (height // 8 + 2, width // 8 + 2, 3))
    base = np.kron(base, np.ones((8, 8, 1)))[:height, :width]
    frames = []
    labels = np.zeros((height, width), np.uint8)
    for t in range(num_frames):
        img = base + rng.normal(0, 12, base.shape)
        y1, x1 = 10 + 2 * t, 8 + 3 * t
        y2, x2 = 40 - t, 55 - 2 * t
        img[y1:y1 + 20, x1:x1 + 25] = (220, 40, 40)
        img[y2:y2 + 18, x2:x2 + 22] = (30, 60, 230)
        if t == 0:
            labels[y1:y1 + 20, x1:x1 + 25] = 1
            labels[y2:y2 + 18, x2:x2 + 22] = 2
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames, labels


def run_ours(model, frames, labels, **overrides):
    stream = model.new_stream([1, 2], **overrides)
    out = [stream.start(frames[0], labels)]
    for frame in frames[1:]:
        probs = stream.segment(frame)
        stream.memorize(probs)
        out.append(probs)
    return torch.stack(out)


@pytest.fixture(scope='module')
def fidelity_setup():
    weights = scaled_random_official_state_dict()
    reference = OrigSTM().eval()
    reference.load_state_dict(weights, strict=True)  # original naming
    model = MODELS.build(STM_R50_CFG).eval()  # not shared with other tests
    model.load_state_dict(convert_official_stm_state_dict(weights),
                          strict=True)
    frames, labels = make_video()
    # as the original loader: float [0, 1] frames, one-hot over 11 channels
    frames_t = torch.from_numpy(
        (np.stack(frames) / 255.).astype(np.float32)).permute(0, 3, 1, 2)
    first = torch.from_numpy(
        np.stack([labels == k for k in range(11)]).astype(np.float32))
    expected = reference.run_video(frames_t, first, num_objects=2, mem_every=5)
    ours = run_ours(model, frames, labels)  # test_cfg: 11 channels
    return dict(model=model,
                reference=reference,
                frames=frames,
                labels=labels,
                frames_t=frames_t,
                first=first,
                expected=expected,
                ours=ours)


def test_reference_probabilities_are_not_saturated(fidelity_setup):
    probs = fidelity_setup['expected'][1:, :3]
    varied = ((probs > 0.02) & (probs < 0.98)).float().mean()
    assert varied > 0.5, float(varied)
    # every channel wins on a good share of the pixels
    labels = probs.argmax(1)
    for k in range(3):
        assert 0.05 < (labels == k).float().mean() < 0.8
    # and the two objects are told apart
    assert (probs[:, 1] - probs[:, 2]).abs().median() > 1e-3


def test_matches_the_original_stm(fidelity_setup):
    model = fidelity_setup['model']
    expected = fidelity_setup['expected']
    frames, labels = fidelity_setup['frames'], fidelity_setup['labels']
    ours = fidelity_setup['ours']  # test_cfg: aggregation_channels=11
    assert ours.shape == (8, 3, 69, 87)
    assert torch.equal(ours[0], expected[0, :3])
    diff = (ours[1:] - expected[1:, :3]).abs().max().item()
    assert diff < 1e-5, diff

    predicted = np.stack(list(model.segment_video(iter(frames), labels)))
    assert predicted.shape == (8, 69, 87)
    expected_labels = expected.argmax(1).numpy()
    # Where the two best channels are within twice the tolerance of each
    # other, float32 noise may decide (on another BLAS); that is a handful
    # of pixels. Everywhere else the labels must be the same.
    top2 = expected.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1] > 2e-5).numpy()
    assert (~clear).sum() <= 20
    np.testing.assert_array_equal(predicted[clear], expected_labels[clear])
    np.testing.assert_array_equal(predicted[0], labels)


def test_without_the_unused_channels(fidelity_setup):
    """``aggregation_channels=None`` (softmax over the K + 1 real channels)
    differs from the original's 11-channel softmax by the ~1e-6 of
    probability mass the unused channels take."""
    frames, labels = fidelity_setup['frames'], fidelity_setup['labels']
    eleven = fidelity_setup['ours']
    real = run_ours(fidelity_setup['model'],
                    frames,
                    labels,
                    aggregation_channels=None)
    leak = (real[1:] - eleven[1:]).abs().max().item()
    assert 1e-8 < leak < 1e-5, leak
    assert (real[1:].sum(1) - 1).abs().max() < 1e-6
    assert (1 - eleven[1:].sum(1)).max() > 1e-7  # mass in unused channels
    diff = (real[1:] - fidelity_setup['expected'][1:, :3]).abs().max().item()
    assert 0 < diff < 2e-5, diff


def test_comparison_is_sensitive_to_the_memory_masks(fidelity_setup):
    """Memorising the argmax instead of the soft probabilities changes the
    result far beyond the tolerance used above."""
    hard = fidelity_setup['reference'].run_video(
        fidelity_setup['frames_t'][:3],
        fidelity_setup['first'],
        num_objects=2,
        mem_every=5,
        hard_memory=True)
    diff = (hard[2] - fidelity_setup['expected'][2]).abs().max().item()
    assert diff > 1e-3, diff
