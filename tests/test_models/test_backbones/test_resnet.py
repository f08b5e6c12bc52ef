"""Tests of vosbench.models.backbones.ResNet."""
import logging

import pytest
import torch
import torch.nn as nn
from backbone_test_utils import (messages, num_params, randomise,
                                 save_checkpoint, state_dict_with_classifier,
                                 warnings_of)
from torch.nn.modules.batchnorm import _BatchNorm

from vosbench.models.backbones import ResNet
from vosbench.registry import BACKBONES


# ---------------------------------------------------------------------------
# architecture
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('depth,num_stages,in_channels,expected', [
    (50, 3, 3, 8_543_296),
    (50, 3, 5, 8_549_568),
    (50, 4, 3, 23_508_032),  # torchvision resnet50 (25,557,032) minus fc
    (18, 4, 3, 11_176_512),  # torchvision resnet18 (11,689,512) minus fc
])
def test_parameter_counts(depth, num_stages, in_channels, expected):
    model = ResNet(depth, in_channels=in_channels, num_stages=num_stages,
                   out_indices=tuple(range(num_stages)))
    assert num_params(model) == expected
    if num_stages == 3:
        assert not hasattr(model, 'layer4')


def test_torchvision_parameter_names():
    model = ResNet(50)
    names = set(model.state_dict())
    for key in [
            'conv1.weight', 'bn1.weight', 'bn1.running_mean',
            'layer1.0.conv1.weight', 'layer1.0.bn3.bias',
            'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight',
            'layer2.0.conv2.weight', 'layer3.5.bn2.running_var',
            'layer4.2.conv3.weight'
    ]:
        assert key in names, key
    assert not any(k.startswith(('fc.', 'avgpool')) for k in names)
    assert model.conv1.bias is None
    assert model.conv1.kernel_size == (7, 7) and model.conv1.stride == (2, 2)
    assert model.layer1[0].downsample[0].bias is None
    assert 'layer1.1.downsample.0.weight' not in names
    # v1.5: the stride is on the 3x3 conv of the first block.
    assert model.layer2[0].conv1.stride == (1, 1)
    assert model.layer2[0].conv2.stride == (2, 2)

    basic = set(ResNet(18).state_dict())
    assert 'layer1.0.conv2.weight' in basic
    assert 'layer1.0.conv3.weight' not in basic
    assert 'layer1.0.downsample.0.weight' not in basic  # 64 -> 64, stride 1
    assert 'layer2.0.downsample.0.weight' in basic


@pytest.mark.parametrize('depth,channels', [
    (18, (64, 128, 256, 512)),
    (34, (64, 128, 256, 512)),
    (50, (256, 512, 1024, 2048)),
    (101, (256, 512, 1024, 2048)),
])
def test_output_shapes_and_strides(depth, channels):
    # A narrow network keeps the deep variants fast; widths scale by 1/4.
    model = ResNet(depth, base_channels=16, out_indices=(0, 1, 2, 3)).eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        outs = model(x)
    assert isinstance(outs, tuple) and len(outs) == 4
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        assert out.shape == (2, channels[i] // 4, 64 // stride, 96 // stride)
    assert model.out_channels == tuple(c // 4 for c in channels)
    assert model.out_strides == (4, 8, 16, 32)


def test_out_indices_selects_and_orders_stages():
    model = ResNet(18, base_channels=8, num_stages=3,
                   out_indices=(2, 0)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 2, 2), (1, 8, 8, 8)]
    assert model.out_channels == (32, 8)


def test_stm_configuration_shapes():
    model = ResNet(50, in_channels=5, num_stages=3,
                   out_indices=(0, 1, 2)).eval()
    with torch.no_grad():
        r2, r3, r4 = model(torch.rand(1, 5, 64, 64))
    assert r2.shape == (1, 256, 16, 16)
    assert r3.shape == (1, 512, 8, 8)
    assert r4.shape == (1, 1024, 4, 4)


@pytest.mark.parametrize('depth,expected', [
    (50, (64, 128, 256, 512)),
    (18, (16, 32, 64, 128)),
])
def test_base_channels_scaling(depth, expected):
    model = ResNet(depth, base_channels=16)
    assert tuple(model.stage_channels) == expected
    assert model.conv1.out_channels == 16
    assert model.bn1.num_features == 16
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 3, 32, 32))
    assert tuple(o.shape[1] for o in outs) == expected


