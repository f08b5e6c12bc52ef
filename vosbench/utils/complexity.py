"""Parameter and multiply-accumulate counts of models."""
from typing import Dict, Tuple

import torch
from torch import nn


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters()
               if p.requires_grad or not trainable_only)


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> Tuple[int,
                                                                  Dict[str,
                                                                       int]]:
    """Multiply-accumulates of convolutions and linear layers in one forward.

    Other operations (normalisation, activations, pooling, interpolation,
    the memory read's matrix products) are not counted, as in the usual
    GMAC figures of backbones.

    Args:
        module (nn.Module): Run in eval mode under ``torch.no_grad``.
        *inputs: Its forward arguments.

    Returns:
        tuple: total MACs and MACs per module name.
    """
    per_module: Dict[str, int] = {}
    handles = []

    def hook(name):

        def record(layer, args, output):
            if isinstance(layer, nn.Conv2d):
                kernel = layer.weight.shape[1] * layer.weight.shape[2] * \
                    layer.weight.shape[3]
                macs = output.numel() * kernel
            else:  # nn.Linear
                macs = output.numel() * layer.in_features
            per_module[name] = per_module.get(name, 0) + int(macs)

        return record

    for name, layer in module.named_modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            handles.append(layer.register_forward_hook(hook(name)))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return sum(per_module.values()), per_module
