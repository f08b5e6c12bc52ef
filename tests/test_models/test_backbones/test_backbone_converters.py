"""Tests of vosbench.models.utils.backbone_converters and of the converter
tools ``resnest_to_vosbench.py`` / ``mmpretrain_resnet_to_vosbench.py``.

Source state dicts are generated here from our models with key names built
independently of the converter's tables; a functional re-implementation of
ResNeSt-50 that reads the authors' names checks that the renamed tensors
play the same roles in our model.
"""
import os
import os.path as osp
import re
import runpy
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from vosbench.models.backbones import ResNeSt, ResNet
from vosbench.models.utils.backbone_converters import (
    convert_mmpretrain_resnet_state_dict, convert_resnest_state_dict,
    plan_mmpretrain_resnet_conversion, plan_resnest_conversion,
    resnest_state_dict_shapes)

REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
RESNEST_TOOL = osp.join('tools', 'model_converters', 'resnest_to_vosbench.py')
RESNET_TOOL = osp.join('tools', 'model_converters',
                       'mmpretrain_resnet_to_vosbench.py')


@pytest.fixture(scope='module')
def resnest50():
    """ResNeSt-50 with Kaiming weights and perturbed norm layers."""
    torch.manual_seed(0)
    model = ResNeSt(50)
    model.init_weights()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.weight.uniform_(0.5, 1.0)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(3)
            elif isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.normal_(0, 0.1)
    return model.eval()


# ---------------------------------------------------------------------------
# source names, built from ours
# ---------------------------------------------------------------------------
def official_name(key: str) -> str:
    """The ResNeSt authors' name of one of our keys."""
    stem = {'conv1': 'conv1.0', 'bn1': 'conv1.1', 'conv2': 'conv1.3',
            'bn2': 'conv1.4', 'conv3': 'conv1.6', 'bn3': 'bn1'}
    parts = key.split('.')
    if parts[0] == 'stem':
        return '.'.join([stem[parts[1]]] + parts[2:])
    if parts[2] == 'downsample':  # the authors' AvgPool2d is index 0
        parts[3] = str(int(parts[3]) + 1)
    return '.'.join(parts)


def official_state_dict(model) -> 'OrderedDict[str, torch.Tensor]':
    sd = OrderedDict(
        (official_name(k), v) for k, v in model.state_dict().items())
    sd['fc.weight'] = torch.randn(1000, 2048)
    sd['fc.bias'] = torch.randn(1000)
    return sd


def mmpretrain_name(key: str, stem: str = 'ConvModule',
                    pool_in_stage1: bool = False) -> str:
    """mmpretrain's name of one of our ResNeSt keys (``stem='Sequential'``
    and ``pool_in_stage1``: the mmdetection / mmsegmentation variant)."""
    parts = key.split('.')
    if parts[0] == 'stem':
        i = int(parts[1][-1]) - 1  # conv1/bn1 -> 0, ...
        if stem == 'ConvModule':
            name = f'stem.{i}.' + ('conv' if parts[1].startswith('conv') else
                                   'bn')
        else:
            name = f'stem.{3 * i + (0 if parts[1].startswith("conv") else 1)}'
        return 'backbone.' + '.'.join([name] + parts[2:])
    if parts[2] == 'conv2' and parts[3] in ('bn0', 'bn1'):
        parts[3] = 'norm' + parts[3][-1]
    if parts[2] == 'downsample' and (parts[0] != 'layer1' or pool_in_stage1):
        parts[3] = str(int(parts[3]) + 1)
    return 'backbone.' + '.'.join(parts)


def mmpretrain_state_dict(model,
                          **kwargs) -> 'OrderedDict[str, torch.Tensor]':
    sd = OrderedDict((mmpretrain_name(k, **kwargs), v)
                     for k, v in model.state_dict().items())
    sd['head.fc.weight'] = torch.randn(1000, 2048)
    sd['head.fc.bias'] = torch.randn(1000)
    return sd


def assert_same_state_dict(got, model):
    expected = model.state_dict()
    assert list(got) == list(expected)  # same keys, same order
    for k, v in expected.items():
        assert torch.equal(got[k], v), k


