"""The STM network (vosbench.models.vos.STM; STM, Oh et al. ICCV 2019):
building from configs and registries (parameter counts of the ResNet-50
model, unknown types listed with the registered names), the memory
encoder's inputs, the training step (loss and gradients), clip forwarding
and padded objects.

The stream, memory bank and whole-video driver are tested in
``tests/test_inference``; the network's components in the folders beside
this one.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from vos_test_utils import CLAMP_LOGIT, REPO, build_tiny

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.models.data_preprocessors import VOSDataPreprocessor
from vosbench.models.decoders import STMDecoder
from vosbench.models.losses import VOSCrossEntropyLoss
from vosbench.models.memory import SpaceTimeMemoryReader
from vosbench.registry import (BACKBONES, DECODERS, MEMORY_READERS,
                               MODELS)

R50_CFG = osp.join(REPO, 'configs/_base_/models/stm_r50.py')


def trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------
def test_r50_stm_parameter_counts():
    model = MODELS.build(Config.fromfile(R50_CFG).model)
    assert trainable(model.memory_encoder) == 8_549_568
    assert trainable(model.query_encoder) == 8_543_296
    assert trainable(model.memory_key_value) == 5_898_880
    assert trainable(model.query_key_value) == 5_898_880
    assert trainable(model.decoder) == 10_034_946
    assert trainable(model) == 38_925_570


def test_tiny_stm_builds_with_config_components(tiny_stm):
    assert type(tiny_stm).__name__ == 'STM'
    assert isinstance(tiny_stm.memory_reader, SpaceTimeMemoryReader)
    assert isinstance(tiny_stm.decoder, STMDecoder)
    assert isinstance(tiny_stm.data_preprocessor, VOSDataPreprocessor)
    assert isinstance(tiny_stm.loss_module, VOSCrossEntropyLoss)
    # the memory encoder takes frame + object mask + other objects
    assert tiny_stm.memory_encoder.conv1.in_channels == 5
    assert tiny_stm.query_encoder.conv1.in_channels == 3


@pytest.mark.parametrize('registry,cfg,expected_name', [
    (BACKBONES, dict(type='NoSuchBackbone'), 'ResNet'),
    (MEMORY_READERS, dict(type='NoSuchReader'), 'SpaceTimeMemoryReader'),
    (DECODERS, dict(type='NoSuchDecoder'), 'STMDecoder'),
    (MODELS, dict(type='NoSuchModel'), 'STM'),
])
def test_unknown_type_lists_registered_names(registry, cfg, expected_name):
    with pytest.raises(KeyError) as info:
        registry.build(cfg)
    message = str(info.value)
    assert cfg['type'] in message
    assert expected_name in message


def test_components_build_from_plain_dicts():
    backbone = BACKBONES.build(dict(type='ResNet', depth=18, num_stages=1,
                                    out_indices=(0, )))
    assert type(backbone).__name__ == 'ResNet'
    assert isinstance(MEMORY_READERS.build(
        dict(type='SpaceTimeMemoryReader')), SpaceTimeMemoryReader)
    assert isinstance(DECODERS.build(dict(
        type='STMDecoder', in_channels=8, skip_channels=(4, 4),
        channels=8)), STMDecoder)


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------
def make_clip_batch(num_objects=(2, 1), size=32, frames=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for k in num_objects:
        clip = torch.randint(0, 256, (frames, 3, size, size), generator=gen,
                             dtype=torch.uint8)
        masks = torch.zeros(frames, size, size, dtype=torch.long)
        for t in range(frames):
            for obj in range(1, k + 1):
                top = 4 + 8 * (obj - 1) + t
                masks[t, top:top + 8, 4 + t:20 + t] = obj
        masks[:, -2:] = 255
        inputs.append(clip)
        samples.append(dict(masks=masks, num_objects=k))
    return dict(inputs=inputs, data_samples=samples)


def test_train_step_loss_and_gradients():
    model = build_tiny().train()
    data = model.data_preprocessor(make_clip_batch(), True)
    assert data['inputs'].shape == (2, 3, 3, 32, 32)
    losses = model(**data, mode='loss')
    loss = losses['loss_ce']
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for name in ('memory_encoder', 'query_encoder', 'memory_key_value',
                 'query_key_value', 'decoder'):
        grads = [p.grad for p in getattr(model, name).parameters()
                 if p.requires_grad]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum().item() for g in grads) > 0, name
    # the memory encoder's mask input convolution learns too
    assert model.memory_encoder.conv1.weight.grad[:, 3:].abs().sum() > 0


def test_forward_clips_outputs_and_modes():
    model = build_tiny().eval()
    data = model.data_preprocessor(make_clip_batch(frames=3), False)
    with torch.no_grad():
        outputs = model(**data, mode='tensor')
    # frames 1 and 2, max_objects (3, from train_cfg) + background
    assert len(outputs) == 2
    assert all(o.shape == (2, 4, 32, 32) for o in outputs)
    # the second sample has one object: channels 2 and 3 are padding
    torch.testing.assert_close(outputs[0][1, 2:],
                               torch.full((2, 32, 32), CLAMP_LOGIT))
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(**data, mode='nonsense')


def test_encode_memory_inputs_and_invalid_objects(tiny_stm):
    torch.manual_seed(0)
    frames = torch.rand(1, 3, 32, 32)
    probs = torch.rand(1, 3, 32, 32)
    valid = torch.tensor([[True, True, False]])
    with torch.no_grad():
        key, value = tiny_stm.encode_memory(frames, probs, valid)
        zeroed = probs.clone()
        zeroed[:, 2] = 0
        key0, value0 = tiny_stm.encode_memory(frames, zeroed)
        # the 5-channel input: normalised frame, the object's mask, the
        # sum of the other objects' masks clamped to [0, 1]
        full = torch.full((1, 3, 32, 32), 0.8)
        key_full, value_full = tiny_stm.encode_memory(frames, full)
        normalised = (frames - torch.tensor(
            [0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
                [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        manual = torch.cat([normalised, full[:, :1],
                            torch.ones(1, 1, 32, 32)], dim=1)
        expected = tiny_stm.memory_key_value(
            tiny_stm.memory_encoder(manual)[-1])
    assert key.shape == (3, 32, 2, 2) and value.shape == (3, 128, 2, 2)
    # real objects see the padding object as an empty mask; the padding
    # object itself is not encoded (zero key and value)
    torch.testing.assert_close(key[:2], key0[:2])
    torch.testing.assert_close(value[:2], value0[:2])
    assert not key[2].any() and not value[2].any()
    torch.testing.assert_close(key_full[:1], expected[0])
    torch.testing.assert_close(value_full[2:], expected[1])


def _loss_of_single_sample(model, max_objects):
    data = model.data_preprocessor(make_clip_batch(num_objects=(1, )), True)
    model.train_cfg['max_objects'] = max_objects
    with torch.no_grad():
        return model(**data, mode='loss')['loss_ce'].item()


def test_padded_objects_do_not_change_loss_with_frozen_norm():
    """Padding objects are zero masks to the memory encoder and get the
    clamp value in aggregation, so the loss of the real objects changes
    only by the clamp's ~1e-7 leak when batch norm uses running statistics
    (eval mode, or norm_eval=True as in the ResNet-50 config)."""
    model = build_tiny().eval()
    alone = _loss_of_single_sample(model, 1)
    padded = _loss_of_single_sample(model, 3)
    assert padded == pytest.approx(alone, rel=1e-5, abs=1e-6)

    model = build_tiny()
    model.memory_encoder.norm_eval = True
    model.query_encoder.norm_eval = True
    model.train()
    alone = _loss_of_single_sample(model, 1)
    padded = _loss_of_single_sample(model, 3)
    assert padded == pytest.approx(alone, rel=1e-5, abs=1e-6)


def test_padded_objects_do_not_change_loss_with_batch_statistics():
    model = build_tiny().train()
    alone = _loss_of_single_sample(model, 1)
    padded = _loss_of_single_sample(model, 3)
    assert padded == pytest.approx(alone, rel=1e-5, abs=1e-6)
