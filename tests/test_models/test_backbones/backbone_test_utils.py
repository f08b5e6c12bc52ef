"""Helpers shared by the backbone tests (plain functions; the fixtures are
in ``conftest.py`` next to this file).

Test files import them with ``from backbone_test_utils import ...``:
pytest's default ``prepend`` import mode puts this folder on ``sys.path``.
"""
import logging
import os.path as osp
from typing import Callable, Dict, List, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
STM_R50_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'models',
                          'stm_r50.py')


def num_params(model: nn.Module) -> int:
    """The number of parameter elements of ``model`` (buffers not counted).
    """
    return sum(p.numel() for p in model.parameters())


def conv_linear_macs(model: nn.Module, size: int = 384,
                     in_channels: int = 3) -> int:
    """MACs of the conv and linear layers of one forward of a
    ``(1, in_channels, size, size)`` input, counted by forward hooks.

    A conv contributes ``output.numel() * in_channels / groups * kh * kw``,
    a linear layer ``output.numel() * in_features``; nothing else counts.
    The input lives on the meta device, so ``model`` must too: shapes are
    real, nothing is computed, and a 384x384 count costs no time. ``model``
    is put in eval mode.
    """
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * \
                module.kernel_size[0] * module.kernel_size[1]
        else:
            per_output = module.in_features
        total += output.numel() * per_output

    handles = [
        m.register_forward_hook(hook) for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.empty(1, in_channels, size, size,
                                     device='meta'))
    finally:
        for h in handles:
            h.remove()
    return total


def randomise(model: nn.Module, seed: int = 0,
              std: float = 1.0) -> nn.Module:
    """Give every parameter and BN buffer non-default values, in place.

    After ``torch.manual_seed(seed)``: parameters ~ N(0, std^2); in every
    ``_BatchNorm``, ``running_mean`` ~ N(0, 1), ``running_var`` ~
    U(0.5, 2) and ``num_batches_tracked`` = 7.

    Returns:
        nn.Module: ``model``.
    """
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, std)
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def state_dict_with_classifier(model: nn.Module) -> Dict[str, torch.Tensor]:
    """``model``'s state dict (copied) plus an ImageNet classifier, as in a
    torchvision checkpoint: ``fc.weight`` ``(1000, C)`` and ``fc.bias``
    ``(1000, )`` with random values, ``C = model.stage_channels[-1]``."""
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd['fc.weight'] = torch.randn(1000, model.stage_channels[-1])
    sd['fc.bias'] = torch.randn(1000)
    return sd


def save_checkpoint(path, checkpoint) -> str:
    """``torch.save`` ``checkpoint`` to ``path``; returns ``str(path)``."""
    torch.save(checkpoint, str(path))
    return str(path)


def torchvision_like_checkpoint(path, model: nn.Module) -> str:
    """Save ``model``'s state dict (torchvision names for a ``ResNet``)
    plus an ``fc`` (see :func:`state_dict_with_classifier`) to ``path``;
    returns ``str(path)``."""
    return save_checkpoint(path, state_dict_with_classifier(model))


def messages(records: Sequence[logging.LogRecord]) -> List[str]:
    """The messages of the log records captured by the ``logs`` fixture."""
    return [r.getMessage() for r in records]


def warnings_of(records: Sequence[logging.LogRecord]) -> List[str]:
    """The messages of the records at level WARNING or above."""
    return [r.getMessage() for r in records if r.levelno >= logging.WARNING]


# ---------------------------------------------------------------------------
# a backbone in STM
# ---------------------------------------------------------------------------
def stm_config(backbone: dict) -> dict:
    """The ResNet-50 STM of ``configs/_base_/models/stm_r50.py`` with
    ``backbone`` as both encoders (no pretrained weights).

    The memory encoder gets ``in_channels=5`` (RGB + object + others masks)
    and ``out_indices=(2, )``, the query encoder ``out_indices=(0, 1, 2)``:
    ``backbone`` must give stride-4/8/16 features of 256/512/1024 channels.
    Training takes up to 2 objects.
    """
    model = Config.fromfile(STM_R50_CONFIG).model.to_dict()
    model.update(
        memory_encoder=dict(backbone, in_channels=5, out_indices=(2, )),
        query_encoder=dict(backbone, out_indices=(0, 1, 2)),
        train_cfg=dict(max_objects=2))
    return model


def two_object_masks(num_frames: int, size: int) -> torch.Tensor:
    """``(num_frames, size, size)`` long labels: objects 1 and 2 as boxes
    moving one pixel a frame, and an ignored (255) border of two rows at
    the bottom. ``size`` must be at least 64 for both boxes to fit."""
    masks = torch.zeros(num_frames, size, size, dtype=torch.long)
    for t in range(num_frames):
        masks[t, 8 + t:28 + t, 8:36] = 1
        masks[t, 36:60, 20 + t:50 + t] = 2
    masks[:, -2:] = 255
    return masks


def assert_stm_trains_and_segments(model: nn.Module) -> None:
    """One training step and one streaming inference of an STM built from
    :func:`stm_config`.

    Training: a 2-frame ``(2, 3, 64, 64)`` uint8 clip with
    :func:`two_object_masks` (frame 0 memorised, frame 1 segmented) gives a
    finite ``loss_ce`` whose backward reaches every trainable parameter of
    both encoders. Inference: the 3-frame video gives three ``(64, 64)``
    uint8 label maps with labels in {0, 1, 2}.
    """
    gen = torch.Generator().manual_seed(0)
    clip = torch.randint(0, 256, (3, 3, 64, 64), generator=gen,
                         dtype=torch.uint8)
    masks = two_object_masks(3, 64)
    # training: a 2-frame clip (frame 0 memorised, frame 1 segmented)
    data = model.data_preprocessor(
        dict(inputs=[clip[:2]],
             data_samples=[dict(masks=masks[:2], num_objects=2)]), True)
    model.train()
    loss = model(**data, mode='loss')['loss_ce']
    assert torch.isfinite(loss)
    loss.backward()
    for name in ('memory_encoder', 'query_encoder'):
        unused = [n for n, p in getattr(model, name).named_parameters()
                  if p.requires_grad and p.grad is None]
        assert unused == [], name

    # inference: the whole 3-frame video
    model.eval()
    frames = [f.permute(1, 2, 0).numpy() for f in clip]
    first = masks[0].numpy().astype(np.uint8)
    out = list(model.segment_video(frames, first))
    assert len(out) == 3
    assert all(o.shape == (64, 64) and o.dtype == np.uint8 for o in out)
    assert set(np.unique(np.stack(out))) <= {0, 1, 2}


def assert_state_dict_round_trip(make_model: Callable[[], nn.Module], path,
                                 in_channels: int = 5) -> None:
    """A randomised model (``make_model()``, :func:`randomise` with std
    0.1) saved to ``path`` and loaded strictly into a fresh
    ``make_model()`` gives bit-identical outputs on a
    ``(1, in_channels, 48, 64)`` input."""
    model = randomise(make_model(), std=0.1).eval()
    torch.save(model.state_dict(), str(path))
    fresh = make_model()
    fresh.load_state_dict(torch.load(str(path)), strict=True)
    fresh.eval()
    x = torch.rand(1, in_channels, 48, 64)
    with torch.no_grad():
        for a, b in zip(model(x), fresh(x)):
            assert torch.equal(a, b)
