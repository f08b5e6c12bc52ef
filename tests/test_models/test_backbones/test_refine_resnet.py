"""Tests of vosbench.models.backbones.RefineResNet (Refine-50,
REFERENCE.md section 4)."""
import pytest
import torch
import torch.nn.functional as F
from backbone_test_utils import (assert_state_dict_round_trip,
                                 assert_stm_trains_and_segments,
                                 conv_linear_macs, messages, num_params,
                                 randomise, stm_config,
                                 torchvision_like_checkpoint, warnings_of)
from torch.nn.modules.batchnorm import _BatchNorm

import vosbench.models  # noqa: F401  (registers STM and its parts)
from vosbench.models.backbones import RefineResNet, ResNet
from vosbench.models.backbones.refine_resnet import (AttentionBottleneck,
                                                     ChannelShuffleModule,
                                                     channel_shuffle)
from vosbench.registry import BACKBONES, MODELS

# Reference figures (approximate, "our inference") and what we measure.
REFERENCE_PARAMS = 27.6e6
REFERENCE_MACS = 17e9
NARROW = dict(base_channels=16, channels=32)  # fast variant for behaviour


# ---------------------------------------------------------------------------
# size
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs,expected', [
    (dict(), 27_082_406),
    (dict(use_channel_shuffle=False), 26_291_878),
    (dict(use_attention=False), 27_030_080),
    (dict(use_channel_shuffle=False, use_attention=False), 26_239_552),
    # STM's memory encoder: 5 input channels, stride-16 output only
    (dict(in_channels=5, out_indices=(2, )), 26_272_533),
])
def test_parameter_counts(kwargs, expected):
    with torch.device('meta'):
        model = RefineResNet(**kwargs)
    assert num_params(model) == expected
    assert abs(expected - REFERENCE_PARAMS) < 0.1 * REFERENCE_PARAMS


def test_trunk_is_a_full_resnet50():
    with torch.device('meta'):
        model = RefineResNet()
    assert isinstance(model.trunk, ResNet)
    assert model.trunk.depth == 50 and model.trunk.num_stages == 4
    assert num_params(model.trunk) == 23_508_032


def test_macs_at_384():
    with torch.device('meta'):
        model = RefineResNet()
    macs = conv_linear_macs(model)
    assert macs == 17_436_241_920
    assert abs(macs - REFERENCE_MACS) < 0.15 * REFERENCE_MACS
    # the trunk alone is ResNet-50's 12.0 GMACs
    assert conv_linear_macs(model.trunk) == 12_011_175_936


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------
def test_output_strides_and_channels():
    model = RefineResNet().eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 256, 16, 24),
                                              (2, 512, 8, 12),
                                              (2, 1024, 4, 6)]
    assert model.out_channels == (256, 512, 1024)
    assert model.out_strides == (4, 8, 16)


def test_out_indices_select_and_order_outputs():
    model = RefineResNet(out_indices=(2, 0), **NARROW).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    # narrow trunk: C2/C3/C4 have 64/128/256 channels
    assert [tuple(o.shape) for o in outs] == [(1, 256, 4, 4),
                                              (1, 64, 16, 16)]
    assert model.out_channels == (256, 64)
    assert model.out_strides == (16, 4)


def test_odd_input_sizes():
    model = RefineResNet(**NARROW).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 40, 72))
    assert [tuple(o.shape[-2:]) for o in outs] == [(10, 18), (5, 9), (3, 5)]


def test_invalid_arguments():
    with pytest.raises(ValueError, match='out_indices'):
        RefineResNet(out_indices=(3, ))
    with pytest.raises(ValueError, match='num_refine_blocks'):
        RefineResNet(num_refine_blocks=(0, 1, 2))


def test_build_from_registry():
    model = BACKBONES.build(dict(type='RefineResNet', out_indices=(1, ),
                                 **NARROW))
    assert isinstance(model, RefineResNet)
    assert model.out_channels == (128, )