def test_invalid_arguments():
    with pytest.raises(KeyError, match='depth'):
        ResNet(42)
    with pytest.raises(ValueError, match='out_indices'):
        ResNet(18, num_stages=3, out_indices=(3, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        ResNet(18, num_stages=2, out_indices=(0, 1), frozen_stages=3)


def test_build_from_registry():
    model = BACKBONES.build(
        dict(type='ResNet', depth=18, base_channels=8, out_indices=(1, )))
    assert isinstance(model, ResNet)
    assert model.out_channels == (16, )


def test_norm_cfg_used_with_torchvision_names():
    model = ResNet(18, base_channels=8,
                   norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    assert isinstance(model.bn1, nn.GroupNorm)
    assert isinstance(model.layer2[0].downsample[1], nn.GroupNorm)
    frozen_bn = ResNet(18, base_channels=8,
                       norm_cfg=dict(type='BN', requires_grad=False))
    assert not frozen_bn.bn1.weight.requires_grad
    assert frozen_bn.conv1.weight.requires_grad


# ---------------------------------------------------------------------------
# default initialisation
# ---------------------------------------------------------------------------
def test_default_init():
    model = randomise(ResNet(18, base_channels=8))
    model.init_weights()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    # Kaiming normal, fan_out: std = sqrt(2 / (out_channels * k * k)).
    w = model.layer3[0].conv2.weight
    expected_std = (2.0 / (w.shape[0] * 9))**0.5
    assert abs(w.std().item() - expected_std) < 0.15 * expected_std
    assert torch.all(model.layer1[0].bn2.weight == 1)


def test_zero_init_residual():
    model = ResNet(50, base_channels=8, zero_init_residual=True)
    model.init_weights()
    for layer in (model.layer1, model.layer4):
        for block in layer:
            assert torch.all(block.bn3.weight == 0)
            assert torch.all(block.bn2.weight == 1)
    model18 = ResNet(18, base_channels=8, zero_init_residual=True)
    model18.init_weights()
    assert torch.all(model18.layer2[1].bn2.weight == 0)
    assert torch.all(model18.layer2[1].bn1.weight == 1)


def test_other_init_cfg_defers_to_mmengine():
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Constant', val=0.5, layer='Conv2d'))
    model.init_weights()
    assert torch.all(model.conv1.weight == 0.5)
    assert torch.all(model.layer3[1].conv2.weight == 0.5)


# ---------------------------------------------------------------------------
# pretrained loading
# ---------------------------------------------------------------------------
def test_pretrained_torchvision_checkpoint_loads(tmp_path, logs):
    source = randomise(ResNet(18, base_channels=8))
    path = save_checkpoint(tmp_path / 'r18.pth',
                           state_dict_with_classifier(source))
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    expected = source.state_dict()
    got = model.state_dict()
    assert set(got) == set(expected)
    for k in expected:
        assert torch.equal(got[k], expected[k]), k
    # fc.* keys are dropped, not reported as unexpected.
    assert warnings_of(logs) == []


def test_pretrained_state_dict_module_and_prefix(tmp_path, logs):
    source = randomise(ResNet(18, base_channels=8))
    wrapped = {
        'meta': {'epoch': 3},
        'state_dict': {
            f'module.backbone.{k}': v
            for k, v in state_dict_with_classifier(source).items()
        }
    }
    wrapped['state_dict']['module.decode_head.conv.weight'] = torch.ones(1)
    path = save_checkpoint(tmp_path / 'wrapped.pth', wrapped)
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path,
                                 prefix='backbone'))
    model.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert warnings_of(logs) == []


def test_pretrained_drops_unbuilt_stages_and_logs(tmp_path, logs):
    source = randomise(ResNet(18, base_channels=8))
    path = save_checkpoint(tmp_path / 'full.pth',
                           state_dict_with_classifier(source))
    model = ResNet(18, base_channels=8, num_stages=3, out_indices=(0, 1, 2),
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(v, source.state_dict()[k]), k
    # layer4 is mentioned in the log but not as an unexpected key.
    assert any('layer4' in m and 'not built' in m for m in messages(logs))
    assert warnings_of(logs) == []


def test_three_channel_checkpoint_into_five_channel_model(tmp_path, logs):
    source = randomise(ResNet(18, base_channels=8))
    path = save_checkpoint(tmp_path / 'rgb.pth',
                           state_dict_with_classifier(source))
    model = ResNet(18, in_channels=5, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    w = model.conv1.weight
    assert w.shape == (8, 5, 7, 7)
    assert torch.equal(w[:, :3], source.conv1.weight)
    assert torch.all(w[:, 3:] == 0)
    assert warnings_of(logs) == []
    assert any('zero' in m for m in messages(logs))

    source.eval()
    model.eval()
    rgb = torch.rand(2, 3, 48, 48)
    masks = torch.rand(2, 2, 48, 48) * 100  # anything at all
    with torch.no_grad():
        expected = source(rgb)
        got = model(torch.cat([rgb, masks], dim=1))
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)


def test_missing_and_unexpected_keys_reported_by_name(tmp_path, logs):
    source = randomise(ResNet(18, base_channels=8))
    sd = state_dict_with_classifier(source)
    del sd['layer1.0.bn1.weight']
    del sd['layer3.1.conv2.weight']
    sd['foo.bar'] = torch.zeros(3)
    path = save_checkpoint(tmp_path / 'partial.pth', sd)
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    warnings = warnings_of(logs)
    text = '\n'.join(warnings)
    assert 'layer1.0.bn1.weight' in text
    assert 'layer3.1.conv2.weight' in text
    assert 'foo.bar' in text
    missing_msg = [m for m in warnings if 'missing keys' in m]
    unexpected_msg = [m for m in warnings if 'unexpected keys' in m]
    assert len(missing_msg) == 1 and len(unexpected_msg) == 1
    assert 'layer1.0.bn1.weight' in missing_msg[0]
    assert 'layer3.1.conv2.weight' in missing_msg[0]
    assert 'foo.bar' not in missing_msg[0]
    assert 'foo.bar' in unexpected_msg[0]
    assert 'layer1.0.bn1.weight' not in unexpected_msg[0]
    # The keys that were present are loaded.
    assert torch.equal(model.layer1[0].bn1.bias, source.layer1[0].bn1.bias)


def test_missing_keys_reach_mmengine_logger(tmp_path, logs):
    """Without mocking, the warning goes through mmengine's current logger."""
    sd = state_dict_with_classifier(ResNet(18, base_channels=8))
    del sd['layer2.0.downsample.1.weight']
    path = save_checkpoint(tmp_path / 'partial.pth', sd)
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    assert any('layer2.0.downsample.1.weight' in r.getMessage()
               and r.levelno == logging.WARNING for r in logs)


def test_shape_mismatch_raises_naming_key(tmp_path):
    sd = state_dict_with_classifier(ResNet(18, base_channels=8))
    sd['layer2.0.conv1.weight'] = torch.zeros(16, 8, 5, 5)
    path = save_checkpoint(tmp_path / 'bad.pth', sd)
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    msg = str(err.value)
    assert 'layer2.0.conv1.weight' in msg
    assert '(16, 8, 5, 5)' in msg and '(16, 8, 3, 3)' in msg


def test_wider_checkpoint_conv1_raises(tmp_path):
    sd = state_dict_with_classifier(
        ResNet(18, in_channels=5, base_channels=8))
    path = save_checkpoint(tmp_path / 'five.pth', sd)
    model = ResNet(18, base_channels=8,
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r'conv1\.weight'):
        model.init_weights()


# ---------------------------------------------------------------------------
# freezing and norm_eval
# ---------------------------------------------------------------------------
def _bn_stats(module):
    return [
        m.running_mean.clone() for m in module.modules()
        if isinstance(m, _BatchNorm)
    ]


def _stats_equal(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize('frozen_stages', [0, 1, 2])
def test_frozen_stages(frozen_stages):
    model = ResNet(18, base_channels=8, frozen_stages=frozen_stages)
    model.train()
    frozen = [model.conv1, model.bn1] + [
        getattr(model, f'layer{i}') for i in range(1, frozen_stages + 1)
    ]
    trainable = [
        getattr(model, f'layer{i}') for i in range(frozen_stages + 1, 5)
    ]
    for m in frozen:
        for p in m.parameters():
            assert not p.requires_grad
        for sub in m.modules():
            if isinstance(sub, _BatchNorm):
                assert not sub.training
    for m in trainable:
        for p in m.parameters():
            assert p.requires_grad
        for sub in m.modules():
            if isinstance(sub, _BatchNorm):
                assert sub.training

    # Running statistics of frozen BN layers do not move in training.
    before_frozen = _bn_stats(nn.ModuleList(frozen))
    before_trainable = _bn_stats(nn.ModuleList(trainable))
    model(torch.rand(2, 3, 32, 32) * 5 + 3)
    assert _stats_equal(before_frozen, _bn_stats(nn.ModuleList(frozen)))
    assert not _stats_equal(before_trainable,
                            _bn_stats(nn.ModuleList(trainable)))

    # train() after eval() keeps them frozen.
    model.eval()
    model.train()
    assert not model.bn1.training
    assert model.layer4[0].bn1.training


def test_no_frozen_stages_by_default():
    model = ResNet(18, base_channels=8).train()
    assert all(p.requires_grad for p in model.parameters())
    assert model.bn1.training and model.layer1[0].bn1.training


def test_norm_eval():
    model = ResNet(18, base_channels=8, norm_eval=True)
    model.train()
    assert model.training
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    # Parameters stay trainable; only the statistics are frozen.
    assert all(p.requires_grad for p in model.parameters())
    before = _bn_stats(model)
    model(torch.rand(2, 3, 32, 32) * 5 + 3)
    assert _stats_equal(before, _bn_stats(model))

    model.train(False)
    assert not model.training
