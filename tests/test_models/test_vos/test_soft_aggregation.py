"""Soft aggregation of the objects' probabilities
(vosbench.models.vos.soft_aggregation; STM, Oh et al. ICCV 2019): the
formula and its clamp, padded objects, and the softmax over the original's
11 channels."""
import pytest
import torch
from vos_test_utils import CLAMP_LOGIT, EPS

from vosbench.models.vos import (aggregated_probs, aggregated_probs_in_place,
                                 soft_aggregate)


def test_soft_aggregate_formula():
    probs = torch.tensor([0.0, 0.3, 0.9, 1.0]).view(1, 1, 2, 2)
    probs = torch.cat([probs, torch.tensor([0.5, 0.2, 0.0, 1.0]).view(
        1, 1, 2, 2)], dim=1)  # (1, 2, 2, 2)
    logits = soft_aggregate(probs)
    assert logits.shape == (1, 3, 2, 2)
    # float32, as the original computes it
    background = (1 - probs[:, 0]) * (1 - probs[:, 1])
    full = torch.cat([background[:, None], probs], dim=1).clamp(EPS, 1 - EPS)
    expected = torch.log(full / (1 - full))
    torch.testing.assert_close(logits, expected)
    # unsaturated values match the exact formula
    exact = torch.logit(torch.tensor([0.3, 0.5, 0.2, 0.9]).double())
    torch.testing.assert_close(
        logits[0, [1, 2, 2, 1], [0, 0, 0, 1], [1, 0, 1, 0]].double(), exact)
    # the clamp bounds the logits at about +-log((1-eps)/eps) = +-16.1
    assert logits.min().item() == pytest.approx(CLAMP_LOGIT, rel=1e-5)
    assert logits.max().item() == pytest.approx(-CLAMP_LOGIT, rel=2e-2)
    # background 0.7 * 0.8 where the objects have 0.3 and 0.2
    assert torch.sigmoid(logits[0, 0, 0, 1]).item() == pytest.approx(
        0.56, abs=1e-6)


def test_soft_aggregate_padded_objects_get_clamp_value():
    torch.manual_seed(0)
    probs = torch.rand(2, 3, 4, 5)
    valid = torch.tensor([[True, True, False], [True, False, False]])
    logits = soft_aggregate(probs, valid)
    torch.testing.assert_close(logits[0, 3], torch.full((4, 5), CLAMP_LOGIT))
    torch.testing.assert_close(logits[1, 2:],
                               torch.full((2, 4, 5), CLAMP_LOGIT))
    # the real objects and the background ignore the padded ones
    torch.testing.assert_close(logits[1, :2], soft_aggregate(probs[1:, :1])[0])
    torch.testing.assert_close(logits[0, :3], soft_aggregate(probs[:1, :2])[0])


def test_aggregated_probs_with_eleven_channels_differs_by_1e6():
    torch.manual_seed(0)
    logits = soft_aggregate(torch.rand(1, 2, 6, 6))
    probs = aggregated_probs(logits)
    probs11 = aggregated_probs(logits, total_channels=11)
    torch.testing.assert_close(probs, torch.softmax(logits, dim=1))
    assert probs11.shape == probs.shape
    diff = (probs - probs11).abs().max().item()
    assert 1e-8 < diff < 1e-5
    # the 8 unused channels take 8 * sigmoid(clamp logit) / Z of the mass
    z = torch.exp(logits).sum(1)
    leaked = 8 * EPS / (1 - EPS)
    torch.testing.assert_close(probs11.sum(1), z / (z + leaked))
    # the mass lost by the real channels is about 1e-6
    lost = (1 - probs11.sum(1)).max().item()
    assert 1e-7 < lost < 1e-5
    # not more channels than real: identical to the plain softmax
    torch.testing.assert_close(aggregated_probs(logits, total_channels=3),
                               probs)


@pytest.mark.parametrize('total_channels', [None, 11])
def test_in_place_aggregation_equals_the_out_of_place_one(total_channels):
    """aggregated_probs_in_place (object_chunk_size's path) gives
    aggregated_probs(soft_aggregate(.)) in the caller's buffer, also with
    rows that are not a multiple of its softmax block, with probabilities
    at the clamp and with the 11 channels of the original."""
    torch.manual_seed(0)
    probs = torch.rand(1, 5, 37, 23)
    probs[0, 0, :3] = 0
    probs[0, 1, 3:5] = 1
    expected = aggregated_probs(soft_aggregate(probs), total_channels)
    buffer = torch.empty(1, 6, 37, 23)
    buffer[:, 1:] = probs
    out = aggregated_probs_in_place(buffer, total_channels, block_rows=8)
    assert out.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