def meta_source(shapes, rename):
    """A source state dict of meta tensors (shapes only, no memory)."""
    return OrderedDict((rename(k), torch.empty(s, device='meta'))
                       for k, s in shapes.items())


# ---------------------------------------------------------------------------
# the authors' naming
# ---------------------------------------------------------------------------
def test_official_names_round_trip(resnest50):
    source = official_state_dict(resnest50)
    # spot checks of the authors' layout (476 tensors with the classifier)
    assert len(source) == 476
    for key in ('conv1.0.weight', 'conv1.1.running_var', 'conv1.3.weight',
                'conv1.4.bias', 'conv1.6.weight', 'bn1.weight',
                'layer1.0.conv2.conv.weight', 'layer1.0.conv2.bn0.weight',
                'layer1.0.conv2.fc1.bias', 'layer1.0.conv2.bn1.weight',
                'layer1.0.downsample.1.weight', 'layer1.0.downsample.2.bias',
                'layer3.0.downsample.1.weight', 'layer4.2.bn3.weight'):
        assert key in source, key
    assert not any(re.search(r'\.bn2\.', k) for k in source)
    converted = convert_resnest_state_dict(
        OrderedDict(('module.' + k, v) for k, v in source.items()),
        'official')
    assert_same_state_dict(converted, resnest50)
    assert converted['stem.conv1.weight'] is source['conv1.0.weight']

    plan = plan_resnest_conversion(source, 'official')
    assert list(plan.dropped) == ['fc.weight', 'fc.bias']
    assert 'classifier' in plan.dropped['fc.weight']
    assert plan.renames['bn1.weight'] == 'stem.bn3.weight'
    assert plan.renames['layer2.0.downsample.2.running_mean'] == \
        'layer2.0.downsample.1.running_mean'
    assert len(plan.renames) == 474


def _bn(x, sd, p):
    return F.batch_norm(x, sd[f'{p}.running_mean'], sd[f'{p}.running_var'],
                        sd[f'{p}.weight'], sd[f'{p}.bias'], False, 0.0, 1e-5)


def official_resnest50_forward(sd, x):
    """ResNeSt-50 (2s1x64d) written from the specification, reading the
    authors' parameter names. Returns the four stage outputs."""
    x = F.relu(_bn(F.conv2d(x, sd['conv1.0.weight'], stride=2, padding=1),
                   sd, 'conv1.1'))
    x = F.relu(_bn(F.conv2d(x, sd['conv1.3.weight'], padding=1), sd,
                   'conv1.4'))
    x = F.relu(_bn(F.conv2d(x, sd['conv1.6.weight'], padding=1), sd, 'bn1'))
    x = F.max_pool2d(x, 3, 2, 1)
    outs = []
    for stage, blocks in enumerate((3, 4, 6, 3), start=1):
        for b in range(blocks):
            p = f'layer{stage}.{b}'
            strided = stage > 1 and b == 0
            out = F.relu(_bn(F.conv2d(x, sd[f'{p}.conv1.weight']), sd,
                             f'{p}.bn1'))
            # split attention, radix 2, cardinality 1
            u = F.conv2d(out, sd[f'{p}.conv2.conv.weight'], padding=1,
                         groups=2)
            u = F.relu(_bn(u, sd, f'{p}.conv2.bn0'))
            c = u.shape[1] // 2
            first, second = u[:, :c], u[:, c:]
            gap = (first + second).mean(dim=(2, 3), keepdim=True)
            gap = F.conv2d(gap, sd[f'{p}.conv2.fc1.weight'],
                           sd[f'{p}.conv2.fc1.bias'])
            gap = F.relu(_bn(gap, sd, f'{p}.conv2.bn1'))
            logits = F.conv2d(gap, sd[f'{p}.conv2.fc2.weight'],
                              sd[f'{p}.conv2.fc2.bias'])
            att = torch.stack([logits[:, :c], logits[:, c:]]).softmax(dim=0)
            out = att[0] * first + att[1] * second
            if strided:
                out = F.avg_pool2d(out, 3, 2, 1)
            out = _bn(F.conv2d(out, sd[f'{p}.conv3.weight']), sd, f'{p}.bn3')
            shortcut = x
            if b == 0:
                if strided:
                    shortcut = F.avg_pool2d(x, 2, 2, ceil_mode=True,
                                            count_include_pad=False)
                shortcut = _bn(
                    F.conv2d(shortcut, sd[f'{p}.downsample.1.weight']), sd,
                    f'{p}.downsample.2')
            x = F.relu(out + shortcut)
        outs.append(x)
    return outs


