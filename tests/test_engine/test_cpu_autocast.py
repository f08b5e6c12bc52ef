"""CPUAutocastOptimWrapper: ``tools/train.py --amp`` on a CPU (bf16
autocast of the forward pass, float32 weights, gradients and updates)."""
import logging

import pytest
import torch
from torch import nn

from vosbench.engine import CPUAutocastOptimWrapper
from vosbench.engine import cpu_autocast
from vosbench.registry import OPTIM_WRAPPERS


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 1, 1))


def test_forward_runs_in_bf16_and_weights_stay_float32():
    model = small_model()
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='CPUAutocastOptimWrapper',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert isinstance(wrapper, CPUAutocastOptimWrapper)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(2, 3, 8, 8)
    with wrapper.optim_context(model):
        out = model(x)
        assert torch.is_autocast_enabled('cpu')
    assert not torch.is_autocast_enabled('cpu')
    assert out.dtype == torch.bfloat16
    loss = out.float().pow(2).mean()
    wrapper.update_params(loss)
    for old, param in zip(before, model.parameters()):
        assert param.dtype == torch.float32
        assert not torch.equal(old, param)  # the step was applied
    # the same step in float32 lands within bf16 rounding of it
    ref = small_model()
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    ref(x).pow(2).mean().backward()
    ref_opt.step()
    for param, ref_param in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(param, ref_param, atol=2e-2)
        assert param.grad is None or param.grad.dtype == torch.float32


def test_only_bfloat16_is_accepted():
    model = small_model()
    with pytest.raises(ValueError, match="optim_wrapper.dtype='float16'"):
        CPUAutocastOptimWrapper(
            dtype='float16',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_warns_on_a_cpu_without_native_bf16(monkeypatch):
    messages = []
    monkeypatch.setattr(cpu_autocast, 'native_cpu_bf16', lambda: False)
    monkeypatch.setattr(cpu_autocast, 'print_log',
                        lambda msg, **kw: messages.append((msg, kw)))
    model = small_model()
    CPUAutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert len(messages) == 1
    assert 'no native bf16' in messages[0][0]
    assert messages[0][1]['level'] == logging.WARNING
    monkeypatch.setattr(cpu_autocast, 'native_cpu_bf16', lambda: True)
    CPUAutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert len(messages) == 1
