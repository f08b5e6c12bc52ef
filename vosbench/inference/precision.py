"""Inference precision: a network prepared once for fp32, bf16 or fp16.

``prepare_network(model, precision)`` returns a copy of an STM-like network
ready for inference (the model itself is left as it is, so training and
checkpoints are unaffected):

- BatchNorm folded into the convolution before it (``conv{i}`` / ``bn{i}``
  and ``downsample = Sequential(conv, bn)`` pairs, as in the ResNet
  blocks); every folded module is checked numerically against the unfolded
  one on a random input, and a pair that does not match is left unfolded;
- for bf16 / fp16: weights cast once to that dtype and laid out
  channels_last, and the network's ``compute_dtype`` / ``channels_last``
  set, so that its encoders and decoder run in it while keys, values, the
  memory softmax, soft aggregation and the probabilities stay in fp32
  (:class:`vosbench.models.vos.STM` casts at those boundaries).

fp32 returns the model itself: the default path is the exact one.
"""
import copy
import logging
from typing import Dict, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

__all__ = ['PRECISIONS', 'fold_batch_norms', 'native_cpu_bf16',
           'prepare_network', 'precision_dtype']

PRECISIONS: Dict[str, torch.dtype] = dict(
    fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)


def precision_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of ``precision``; fp16 needs CUDA.

    Raises:
        ValueError: for an unknown precision, or fp16 on a CPU.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, '
                         f'got {precision!r}')
    if precision == 'fp16' and torch.device(device).type != 'cuda':
        raise ValueError('precision fp16 runs on CUDA only (CPUs have no '
                         'fast fp16 convolutions); use bf16 on a CPU')
    return PRECISIONS[precision]


def native_cpu_bf16() -> bool:
    """Whether oneDNN runs bf16 convolutions natively on this CPU (AVX-512
    BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _fused(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A convolution computing ``bn(conv(x))`` (BatchNorm in eval mode)."""
    fused = copy.deepcopy(conv)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused.weight = nn.Parameter(
        conv.weight * scale.reshape(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else \
        torch.zeros_like(bn.running_mean)
    fused.bias = nn.Parameter(bn.bias + (bias - bn.running_mean) * scale)
    return fused


def _pairs(module: nn.Module):
    """``(conv name, bn name)`` pairs of ``module``'s direct children that
    the ResNet blocks apply one after the other."""
    children = dict(module.named_children())
    for name, child in children.items():
        if isinstance(child, nn.Conv2d) and name.startswith('conv'):
            bn = children.get('bn' + name[4:])
            if isinstance(bn, nn.BatchNorm2d):
                yield name, 'bn' + name[4:]
    if isinstance(module, nn.Sequential) and len(module) == 2 and \
            isinstance(module[0], nn.Conv2d) and \
            isinstance(module[1], nn.BatchNorm2d):
        yield '0', '1'


@torch.no_grad()
def _check(original: nn.Module, folded: nn.Module, in_channels: int) -> bool:
    """Whether ``folded`` computes what ``original`` does (eval mode), on
    a random input."""
    x = torch.randn(1, in_channels, 35, 37,
                    generator=torch.Generator().manual_seed(0))
    try:
        a, b = original(x), folded(x)
    except Exception:  # a module that needs more than one input
        return False
    if isinstance(a, (list, tuple)):
        return all(torch.allclose(p, q, atol=1e-4, rtol=1e-4)
                   for p, q in zip(a, b))
    return torch.allclose(a, b, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def fold_batch_norms(network: nn.Module) -> Tuple[nn.Module, int]:
    """Fold the BatchNorms of ``network`` (in eval mode) into their
    convolutions, in place; each module whose pairs are folded is checked
    against its unfolded self and restored when they differ.

    Returns:
        tuple: ``network`` and the number of BatchNorms folded.
    """
    network.eval()
    folded = 0
    for module in list(network.modules()):
        pairs = list(_pairs(module))
        if not pairs:
            continue
        first_conv = getattr(module, pairs[0][0])
        original = copy.deepcopy(module)
        for conv_name, bn_name in pairs:
            conv, bn = getattr(module, conv_name), getattr(module, bn_name)
            setattr(module, conv_name, _fused(conv, bn))
            setattr(module, bn_name, nn.Identity())
        in_channels = _input_channels(module, first_conv)
        if _check(original, module, in_channels):
            folded += len(pairs)
        else:  # not conv -> bn in its forward: put it back
            for name, child in original.named_children():
                setattr(module, name, child)
    return network, folded


def _input_channels(module: nn.Module, first_conv: nn.Conv2d) -> int:
    """Input channels of ``module``: those of its first convolution."""
    first = next((m for m in module.modules() if isinstance(m, nn.Conv2d)),
                 first_conv)
    return first.in_channels


def prepare_network(model: nn.Module, precision: str) -> nn.Module:
    """``model`` itself for fp32; else a copy with folded BatchNorms and
    weights cast once to the precision's dtype, channels_last, with
    ``compute_dtype`` and ``channels_last`` set (see the module docstring).
    """
    device = next(model.parameters()).device
    dtype = precision_dtype(precision, device)
    if dtype == torch.float32:
        return model
    if dtype == torch.bfloat16 and device.type == 'cpu' and \
            not native_cpu_bf16():
        print_log('precision bf16: this CPU has no native bf16 '
                  '(oneDNN finds no AVX-512 BF16 / AMX), so convolutions '
                  'run on slow reference kernels: expect bf16 to be several '
                  'times slower than fp32 here', logger='current',
                  level=logging.WARNING)
    network = copy.deepcopy(model).eval()
    network.cpu()
    fold_batch_norms(network)
    network.to(device=device, dtype=dtype,
               memory_format=torch.channels_last)
    network.compute_dtype = dtype
    network.channels_last = True
    return network