@pytest.mark.parametrize('size', [(64, 64), (50, 38)])
def test_converted_official_weights_compute_the_same_features(
        resnest50, size):
    source = official_state_dict(resnest50)
    model = ResNeSt(50).eval()
    model.load_state_dict(convert_resnest_state_dict(source, 'official'),
                          strict=True)
    torch.manual_seed(1)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = official_resnest50_forward(source, x)
        got = model(x)
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        assert e.abs().max() > 1e-3  # not a degenerate comparison
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def test_official_unknown_missing_and_mismatched_keys_are_named(resnest50):
    source = official_state_dict(resnest50)
    bad = OrderedDict(source)
    bad['layer1.0.se.fc.weight'] = torch.zeros(1)
    bad['num_classes'] = torch.zeros(1)
    with pytest.raises(ValueError) as info:
        convert_resnest_state_dict(bad, 'official')
    msg = str(info.value)
    assert 'layer1.0.se.fc.weight' in msg and 'num_classes' in msg
    assert '2 unknown key(s)' in msg

    bad = OrderedDict(source)
    del bad['layer3.2.conv2.bn1.running_var']
    bad['layer4.0.conv2.fc2.weight'] = torch.zeros(3, 3, 1, 1)
    with pytest.raises(ValueError) as info:
        convert_resnest_state_dict(bad, 'official')
    msg = str(info.value)
    assert 'missing key(s): layer3.2.conv2.bn1.running_var' in msg
    assert 'layer4.0.conv2.fc2.weight' in msg and '(3, 3, 1, 1)' in msg

    # a duplicate target (both DataParallel and plain names)
    bad = OrderedDict(source)
    bad['module.bn1.weight'] = source['bn1.weight']
    with pytest.raises(ValueError, match='module.'):
        convert_resnest_state_dict(bad, 'official')


def test_format_mismatch_hints(resnest50):
    with pytest.raises(ValueError, match="try src_format 'mmpretrain'"):
        convert_resnest_state_dict(mmpretrain_state_dict(resnest50),
                                   'official')
    with pytest.raises(ValueError, match="try src_format 'official'"):
        convert_resnest_state_dict(official_state_dict(resnest50),
                                   'mmpretrain')
    with pytest.raises(ValueError, match='unknown ResNeSt source format'):
        convert_resnest_state_dict({}, 'timm')


def test_source_without_num_batches_tracked_gets_zeros(resnest50):
    source = OrderedDict((k, v)
                         for k, v in official_state_dict(resnest50).items()
                         if not k.endswith('num_batches_tracked'))
    converted = convert_resnest_state_dict(source, 'official')
    assert list(converted) == list(resnest50.state_dict())
    assert converted['layer2.1.bn1.num_batches_tracked'].item() == 0
    assert converted['layer2.1.bn1.num_batches_tracked'].dtype == torch.long
    # only some missing: an error naming them
    partial = OrderedDict(official_state_dict(resnest50))
    del partial['bn1.num_batches_tracked']
    with pytest.raises(ValueError, match=r'stem\.bn3\.num_batches_tracked'):
        convert_resnest_state_dict(partial, 'official')


def test_depth_is_inferred_from_the_blocks_per_stage():
    shapes101 = resnest_state_dict_shapes(101)
    source = meta_source(shapes101, official_name)
    converted = convert_resnest_state_dict(source, 'official')
    assert len(converted) == len(shapes101)
    assert converted['stem.conv3.weight'].shape == (128, 64, 3, 3)
    # a truncated checkpoint (no layer4) matches no depth
    source = OrderedDict(
        (k, v) for k, v in meta_source(resnest_state_dict_shapes(50),
                                       official_name).items()
        if not k.startswith('layer4.'))
    with pytest.raises(ValueError, match=r'\(3, 4, 6, 0\)'):
        convert_resnest_state_dict(source, 'official')
    with pytest.raises(ValueError, match='missing key.*layer4.0.conv1'):
        convert_resnest_state_dict(source, 'official', depth=50)