# ---------------------------------------------------------------------------
# structure and add-ons
# ---------------------------------------------------------------------------
def test_refine_blocks_per_level():
    model = RefineResNet(**NARROW)
    counts = {k: len(v) for k, v in model.refine_blocks.items()}
    assert counts == dict(c2=0, c3=1, c4=2, c5=3)
    block = model.refine_blocks['c5'][0]
    assert isinstance(block, AttentionBottleneck) and block.use_attention
    # the bottleneck width is half the head width, as in a CPN refine net
    assert block.conv2.conv.in_channels == 16


@pytest.mark.parametrize('shuffle,attention', [(True, True), (True, False),
                                               (False, True),
                                               (False, False)])
def test_addons_switch_and_run(shuffle, attention):
    model = RefineResNet(
        use_channel_shuffle=shuffle, use_attention=attention).eval()
    assert hasattr(model, 'channel_shuffle') == shuffle
    assert hasattr(model, 'fuse_convs') == shuffle
    blocks = [b for seq in model.refine_blocks.values() for b in seq]
    assert len(blocks) == 6
    assert all(hasattr(b, 'spatial_attention') == attention and
               hasattr(b, 'channel_attention') == attention for b in blocks)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [256, 512, 1024]
    assert all(torch.isfinite(o).all() for o in outs)


def test_addons_change_parameter_count():
    with torch.device('meta'):
        full = num_params(RefineResNet())
        no_shuffle = num_params(RefineResNet(use_channel_shuffle=False))
        no_attention = num_params(RefineResNet(use_attention=False))
    # channel shuffle: 4 group convs 256->256 and 4 fusions 512->256
    assert full - no_shuffle == 4 * (256 * 256 + 512) + \
        4 * (512 * 256 + 512)
    # attention: per block a 256->1 spatial conv and a 256->16->256 SE
    assert full - no_attention == 6 * ((256 + 1) + (256 * 16 + 16) +
                                       (16 * 256 + 256))


@pytest.mark.parametrize('out_indices,shuffle', [((0, 1, 2), True),
                                                 ((2, ), True),
                                                 ((2, ), False),
                                                 ((1, ), True)])
