"""``top_k`` in the space-time memory read: off is STM exactly; k keeps the
k most similar memory positions of each query position."""
import math

import pytest
import torch
from vos_test_utils import build_tiny, make_video, run_probs

from vosbench.models.memory.space_time_memory_reader import \
    SpaceTimeMemoryReader


def test_top_k_keeps_the_k_largest_similarities():
    torch.manual_seed(0)
    mk, mv = torch.randn(2, 4, 3, 5, 6), torch.randn(2, 8, 3, 5, 6)
    qk, qv = torch.randn(2, 4, 5, 6), torch.randn(2, 8, 5, 6)
    reader = SpaceTimeMemoryReader()
    full = reader(mk, mv, qk, qv)
    assert torch.equal(full, reader(mk, mv, qk, qv, top_k=None))
    assert torch.equal(full, reader(mk, mv, qk, qv, top_k=90))  # all
    out = reader(mk, mv, qk, qv, top_k=7)
    # by hand for one query position
    sim = torch.einsum('ck,c->k', mk[1].reshape(4, -1),
                       qk[1].reshape(4, -1)[:, 13]) / math.sqrt(4)
    values, idx = sim.topk(7)
    expected = mv[1].reshape(8, -1)[:, idx] @ torch.softmax(values, 0)
    torch.testing.assert_close(out[1, :8].reshape(8, -1)[:, 13], expected)
    torch.testing.assert_close(out[:, 8:], qv)  # query values unchanged


def test_top_k_on_the_tiny_model_is_close_to_full_and_differs():
    torch.set_num_threads(1)
    frames, first = make_video(6, 64, 96)
    full, _ = run_probs(build_tiny(), frames, first)
    top, _ = run_probs(build_tiny(top_k=30), frames, first)
    # the memory holds 24 positions a frame (64x96 at stride 16), up to 96
    difference = (full - top).abs().max().item()
    # the random tiny model's probabilities are near-uniform, so only the
    # probabilities are compared (measured: 7e-4)
    assert 0 < difference < 0.01


def test_top_k_does_not_change_training():
    model = build_tiny(top_k=1)
    model.train()
    assert model.test_cfg['top_k'] == 1
    with pytest.raises(TypeError, match='top_k'):
        build_tiny(top_k=0)
