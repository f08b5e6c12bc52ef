"""Parameter and MAC counting, and the get_flops tool."""
import os.path as osp

import torch
from torch import nn

from vosbench.utils.complexity import count_macs, count_parameters

from tool_loading import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_counts_conv_and_linear_macs():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    total, per_module = count_macs(model, torch.rand(1, 3, 8, 8))
    conv = 8 * 4 * 4 * (3 * 3 * 3)   # outputs x kernel volume
    linear = 10 * 128
    assert per_module == {'0': conv, '3': linear}
    assert total == conv + linear
    assert count_parameters(model) == (8 * 27 + 8) + (128 * 10 + 10)
    model[0].weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == \
        count_parameters(model) - 8 * 27


def test_get_flops_on_the_r50_config_matches_the_reference():
    tool = load_tool('tools/analysis/get_flops.py')
    figures = tool.measure(
        osp.join(REPO, 'configs', 'stm', 'stm_r50_4xb4-80k_davis17.py'),
        shape=(64, 64), objects=1)
    assert figures['params_total'] == 38925570
    assert figures['params_query_encoder'] == 8543296
    # MACs scale with the area: 9.6 GMACs at 384x384 (REFERENCE 4) is
    # 9.6 / 36 at 64x64
    assert abs(figures['gmacs_query_encoder'] * 36 - 9.63) < 0.1