def test_every_parameter_is_used(out_indices, shuffle):
    """Modules feeding only outputs that are not requested are not built,
    so DDP finds no unused parameter."""
    model = RefineResNet(out_indices=out_indices, use_channel_shuffle=shuffle,
                         **NARROW).train()
    outs = model(torch.rand(2, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []
    lowest = min(out_indices) + 2
    assert set(model.out_convs) == {f'c{i + 2}' for i in out_indices}
    assert set(model.refine_blocks) == {f'c{level}'
                                        for level in range(lowest, 6)}
    laterals = range(2, 6) if shuffle else range(lowest, 6)
    assert set(model.lateral_convs) == {f'c{level}' for level in laterals}


def test_channel_shuffle_permutation():
    x = torch.arange(8.).view(1, 8, 1, 1)
    # 2 groups of 4 channels: 0 1 2 3 | 4 5 6 7 -> 0 4 1 5 2 6 3 7
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6,
                                                        3, 7]
    x = torch.arange(12.).view(1, 12, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [
        0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11
    ]
    with pytest.raises(ValueError):
        channel_shuffle(torch.zeros(1, 6, 1, 1), 4)


def test_channel_shuffle_module_mixes_levels():
    torch.manual_seed(0)
    module = ChannelShuffleModule(4, 8, out_levels=(0, 3)).eval()
    feats = [
        torch.rand(1, 8, 16 // 2**i, 16 // 2**i, requires_grad=True)
        for i in range(4)
    ]
    low, top = module(feats)
    assert low.shape == (1, 8, 16, 16) and top.shape == (1, 8, 2, 2)
    assert set(module.convs) == {'0', '3'}
    # every returned level sees every input level
    for out in (low, top):
        grads = torch.autograd.grad(out.sum(), feats, retain_graph=True)
        assert all(g.abs().sum() > 0 for g in grads)


def test_channel_shuffle_module_group_content():
    """Before its conv, group i is the shuffled concat pooled to level i."""
    module = ChannelShuffleModule(2, 4, out_levels=(0, 1))
    for conv in module.convs.values():
        conv.conv.weight.data = torch.eye(4).view(4, 4, 1, 1)
        conv.bn.eval()
    feats = [
        torch.arange(4.).view(1, 4, 1, 1).expand(1, 4, 4, 4) + 1,
        torch.arange(4.).view(1, 4, 1, 1).expand(1, 4, 2, 2) + 11
    ]
    with torch.no_grad():
        low, high = module(feats)
    # concat: 1 2 3 4 11 12 13 14 -> shuffled 1 11 2 12 | 3 13 4 14
    # (identity convs; eval BN with unit statistics divides by
    # sqrt(1 + eps))
    torch.testing.assert_close(low[0, :, 0, 0],
                               torch.tensor([1., 11, 2, 12]), rtol=1e-4,
                               atol=0)
    torch.testing.assert_close(high[0, :, 0, 0],
                               torch.tensor([3., 13, 4, 14]), rtol=1e-4,
                               atol=0)
    assert high.shape[-2:] == (2, 2)


def test_attention_bottleneck_gates_the_residual_branch():
    torch.manual_seed(0)
    block = AttentionBottleneck(32, 16).eval()
    x = torch.rand(2, 32, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(block(x), x)
        # a closed spatial gate leaves only the identity path
        block.spatial_attention.weight.zero_()
        block.spatial_attention.bias.fill_(-1e4)
        torch.testing.assert_close(block(x), x)
        # an open spatial gate and a closed channel gate: the same
        block.spatial_attention.bias.fill_(1e4)
        block.channel_attention[-1].weight.zero_()
        block.channel_attention[-1].bias.fill_(-1e4)
        torch.testing.assert_close(block(x), x)
        # both gates fully open: the plain bottleneck
        block.channel_attention[-1].bias.fill_(1e4)
        plain = AttentionBottleneck(32, 16, use_attention=False).eval()
        plain.load_state_dict(block.state_dict(), strict=False)
        torch.testing.assert_close(block(x), plain(x))


def test_forward_matches_the_specified_pipeline():
    """lateral -> shuffle + concat + fuse -> refine blocks -> top-down
    upsample-and-add -> projection."""
    model = randomise(RefineResNet(**NARROW), std=0.1).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        c = dict(zip((2, 3, 4, 5), model.trunk(x)))
        lat = {lv: model.lateral_convs[f'c{lv}'](c[lv]) for lv in c}
        mixed = model.channel_shuffle([lat[lv] for lv in (2, 3, 4, 5)])
        fused = {
            lv: model.fuse_convs[f'c{lv}'](torch.cat([lat[lv], m], 1))
            for lv, m in zip((2, 3, 4, 5), mixed)
        }
        p = {5: model.refine_blocks['c5'](fused[5])}
        for lv in (4, 3, 2):
            r = model.refine_blocks[f'c{lv}'](fused[lv])
            p[lv] = r + F.interpolate(
                p[lv + 1], size=r.shape[-2:], mode='bilinear',
                align_corners=False)
        expected = [model.out_convs[f'c{lv}'](p[lv]) for lv in (2, 3, 4)]
        got = model(x)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)


# ---------------------------------------------------------------------------
# initialisation and pretrained weights
# ---------------------------------------------------------------------------
def test_default_init():
    model = randomise(RefineResNet(**NARROW), std=0.1)
    model.init_weights()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    assert torch.all(model.refine_blocks['c4'][0].spatial_attention.bias
                     == 0)
    w = model.fuse_convs['c2'].conv.weight  # Kaiming normal, fan-out
    expected_std = (2.0 / w.shape[0])**0.5
    assert abs(w.std().item() - expected_std) < 0.2 * expected_std


def test_imagenet_resnet50_loads_into_trunk(resnet50_checkpoint, logs):
    path, source = resnet50_checkpoint
    model = RefineResNet(init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    expected = source.state_dict()
    got = model.trunk.state_dict()
    assert set(got) == set(expected)
    for k in expected:
        assert torch.equal(got[k], expected[k]), k
    # the head keeps its default init; fc.* is not an unexpected key
    assert torch.all(model.out_convs['c4'].bn.weight == 1)
    assert warnings_of(logs) == []


def test_three_channel_checkpoint_into_five_channel_model(tmp_path, logs):
    source = randomise(ResNet(depth=50, base_channels=16), std=0.1)
    path = torchvision_like_checkpoint(tmp_path / 'rgb.pth', source)
    model = RefineResNet(in_channels=5, out_indices=(2, ),
                         init_cfg=dict(type='Pretrained', checkpoint=path),
                         **NARROW)
    model.init_weights()
    w = model.trunk.conv1.weight
    assert w.shape == (16, 5, 7, 7)
    assert torch.equal(w[:, :3], source.conv1.weight)
    assert torch.all(w[:, 3:] == 0)
    assert torch.equal(model.trunk.layer4[2].conv3.weight,
                       source.layer4[2].conv3.weight)
    assert warnings_of(logs) == []
    assert any('zero' in m for m in messages(logs))
    # the mask channels do not change the trunk's features at init
    model.eval()
    source.eval()
    rgb = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        got = model.trunk(torch.cat([rgb, torch.rand(1, 2, 32, 32)], 1))
        expected = source(rgb)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_missing_and_unexpected_keys_reported_by_name(tmp_path, logs):
    sd = randomise(ResNet(depth=50, base_channels=16), std=0.1).state_dict()
    del sd['layer2.1.bn2.weight']
    sd['foo.bar'] = torch.zeros(3)
    path = str(tmp_path / 'partial.pth')
    torch.save(sd, path)
    model = RefineResNet(init_cfg=dict(type='Pretrained', checkpoint=path),
                         **NARROW)
    model.init_weights()
    warnings = warnings_of(logs)
    missing = [m for m in warnings if 'missing keys' in m]
    unexpected = [m for m in warnings if 'unexpected keys' in m]
    assert len(missing) == 1 and len(unexpected) == 1
    assert 'layer2.1.bn2.weight' in missing[0]
    assert 'foo.bar' not in missing[0]
    assert 'foo.bar' in unexpected[0]
    assert torch.equal(model.trunk.layer2[1].bn2.bias, sd['layer2.1.bn2.bias'])


def test_other_init_cfg_entries_apply_before_the_checkpoint(
        resnet50_checkpoint):
    path, source = resnet50_checkpoint
    model = RefineResNet(init_cfg=[
        dict(type='Constant', val=0.5, layer='Conv2d'),
        dict(type='Pretrained', checkpoint=path)
    ])
    model.init_weights()
    assert torch.equal(model.trunk.conv1.weight, source.conv1.weight)
    assert torch.all(model.lateral_convs['c5'].conv.weight == 0.5)


def test_state_dict_round_trip(tmp_path):
    assert_state_dict_round_trip(
        lambda: RefineResNet(in_channels=5, **NARROW),
        tmp_path / 'refine.pth')


# ---------------------------------------------------------------------------
# freezing and norm_eval
# ---------------------------------------------------------------------------
def test_frozen_stages_and_norm_eval_reach_the_trunk():
    model = RefineResNet(frozen_stages=2, norm_eval=True, **NARROW)
    model.train()
    assert model.trunk.frozen_stages == 2 and model.trunk.norm_eval
    for m in (model.trunk.conv1, model.trunk.layer1, model.trunk.layer2):
        assert all(not p.requires_grad for p in m.parameters())
    assert all(p.requires_grad for p in model.trunk.layer3.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith('trunk'))
    trunk_bns = [m for m in model.trunk.modules()
                 if isinstance(m, _BatchNorm)]
    head_bns = [m for n, m in model.named_modules()
                if isinstance(m, _BatchNorm) and not n.startswith('trunk')]
    assert trunk_bns and all(not m.training for m in trunk_bns)
    # the head has no pretrained statistics: its norm layers train
    assert head_bns and all(m.training for m in head_bns)


def test_no_freezing_by_default():
    model = RefineResNet(**NARROW).train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


# ---------------------------------------------------------------------------
# in STM
# ---------------------------------------------------------------------------
def test_works_in_stm_as_memory_and_query_encoder():
    torch.manual_seed(0)
    model = MODELS.build(stm_config(dict(type='RefineResNet')))
    assert isinstance(model.memory_encoder, RefineResNet)
    assert model.memory_encoder.trunk.conv1.in_channels == 5
    assert model.memory_encoder.out_channels == (1024, )
    assert model.query_encoder.out_channels == (256, 512, 1024)
    assert_stm_trains_and_segments(model)