# ---------------------------------------------------------------------------
# mmpretrain's naming
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('stem,pool_in_stage1', [('ConvModule', False),
                                                  ('Sequential', True)])
def test_mmpretrain_resnest_names_round_trip(resnest50, stem,
                                             pool_in_stage1):
    source = mmpretrain_state_dict(resnest50, stem=stem,
                                   pool_in_stage1=pool_in_stage1)
    if stem == 'ConvModule':
        for key in ('backbone.stem.0.conv.weight', 'backbone.stem.2.bn.bias',
                    'backbone.layer1.0.conv2.norm0.weight',
                    'backbone.layer1.0.downsample.0.weight',
                    'backbone.layer2.0.downsample.1.weight',
                    'backbone.layer2.0.downsample.2.running_var'):
            assert key in source, key
    else:
        for key in ('backbone.stem.0.weight', 'backbone.stem.7.bias',
                    'backbone.layer1.0.downsample.1.weight'):
            assert key in source, key
    source['data_preprocessor.mean'] = torch.zeros(3)
    converted = convert_resnest_state_dict(source, 'mmpretrain')
    assert_same_state_dict(converted, resnest50)
    plan = plan_resnest_conversion(source, 'mmpretrain')
    assert sorted(plan.dropped) == [
        'data_preprocessor.mean', 'head.fc.bias', 'head.fc.weight'
    ]


def test_mmpretrain_unknown_keys_are_named(resnest50):
    source = mmpretrain_state_dict(resnest50)
    source['neck.gap.weight'] = torch.zeros(1)
    source['backbone.layer1.0.conv2.norm2.weight'] = torch.zeros(1)
    source['layer1.0.conv1.weight'] = torch.zeros(1)  # no backbone. prefix
    with pytest.raises(ValueError) as info:
        convert_resnest_state_dict(source, 'mmpretrain')
    msg = str(info.value)
    for key in ('neck.gap.weight', 'backbone.layer1.0.conv2.norm2.weight',
                'layer1.0.conv1.weight'):
        assert key in msg


def _resnet_mmpretrain(model):
    sd = OrderedDict(
        ('backbone.' + k, v) for k, v in model.state_dict().items())
    sd['head.fc.weight'] = torch.randn(1000, model.stage_channels[-1])
    sd['head.fc.bias'] = torch.randn(1000)
    return sd


def test_mmpretrain_resnet_names_round_trip():
    torch.manual_seed(0)
    model = ResNet(18)
    converted = convert_mmpretrain_resnet_state_dict(
        {'module.' + k: v
         for k, v in _resnet_mmpretrain(model).items()})
    assert_same_state_dict(converted, model)
    plan = plan_mmpretrain_resnet_conversion(_resnet_mmpretrain(model))
    assert sorted(plan.dropped) == ['head.fc.bias', 'head.fc.weight']
    assert plan.renames['backbone.layer2.0.downsample.1.running_mean'] == \
        'layer2.0.downsample.1.running_mean'


@pytest.mark.parametrize('depth', [34, 50, 101])
def test_mmpretrain_resnet_depth_inferred(depth):
    with torch.device('meta'):
        model = ResNet(depth)
    source = _resnet_mmpretrain(model)
    converted = convert_mmpretrain_resnet_state_dict(source)
    assert list(converted) == list(model.state_dict())


def test_mmpretrain_resnet_refuses_other_networks():
    with torch.device('meta'):
        source = _resnet_mmpretrain(ResNet(50))
    deep_stem = OrderedDict((k, v) for k, v in source.items()
                            if not k.startswith(('backbone.conv1',
                                                 'backbone.bn1')))
    deep_stem['backbone.stem.0.conv.weight'] = torch.zeros(32, 3, 3, 3)
    with pytest.raises(ValueError) as info:
        convert_mmpretrain_resnet_state_dict(deep_stem)
    assert 'backbone.stem.0.conv.weight' in str(info.value)
    assert 'ResNetV1c' in str(info.value)
    # torchvision names: nothing to convert
    torchvision = OrderedDict(
        (k[len('backbone.'):], v) for k, v in source.items()
        if k.startswith('backbone.'))
    with pytest.raises(ValueError, match='need no conversion'):
        convert_mmpretrain_resnet_state_dict(torchvision)


