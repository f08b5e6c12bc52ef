"""The space-time memory read and the key/value heads
(vosbench.models.memory; STM, Oh et al. ICCV 2019)."""
import math

import torch

from vosbench.models.memory import KeyValueProjection, SpaceTimeMemoryReader


def test_memory_reader_matches_direct_computation():
    torch.manual_seed(0)
    n, ck, cv, t, h, w = 2, 8, 6, 3, 4, 5
    mk, mv = torch.randn(n, ck, t, h, w), torch.randn(n, cv, t, h, w)
    qk, qv = torch.randn(n, ck, h, w), torch.randn(n, cv, h, w)
    out = SpaceTimeMemoryReader()(mk, mv, qk, qv)
    assert out.shape == (n, 2 * cv, h, w)
    sim = torch.einsum('nctij,ncxy->ntijxy', mk, qk) / math.sqrt(ck)
    sim = sim.reshape(n, t * h * w, h, w)
    affinity = torch.softmax(sim, dim=1).reshape(n, t, h, w, h, w)
    read = torch.einsum('nctij,ntijxy->ncxy', mv, affinity)
    torch.testing.assert_close(out[:, :cv], read, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out[:, cv:], qv)


def test_key_value_projection_shapes():
    kv = KeyValueProjection(in_channels=16, key_channels=4, value_channels=8)
    key, value = kv(torch.randn(2, 16, 3, 5))
    assert key.shape == (2, 4, 3, 5) and value.shape == (2, 8, 3, 5)
    assert kv.key_conv.kernel_size == (3, 3) and kv.key_conv.bias is not None
