"""Tests of vosbench.models.backbones.ResNeSt (REFERENCE.md section 4)."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from backbone_test_utils import (conv_linear_macs, messages, num_params,
                                 randomise, save_checkpoint,
                                 state_dict_with_classifier, stm_config,
                                 warnings_of)
from torch.nn.modules.batchnorm import _BatchNorm

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.models.backbones import ResNeSt
from vosbench.models.backbones.resnest import (ResNeStBottleneck,
                                               SplitAttentionConv2d)
from vosbench.registry import BACKBONES, MODELS

IMAGENET_FC = 2048 * 1000 + 1000


def meta_resnest(*args, **kwargs) -> ResNeSt:
    """A ResNeSt on the meta device: shapes only, built in milliseconds."""
    with torch.device('meta'):
        return ResNeSt(*args, **kwargs)


def narrow(**kwargs) -> ResNeSt:
    """A narrow ResNeSt-50 (stem 16, stage widths 16..128) for fast tests."""
    kwargs.setdefault('stem_channels', 16)
    kwargs.setdefault('base_channels', 16)
    return ResNeSt(50, **kwargs)


# ---------------------------------------------------------------------------
# fidelity: parameter and MAC counts of ResNeSt-50 "2s1x64d"
# ---------------------------------------------------------------------------
def test_resnest50_parameter_counts():
    full = meta_resnest(50)
    assert num_params(full) == 25_434_240  # 25.43 M without classifier
    assert num_params(full) + IMAGENET_FC == 27_483_240  # 27.48 M with
    up_to_stage3 = meta_resnest(50, num_stages=3, out_indices=(0, 1, 2))
    assert num_params(up_to_stage3) == 9_281_408  # 9.28 M
    assert not hasattr(up_to_stage3, 'layer4')
    # STM's memory encoder: 2 more input channels of the first 3x3 conv
    memory = meta_resnest(50, in_channels=5, num_stages=3, out_indices=(2, ))
    assert num_params(memory) == 9_281_408 + 2 * 32 * 3 * 3


def test_resnest101_parameter_count():
    # published: 48.3 M parameters with the classifier
    assert num_params(meta_resnest(101)) + IMAGENET_FC == 48_275_016


class ImageNetClassifier(nn.Module):
    """The backbone, global average pooling and a 2048 -> 1000 fc."""

    def __init__(self, backbone: ResNeSt):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        return self.fc(self.backbone(x)[-1].mean(dim=(2, 3)))


def test_resnest50_macs_at_224():
    with torch.device('meta'):  # shapes only: instantaneous
        model = ImageNetClassifier(ResNeSt(50, out_indices=(3, )))
    assert num_params(model) == 27_483_240
    macs = conv_linear_macs(model, size=224)
    assert macs == pytest.approx(5.37e9, rel=0.01)
    # the convolutions alone: 5.369 G; the classifier adds 2.05 M
    assert macs - 2048 * 1000 == 5_369_112_576


# ---------------------------------------------------------------------------
# architecture
# ---------------------------------------------------------------------------
def test_parameter_names_and_layout():
    model = meta_resnest(50)
    names = set(model.state_dict())
    for key in [
            'stem.conv1.weight', 'stem.bn1.running_var', 'stem.conv2.weight',
            'stem.bn2.weight', 'stem.conv3.weight', 'stem.bn3.bias',
            'layer1.0.conv1.weight', 'layer1.0.bn1.weight',
            'layer1.0.conv2.conv.weight', 'layer1.0.conv2.bn0.weight',
            'layer1.0.conv2.fc1.weight', 'layer1.0.conv2.fc1.bias',
            'layer1.0.conv2.bn1.running_mean', 'layer1.0.conv2.fc2.bias',
            'layer1.0.conv3.weight', 'layer1.0.bn3.weight',
            'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight',
            'layer3.5.conv2.fc2.weight', 'layer4.2.bn3.num_batches_tracked'
    ]:
        assert key in names, key
    # the split-attention conv normalises itself: no bn2 anywhere
    assert not any('.bn2.' in k for k in names if k.startswith('layer'))
    assert not any(k.startswith(('fc.', 'conv1.', 'bn1.')) for k in names)
    assert 'layer1.1.downsample.0.weight' not in names
    assert len(names) == 474


def test_deep_stem():
    model = meta_resnest(50, in_channels=5)
    stem = model.stem
    convs = [stem.conv1, stem.conv2, stem.conv3]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(5, 32),
                                                                 (32, 32),
                                                                 (32, 64)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1)
               and c.bias is None for c in convs)
    assert [stem.bn1.num_features, stem.bn2.num_features,
            stem.bn3.num_features] == [32, 32, 64]
    assert isinstance(stem.relu3, nn.ReLU)  # BN + ReLU after each conv
    pool = model.maxpool
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)


@pytest.mark.parametrize('stage,width,attention', [(1, 64, 32), (2, 128, 64),
                                                    (3, 256, 128),
                                                    (4, 512, 256)])
def test_bottleneck_layout(stage, width, attention):
    model = meta_resnest(50)
    layer = getattr(model, f'layer{stage}')
    assert len(layer) == (3, 4, 6, 3)[stage - 1]
    first = layer[0]
    split = first.conv2
    assert isinstance(first, ResNeStBottleneck)
    assert isinstance(split, SplitAttentionConv2d)
    # 3x3 conv C -> 2C with cardinality * radix = 2 groups, stride 1
    assert (split.conv.in_channels, split.conv.out_channels) == (width,
                                                                  2 * width)
    assert split.conv.groups == 2 and split.conv.stride == (1, 1)
    assert split.conv.kernel_size == (3, 3) and split.conv.bias is None
    assert split.bn0.num_features == 2 * width
    # attention: max(C * radix / 4, 32) with bias, back to radix * C
    assert (split.fc1.in_channels, split.fc1.out_channels) == (width,
                                                                attention)
    assert (split.fc2.in_channels, split.fc2.out_channels) == (attention,
                                                                2 * width)
    assert split.fc1.bias is not None and split.fc2.bias is not None
    assert split.bn1.num_features == attention
    assert first.conv3.out_channels == 4 * width
    # shortcut: 1x1 conv (no bias) + BN, after an average pool if strided
    assert first.downsample[0].kernel_size == (1, 1)
    assert first.downsample[0].stride == (1, 1)
    assert first.downsample[0].bias is None
    if stage == 1:
        assert first.stride_pool is None and first.shortcut_pool is None
    else:
        pool = first.stride_pool
        assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
        assert pool.count_include_pad and not pool.ceil_mode
        pool = first.shortcut_pool
        assert (pool.kernel_size, pool.stride, pool.padding) == (2, 2, 0)
        assert pool.ceil_mode and not pool.count_include_pad
    for block in layer[1:]:
        assert block.downsample is None and block.stride_pool is None


def test_split_attention_matches_a_direct_computation():
    """Softmax across the radix axis within each group; fc2's logits are
    ordered (group, radix, channel)."""
    torch.manual_seed(0)
    radix, groups, channels = 2, 2, 8
    module = SplitAttentionConv2d(
        8, channels, groups=groups, radix=radix,
        min_attention_channels=4).eval()
    randomise(module)
    x = torch.randn(3, 8, 5, 7)
    with torch.no_grad():
        out = module(x)
        u = F.relu(module.bn0(module.conv(x)))
        splits = [u[:, r * channels:(r + 1) * channels] for r in range(radix)]
        gap = sum(splits).mean(dim=(2, 3), keepdim=True)
        logits = module.fc2(F.relu(module.bn1(module.fc1(gap))))[:, :, 0, 0]
        per_group = channels // groups
        expected = torch.zeros_like(out)
        for g in range(groups):
            for c in range(per_group):
                z = torch.stack([
                    logits[:, (g * radix + r) * per_group + c]
                    for r in range(radix)
                ], dim=1)
                weights = z.softmax(dim=1)
                ch = g * per_group + c
                expected[:, ch] = sum(weights[:, r, None, None] *
                                      splits[r][:, ch] for r in range(radix))
    torch.testing.assert_close(out, expected)
    assert module.attention_channels == max(8 * radix // 4, 4)


def test_split_attention_radix_one_uses_sigmoid():
    module = SplitAttentionConv2d(8, 8, radix=1).eval()
    randomise(module, seed=1)
    x = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        u = F.relu(module.bn0(module.conv(x)))
        gap = u.mean(dim=(2, 3), keepdim=True)
        weights = torch.sigmoid(
            module.fc2(F.relu(module.bn1(module.fc1(gap)))))
        torch.testing.assert_close(module(x), weights * u)


@pytest.mark.parametrize('height,width', [(64, 96), (65, 47)])
def test_output_shapes_and_strides(height, width):
    model = narrow().eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, height, width))
    assert isinstance(outs, tuple) and len(outs) == 4
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        # every strided layer rounds up, as do the shortcut's ceil-mode pools
        assert out.shape == (2, 64 * 2**i, -(-height // stride),
                             -(-width // stride))
    assert model.out_channels == (64, 128, 256, 512)
    assert model.out_strides == (4, 8, 16, 32)


def test_full_width_stm_configuration_shapes():
    model = ResNeSt(50, in_channels=5, num_stages=3,
                    out_indices=(0, 1, 2)).eval()
    with torch.no_grad():
        r2, r3, r4 = model(torch.rand(1, 5, 64, 64))
    assert r2.shape == (1, 256, 16, 16)
    assert r3.shape == (1, 512, 8, 8)
    assert r4.shape == (1, 1024, 4, 4)
    assert model.out_channels == (256, 512, 1024)
    assert model.out_strides == (4, 8, 16)


def test_out_indices_selects_and_orders_stages():
    model = narrow(num_stages=3, out_indices=(2, 0)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 2, 2), (1, 64, 8, 8)]
    assert model.out_channels == (256, 64)


def test_invalid_arguments():
    with pytest.raises(KeyError, match='depth'):
        ResNeSt(42)
    with pytest.raises(ValueError, match='out_indices'):
        narrow(num_stages=3, out_indices=(3, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        narrow(num_stages=2, out_indices=(0, 1), frozen_stages=3)
    with pytest.raises(ValueError, match='num_stages'):
        narrow(num_stages=5)


def test_build_from_registry():
    model = BACKBONES.build(
        dict(type='ResNeSt', depth=50, stem_channels=16, base_channels=8,
             num_stages=2, out_indices=(1, )))
    assert isinstance(model, ResNeSt)
    assert model.out_channels == (64, )


def test_norm_cfg_is_used():
    model = narrow(norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    assert isinstance(model.stem.bn1, nn.GroupNorm)
    assert isinstance(model.layer2[0].conv2.bn0, nn.GroupNorm)
    assert isinstance(model.layer2[0].conv2.bn1, nn.GroupNorm)
    assert isinstance(model.layer2[0].downsample[1], nn.GroupNorm)
    # GroupNorm has no batch statistics: training with one sample works
    model.train()
    model(torch.rand(1, 3, 32, 32))


# ---------------------------------------------------------------------------
# default initialisation
# ---------------------------------------------------------------------------
def test_default_init_and_zero_init_residual():
    model = randomise(narrow(zero_init_residual=True))
    model.init_weights()
    for m in model.modules():
        if isinstance(m, _BatchNorm) and m not in {
                b.bn3
                for b in model.modules() if isinstance(b, ResNeStBottleneck)
        }:
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    for layer in (model.layer1, model.layer4):
        for block in layer:
            assert torch.all(block.bn3.weight == 0)
            assert torch.all(block.conv2.fc1.bias == 0)
    w = model.layer3[0].conv2.conv.weight
    expected_std = (2.0 / (w.shape[0] * 9))**0.5  # Kaiming, fan-out mode
    assert abs(w.std().item() - expected_std) < 0.15 * expected_std


# ---------------------------------------------------------------------------
# pretrained loading (shared with ResNet)
# ---------------------------------------------------------------------------
def test_pretrained_three_channel_checkpoint_into_memory_encoder(
        tmp_path, logs):
    source = randomise(narrow())
    path = save_checkpoint(tmp_path / 'rgb.pth',
                           state_dict_with_classifier(source))
    model = narrow(in_channels=5, num_stages=3, out_indices=(0, 1, 2),
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    w = model.stem.conv1.weight
    assert w.shape == (8, 5, 3, 3)
    assert torch.equal(w[:, :3], source.stem.conv1.weight)
    assert torch.all(w[:, 3:] == 0)
    for k, v in model.state_dict().items():
        if k != 'stem.conv1.weight':
            assert torch.equal(v, source.state_dict()[k]), k
    # fc is dropped silently, layer4 with a message, nothing is a warning
    assert warnings_of(logs) == []
    assert any('layer4' in m and 'not built' in m for m in messages(logs))
    assert any('stem.conv1.weight' in m and 'zero' in m
               for m in messages(logs))

    # with zero mask kernels the masks do not change the features
    source.eval()
    model.eval()
    rgb = torch.rand(2, 3, 40, 40)
    masks = torch.rand(2, 2, 40, 40) * 50
    with torch.no_grad():
        expected = source(rgb)[:3]
        got = model(torch.cat([rgb, masks], dim=1))
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)


def test_pretrained_missing_and_unexpected_keys_reported_by_name(
        tmp_path, logs):
    source = randomise(narrow())
    sd = state_dict_with_classifier(source)
    del sd['layer2.0.conv2.fc1.bias']
    del sd['stem.bn2.running_var']
    sd['layer1.0.bn2.weight'] = torch.ones(16)  # no bn2 in ResNeSt
    path = save_checkpoint(tmp_path / 'partial.pth',
                           {'state_dict': {f'module.backbone.{k}': v
                                           for k, v in sd.items()}})
    model = narrow(init_cfg=dict(type='Pretrained', checkpoint=path,
                                 prefix='backbone'))
    model.init_weights()
    warnings = warnings_of(logs)
    missing = [m for m in warnings if 'missing keys' in m]
    unexpected = [m for m in warnings if 'unexpected keys' in m]
    assert len(missing) == 1 and len(unexpected) == 1
    assert 'layer2.0.conv2.fc1.bias' in missing[0]
    assert 'stem.bn2.running_var' in missing[0]
    assert 'layer1.0.bn2.weight' in unexpected[0]
    assert missing[0].startswith('ResNeSt:')
    assert torch.equal(model.layer2[0].conv2.fc2.bias,
                       source.layer2[0].conv2.fc2.bias)


def test_pretrained_shape_mismatch_raises_naming_key(tmp_path):
    sd = state_dict_with_classifier(narrow())
    sd['layer3.1.conv2.fc2.weight'] = torch.zeros(3, 3, 1, 1)
    path = save_checkpoint(tmp_path / 'bad.pth', sd)
    model = narrow(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r'layer3\.1\.conv2\.fc2\.weight'):
        model.init_weights()


# ---------------------------------------------------------------------------
# freezing and norm_eval
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('frozen_stages', [0, 2])
def test_frozen_stages(frozen_stages):
    model = narrow(frozen_stages=frozen_stages)
    model.train()
    frozen = [model.stem] + [
        getattr(model, f'layer{i}') for i in range(1, frozen_stages + 1)
    ]
    trainable = [
        getattr(model, f'layer{i}') for i in range(frozen_stages + 1, 5)
    ]
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules())
    for module in trainable:
        assert all(p.requires_grad for p in module.parameters())
        assert all(m.training for m in module.modules())


def test_norm_eval_keeps_running_stats():
    model = narrow(norm_eval=True)
    model.train()
    assert model.training
    stats = [
        m.running_mean.clone() for m in model.modules()
        if isinstance(m, _BatchNorm)
    ]
    # one sample is fine with running statistics
    model(torch.rand(1, 3, 32, 32) * 5 + 3)
    after = [
        m.running_mean for m in model.modules() if isinstance(m, _BatchNorm)
    ]
    assert all(torch.equal(a, b) for a, b in zip(stats, after))
    assert all(p.requires_grad for p in model.parameters())


# ---------------------------------------------------------------------------
# STM with ResNeSt encoders
# ---------------------------------------------------------------------------
def test_stm_with_resnest_encoders_trains_and_segments():
    torch.manual_seed(0)
    model = MODELS.build(
        stm_config(
            dict(type='ResNeSt', depth=50, num_stages=3, norm_eval=True)))
    model.init_weights()
    assert model.memory_encoder.stem.conv1.in_channels == 5
    assert model.memory_encoder.out_strides == (16, )
    assert model.query_encoder.out_strides == (4, 8, 16)

    # one training step on a 3-frame 64x64 clip with two objects
    size, frames = 64, 3
    clip = torch.randint(0, 256, (frames, 3, size, size), dtype=torch.uint8)
    masks = torch.zeros(frames, size, size, dtype=torch.long)
    for t in range(frames):
        masks[t, 8 + t:30 + t, 8:30] = 1
        masks[t, 36:56, 30 + t:54 + t] = 2
    batch = dict(inputs=[clip], data_samples=[dict(masks=masks,
                                                   num_objects=2)])
    model.train()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    loss = losses['loss_ce']
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    stem_grad = model.memory_encoder.stem.conv1.weight.grad
    assert stem_grad is not None and stem_grad[:, 3:].abs().sum() > 0
    assert model.query_encoder.layer1[0].conv2.fc2.weight.grad.abs().sum() > 0

    # streaming inference on a 3-frame video (sizes not multiples of 16)
    model.eval()
    video = [np.random.RandomState(i).randint(0, 256, (50, 70, 3),
                                              dtype=np.uint8)
             for i in range(3)]
    first = np.zeros((50, 70), np.uint8)
    first[5:25, 5:30] = 3
    first[30:45, 40:65] = 7
    out = list(model.segment_video(iter(video), first))
    assert len(out) == 3
    np.testing.assert_array_equal(out[0], first)
    for labels in out:
        assert labels.dtype == np.uint8 and labels.shape == (50, 70)
        assert set(np.unique(labels)) <= {0, 3, 7}