# ---------------------------------------------------------------------------
# the tools
# ---------------------------------------------------------------------------
def test_resnest_tool_official_checkpoint_into_memory_encoder(
        tmp_path, resnest50):
    source = official_state_dict(resnest50)
    src = tmp_path / 'resnest50-528c19ca.pth'
    dst = tmp_path / 'out' / 'resnest50_vosbench.pth'
    torch.save(source, src)
    proc = subprocess.run(
        [sys.executable, RESNEST_TOOL, str(src), str(dst)],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '25,434,240 parameters' in proc.stdout
    assert 'dropped 2: fc.weight, fc.bias' in proc.stdout
    assert sorted(os.listdir(dst.parent)) == [dst.name]  # no temp files
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['converted_from'] == src.name
    assert ckpt['meta']['dropped_keys'] == ['fc.bias', 'fc.weight']

    # the memory encoder: 5 input channels, stages 1-3
    model = ResNeSt(50, in_channels=5, num_stages=3, out_indices=(2, ),
                    init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    own = resnest50.state_dict()
    for k, v in model.state_dict().items():
        if k == 'stem.conv1.weight':
            assert torch.equal(v[:, :3], own[k]) and not v[:, 3:].any()
        else:
            assert torch.equal(v, own[k]), k


def test_resnest_tool_mmpretrain_and_errors(tmp_path, resnest50, capsys):
    tool = runpy.run_path(osp.join(REPO_ROOT, RESNEST_TOOL))  # not __main__
    src, dst = tmp_path / 'mmpretrain.pth', tmp_path / 'ours.pth'
    torch.save(dict(meta=dict(epoch=300),
                    state_dict=mmpretrain_state_dict(resnest50)), src)
    assert tool['main']([str(src), str(dst), '--src-format',
                         'mmpretrain']) == 0
    assert 'head.fc.weight' in capsys.readouterr().out
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert_same_state_dict(ckpt['state_dict'], resnest50)

    bad = tmp_path / 'bad.pth'
    torch.save({'conv1.0.weight': torch.zeros(32, 3, 3, 3),
                'layer1.0.attention.weight': torch.zeros(1)}, bad)
    for source, detail in ((bad, 'layer1.0.attention.weight'),
                           (tmp_path / 'missing.pth', 'no such file')):
        assert tool['main']([str(source), str(tmp_path / 'x.pth')]) == 1
        err = capsys.readouterr().err
        assert str(source) in err and detail in err
        assert not (tmp_path / 'x.pth').exists()
    not_a_checkpoint = tmp_path / 'notes.pth'
    not_a_checkpoint.write_text('hello')
    assert tool['main']([str(not_a_checkpoint), str(tmp_path / 'x.pth')]) \
        == 1
    assert 'weights_only=True' in capsys.readouterr().err


def test_mmpretrain_resnet_tool(tmp_path, capsys):
    tool = runpy.run_path(osp.join(REPO_ROOT, RESNET_TOOL))
    torch.manual_seed(0)
    model = ResNet(18)
    src, dst = tmp_path / 'resnet18_8xb32_in1k.pth', tmp_path / 'r18.pth'
    torch.save(dict(meta=dict(mmpretrain_version='1.2.0'),
                    state_dict=_resnet_mmpretrain(model)), src)
    assert tool['main']([str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert '11,176,512 parameters' in out and 'head.fc.bias' in out
    loaded = ResNet(18, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    loaded.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k

    bad = tmp_path / 'v1d.pth'
    torch.save({'backbone.stem.0.conv.weight': torch.zeros(32, 3, 3, 3)},
               bad)
    assert tool['main']([str(bad), str(tmp_path / 'x.pth')]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and 'backbone.stem.0.conv.weight' in err
