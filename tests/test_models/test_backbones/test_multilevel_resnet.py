"""Tests of vosbench.models.backbones.MultiLevelResNet (REFERENCE.md
section 4, multi-level backbone)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from backbone_test_utils import (assert_state_dict_round_trip,
                                 assert_stm_trains_and_segments,
                                 conv_linear_macs, messages, num_params,
                                 randomise, stm_config,
                                 torchvision_like_checkpoint, warnings_of)
from torch.nn.modules.batchnorm import _BatchNorm

import vosbench.models  # noqa: F401  (registers STM and its parts)
from vosbench.models.backbones import MultiLevelResNet, ResNet
from vosbench.models.backbones.multilevel_resnet import ResNetLevel
from vosbench.registry import BACKBONES, MODELS

# Reference figures (approximate, "our specification") for 2 levels.
REFERENCE_PARAMS = 56e6
REFERENCE_MACS = 32e9
NARROW = dict(base_channels=16, channels=32)  # fast variant for behaviour


def assert_level_equals(model: MultiLevelResNet, index: int,
                        source: ResNet) -> None:
    """The stem and level ``index``'s stages hold ``source``'s tensors."""
    expected = source.state_dict()
    got = model.resnet_view(index).state_dict()
    assert set(got) == set(expected)
    for k in expected:
        assert torch.equal(got[k], expected[k]), (index, k)


# ---------------------------------------------------------------------------
# size
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs,expected', [
    (dict(), 56_024_512),
    # STM's memory encoder: 5 input channels, stride-16 output only (the
    # last level has no stride-4/8 laterals or projections)
    (dict(in_channels=5, out_indices=(2, )), 55_635_008),
])
def test_parameter_counts_two_levels(kwargs, expected):
    with torch.device('meta'):
        model = MultiLevelResNet(**kwargs)
    assert num_params(model) == expected
    assert abs(expected - REFERENCE_PARAMS) < 0.1 * REFERENCE_PARAMS


@pytest.mark.parametrize('kwargs,expected', [
    (dict(num_levels=1), 24_955_456),
    (dict(num_levels=3), 87_093_568),
    (dict(depth=(50, 101)), 75_016_640),
])
def test_parameter_counts_other_layouts(kwargs, expected):
    with torch.device('meta'):
        model = MultiLevelResNet(**kwargs)
    assert num_params(model) == expected


def test_parameter_budget_breakdown():
    """Stem + 2 ResNet-50 down paths + up paths + cross-level modules +
    entry + output projections."""
    with torch.device('meta'):
        model = MultiLevelResNet()
    stem = 64 * 3 * 49 + 2 * 64
    down = 23_508_032 - stem  # ResNet-50 without stem and classifier
    stage_channels = (256, 512, 1024, 2048)
    laterals = sum(c * 256 + 2 * 256 for c in stage_channels)
    cross_down = sum(c * c + 2 * c for c in stage_channels)
    cross_up = sum(256 * c + 2 * c for c in stage_channels)
    entry = 256 * 64 + 2 * 64
    outputs = sum(256 * c + 2 * c for c in stage_channels[:3])
    assert num_params(model) == (stem + 2 * down + 2 * laterals +
                                 cross_down + cross_up + entry + outputs)


def test_macs_at_384():
    with torch.device('meta'):
        model = MultiLevelResNet()
    macs = conv_linear_macs(model)
    assert macs == 30_696_800_256
    assert abs(macs - REFERENCE_MACS) < 0.15 * REFERENCE_MACS


# ---------------------------------------------------------------------------
# outputs and structure
# ---------------------------------------------------------------------------
def test_output_strides_and_channels():
    model = MultiLevelResNet().eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 256, 16, 24),
                                              (2, 512, 8, 12),
                                              (2, 1024, 4, 6)]
    assert model.out_channels == (256, 512, 1024)
    assert model.out_strides == (4, 8, 16)


def test_out_indices_select_and_order_outputs():
    model = MultiLevelResNet(out_indices=(2, 0), **NARROW).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    # narrow down paths: C2/C3/C4 have 64/128/256 channels
    assert [tuple(o.shape) for o in outs] == [(1, 256, 4, 4),
                                              (1, 64, 16, 16)]
    assert model.out_channels == (256, 64)
    assert model.out_strides == (16, 4)


def test_odd_input_sizes_and_three_levels():
    model = MultiLevelResNet(num_levels=3, **NARROW).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 40, 72))
    assert [tuple(o.shape[-2:]) for o in outs] == [(10, 18), (5, 9), (3, 5)]


def test_depth_per_level():
    model = MultiLevelResNet(depth=(50, 18), **NARROW).eval()
    assert model.levels[1].stage_channels == (16, 32, 64, 128)
    # the second level reads the first level's wider down features
    assert model.levels[1].cross_down[3].conv.in_channels == 512
    assert model.levels[1].cross_down[3].conv.out_channels == 128
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 32, 64]
    assert model.out_channels == (16, 32, 64)


def test_level_structure():
    model = MultiLevelResNet()
    first, second = model.levels
    assert isinstance(first, ResNetLevel)
    # the shared stem has torchvision's names at the top
    assert model.conv1.kernel_size == (7, 7) and model.conv1.in_channels == 3
    assert not hasattr(first, 'entry') and not hasattr(first, 'cross_down')
    assert 'levels.0.layer1.0.conv1.weight' in model.state_dict()
    assert 'levels.1.layer4.2.conv3.weight' in model.state_dict()
    # the second level starts from the first's stride-4 up feature: 1x1
    # conv + BN + ReLU 256 -> 64, ResNet's layer1 input width
    assert second.entry.conv.kernel_size == (1, 1)
    assert (second.entry.conv.in_channels,
            second.entry.conv.out_channels) == (256, 64)
    assert second.entry.norm_name and second.entry.with_activation
    assert second.layer1[0].conv1.in_channels == 64
    # cross-level aggregation: 1x1 conv + BN + ReLU into each down unit
    for i, channels in enumerate((256, 512, 1024, 2048)):
        for cross, in_channels in ((second.cross_down[i], channels),
                                   (second.cross_up[i], 256)):
            assert cross.conv.kernel_size == (1, 1)
            assert (cross.conv.in_channels,
                    cross.conv.out_channels) == (in_channels, channels)
            assert cross.with_activation
            assert isinstance(cross.bn, nn.BatchNorm2d)
    assert set(first.lateral_convs) == {'c2', 'c3', 'c4', 'c5'}
    assert set(first.out_convs) == set()
    assert set(second.out_convs) == {'c2', 'c3', 'c4'}


def test_forward_matches_the_specified_wiring():
    model = randomise(MultiLevelResNet(**NARROW), std=0.1).eval()
    first, second = model.levels
    x = torch.rand(1, 3, 64, 64)

    def up_path(level, down):
        ups, top = {}, None
        for i in (3, 2, 1, 0):
            u = level.lateral_convs[f'c{i + 2}'](down[i])
            if top is not None:
                u = u + F.interpolate(top, size=u.shape[-2:],
                                      mode='bilinear', align_corners=False)
            ups[i] = top = F.relu(u)
        return ups

    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        down0 = []
        for stage in first.stages():
            h = stage(h)
            down0.append(h)
        up0 = up_path(first, down0)
        h = second.entry(up0[0])
        down1 = []
        for i, stage in enumerate(second.stages()):
            h = stage(h) + second.cross_down[i](down0[i]) + \
                second.cross_up[i](up0[i])
            down1.append(h)
        up1 = up_path(second, down1)
        expected = [down1[i] + second.out_convs[f'c{i + 2}'](up1[i])
                    for i in range(3)]
        got = model(x)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize('out_indices', [(0, 1, 2), (2, ), (1, )])
def test_every_parameter_is_used(out_indices):
    """The last level builds no lateral below the lowest output and no
    unrequested projection, so DDP finds no unused parameter."""
    model = MultiLevelResNet(out_indices=out_indices, **NARROW).train()
    outs = model(torch.rand(2, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []
    last = model.levels[-1]
    assert set(last.out_convs) == {f'c{i + 2}' for i in out_indices}
    assert set(last.lateral_convs) == {
        f'c{level}' for level in range(min(out_indices) + 2, 6)
    }


def test_invalid_arguments():
    with pytest.raises(ValueError, match='out_indices'):
        MultiLevelResNet(out_indices=(3, ))
    with pytest.raises(ValueError, match='depths'):
        MultiLevelResNet(num_levels=3, depth=(50, 50))
    with pytest.raises(ValueError, match='num_levels'):
        MultiLevelResNet(num_levels=0)
    with pytest.raises(ValueError, match='frozen_stages'):
        MultiLevelResNet(frozen_stages=5)


def test_build_from_registry():
    model = BACKBONES.build(
        dict(type='MultiLevelResNet', num_levels=2, out_indices=(1, ),
             **NARROW))
    assert isinstance(model, MultiLevelResNet)
    assert model.out_channels == (128, )


# ---------------------------------------------------------------------------
# initialisation and pretrained weights
# ---------------------------------------------------------------------------
def test_default_init():
    model = randomise(MultiLevelResNet(**NARROW), std=0.1)
    model.init_weights()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    w = model.levels[1].cross_up[2].conv.weight  # Kaiming normal, fan-out
    expected_std = (2.0 / w.shape[0])**0.5
    assert abs(w.std().item() - expected_std) < 0.2 * expected_std


def test_imagenet_resnet50_loads_into_every_level(resnet50_checkpoint, logs):
    path, source = resnet50_checkpoint
    model = MultiLevelResNet(
        init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    for index in range(2):
        assert_level_equals(model, index, source)
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert torch.equal(model.levels[1].layer3[5].conv2.weight,
                       source.layer3[5].conv2.weight)
    # the added modules keep their init; fc.* is not an unexpected key
    second = model.levels[1]
    assert torch.all(second.entry.bn.weight == 1)
    assert torch.all(second.cross_down[0].bn.weight == 1)
    assert torch.all(second.out_convs['c4'].bn.weight == 1)
    assert warnings_of(logs) == []
    text = ' '.join(messages(logs))
    assert 'level 0' in text and 'level 1' in text


def test_three_channel_checkpoint_into_five_channel_model(tmp_path, logs):
    source = randomise(ResNet(depth=50, base_channels=16), std=0.1)
    path = torchvision_like_checkpoint(tmp_path / 'rgb.pth', source)
    model = MultiLevelResNet(
        in_channels=5, out_indices=(2, ),
        init_cfg=dict(type='Pretrained', checkpoint=path), **NARROW)
    model.init_weights()
    w = model.conv1.weight
    assert w.shape == (16, 5, 7, 7)
    assert torch.equal(w[:, :3], source.conv1.weight)
    assert torch.all(w[:, 3:] == 0)
    for index in range(2):
        for i, stage in enumerate(model.levels[index].stages()):
            expected = getattr(source, f'layer{i + 1}').state_dict()
            for k, v in stage.state_dict().items():
                assert torch.equal(v, expected[k]), (index, i, k)
    assert warnings_of(logs) == []
    assert any('zero' in m for m in messages(logs))


def test_missing_and_unexpected_keys_reported_by_name(tmp_path, logs):
    sd = randomise(ResNet(depth=50, base_channels=16), std=0.1).state_dict()
    del sd['layer3.4.bn1.weight']
    sd['foo.bar'] = torch.zeros(3)
    path = str(tmp_path / 'partial.pth')
    torch.save(sd, path)
    model = MultiLevelResNet(
        init_cfg=dict(type='Pretrained', checkpoint=path), **NARROW)
    model.init_weights()
    warnings = warnings_of(logs)
    missing = [m for m in warnings if 'missing keys' in m]
    unexpected = [m for m in warnings if 'unexpected keys' in m]
    # once per level, naming the level and the key
    assert len(missing) == 2 and len(unexpected) == 2
    for index, (m, u) in enumerate(zip(missing, unexpected)):
        assert f'level {index}' in m and f'level {index}' in u
        assert 'layer3.4.bn1.weight' in m and 'foo.bar' not in m
        assert 'foo.bar' in u and 'layer3.4.bn1.weight' not in u
    for level in model.levels:
        assert torch.equal(level.layer3[4].bn1.bias, sd['layer3.4.bn1.bias'])


def test_checkpoint_of_another_depth_raises_naming_the_key(
        resnet50_checkpoint):
    path, _ = resnet50_checkpoint
    model = MultiLevelResNet(
        depth=(50, 18), init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r'layer1\.0\.conv1\.weight'):
        model.init_weights()


def test_resnet_view_shares_tensors():
    model = MultiLevelResNet(**NARROW)
    view = model.resnet_view(1)
    assert view.conv1 is model.conv1
    assert view.layer2 is model.levels[1].layer2
    assert set(view.state_dict()) == set(
        ResNet(depth=50, base_channels=16).state_dict())


def test_state_dict_round_trip(tmp_path):
    assert_state_dict_round_trip(
        lambda: MultiLevelResNet(in_channels=5, **NARROW),
        tmp_path / 'multilevel.pth')


# ---------------------------------------------------------------------------
# freezing and norm_eval
# ---------------------------------------------------------------------------
def test_frozen_stages_freeze_stem_and_first_level():
    model = MultiLevelResNet(frozen_stages=2, **NARROW)
    model.train()
    first, second = model.levels
    frozen = [model.conv1, model.bn1, first.layer1, first.layer2]
    for m in frozen:
        assert all(not p.requires_grad for p in m.parameters())
        assert all(not bn.training for bn in m.modules()
                   if isinstance(bn, _BatchNorm))
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    others = [p for p in model.parameters() if id(p) not in frozen_ids]
    assert others and all(p.requires_grad for p in others)
    assert first.layer3[0].bn1.training and second.layer1[0].bn1.training
    # train() after eval() keeps them frozen
    model.eval()
    model.train()
    assert not model.bn1.training and not first.layer2[0].bn1.training


def test_frozen_stem_only():
    model = MultiLevelResNet(frozen_stages=0, **NARROW).train()
    assert not model.conv1.weight.requires_grad
    assert all(p.requires_grad for p in model.levels[0].parameters())


def test_norm_eval_on_pretrained_parts_only():
    model = MultiLevelResNet(norm_eval=True, **NARROW).train()
    assert model.training
    pretrained = [model.bn1] + [
        m for level in model.levels for stage in level.stages()
        for m in stage.modules() if isinstance(m, _BatchNorm)
    ]
    pretrained_ids = {id(m) for m in pretrained}
    added = [m for m in model.modules()
             if isinstance(m, _BatchNorm) and id(m) not in pretrained_ids]
    assert all(not m.training for m in pretrained)
    assert added and all(m.training for m in added)
    assert all(p.requires_grad for p in model.parameters())
    before = [m.running_mean.clone() for m in pretrained]
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32) * 5 + 3)
    assert all(torch.equal(b, m.running_mean)
               for b, m in zip(before, pretrained))


def test_no_freezing_by_default():
    model = MultiLevelResNet(**NARROW).train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


# ---------------------------------------------------------------------------
# in STM
# ---------------------------------------------------------------------------
def test_works_in_stm_as_memory_and_query_encoder():
    torch.manual_seed(0)
    model = MODELS.build(
        stm_config(dict(type='MultiLevelResNet', num_levels=2)))
    assert isinstance(model.memory_encoder, MultiLevelResNet)
    assert model.memory_encoder.conv1.in_channels == 5
    assert model.memory_encoder.out_channels == (1024, )
    assert model.query_encoder.out_channels == (256, 512, 1024)
    assert_stm_trains_and_segments(model)
