"""Inference precision: fp32 is the model itself (exact); BatchNorm folding
is exact up to rounding; bf16 runs a prepared copy and stays close."""
import copy

import pytest
import torch
from mmengine.config import Config
from vos_test_utils import build_tiny, make_video, run_probs

from vosbench.inference.precision import (fold_batch_norms, prepare_network,
                                          precision_dtype)
from vosbench.registry import MODELS

R50 = 'configs/_base_/models/stm_r50.py'


def test_fp32_is_the_model_itself():
    model = build_tiny()
    assert model.inference_network() is model
    assert prepare_network(model, 'fp32') is model


@pytest.mark.parametrize('config', ['configs/_base_/models/stm_r18-tiny.py',
                                    R50])
def test_folding_batch_norms_keeps_the_outputs(config):
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model).eval()
    for module in model.modules():  # non-trivial statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    folded, count = fold_batch_norms(copy.deepcopy(model))
    batch_norms = sum(isinstance(m, torch.nn.BatchNorm2d)
                      for m in model.modules())
    assert count == batch_norms  # every one of the ResNets
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in folded.modules())
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(model.query_encoder(x), folded.query_encoder(x)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_bf16_runs_a_prepared_copy_close_to_fp32():
    torch.set_num_threads(1)
    frames, first = make_video(6, 64, 96)
    exact, _ = run_probs(build_tiny(), frames, first)
    model = build_tiny(precision='bf16')
    low, _ = run_probs(model, frames, first)
    network = model.inference_network()
    assert network is not model and network.compute_dtype == torch.bfloat16
    assert model.compute_dtype == torch.float32  # the model is untouched
    assert next(network.query_encoder.parameters()).dtype == torch.bfloat16
    assert next(model.query_encoder.parameters()).dtype == torch.float32
    assert low.dtype == torch.float32  # probabilities stay fp32
    difference = (exact - low).abs().max().item()
    assert 0 < difference < 0.02  # measured: 1.2e-3
    # prepared once; training or new weights drop the copy
    assert model.inference_network() is network
    model.train()
    model.eval()
    assert model.inference_network() is not network


def test_fp16_needs_cuda():
    with pytest.raises(ValueError, match='fp16 runs on CUDA only'):
        precision_dtype('fp16', torch.device('cpu'))
    with pytest.raises(TypeError, match='precision'):
        build_tiny(precision='int8')
