"""The memory bank (vosbench.inference.memory_bank): STM's memory policy
(STM, Oh et al. ICCV 2019: every 5th frame kept, the previous frame read as
well), the cap on kept frames and the errors."""
import pytest
import torch

from vosbench.inference import MemoryBank


def _kv(index):
    return torch.full((1, 2, 1, 1), float(index)), \
        torch.full((1, 3, 1, 1), float(index))


def _frames_of(key):
    """Frame indices stored along the T axis of a ``(N, C, T, H, W)`` key."""
    return [int(v) for v in key[0, 0, :, 0, 0].tolist()]


def test_memory_bank_keeps_every_fifth_frame_plus_previous():
    bank = MemoryBank(mem_every=5)
    assert [i for i in range(16) if bank.is_memory_frame(i)] == [0, 5, 10,
                                                                  15]
    for index in range(13):
        if bank.is_memory_frame(index):
            bank.add(*_kv(index), index)
    assert bank.frame_indices == [0, 5, 10]
    key, value = bank.gather((*_kv(12), 12))
    assert _frames_of(key) == [0, 5, 10, 12]
    assert key.shape == (1, 2, 4, 1, 1) and value.shape == (1, 3, 4, 1, 1)
    # the previous frame is not duplicated when it is already kept
    key, _ = bank.gather((*_kv(10), 10))
    assert _frames_of(key) == [0, 5, 10]


def test_memory_bank_max_frames_drops_oldest_after_first():
    bank = MemoryBank(mem_every=5, max_frames=3)
    for index in (0, 5, 10, 15, 20):
        bank.add(*_kv(index), index)
    assert bank.frame_indices == [0, 15, 20]
    assert len(bank) == 3
    assert _frames_of(bank.gather()[0]) == [0, 15, 20]


def test_memory_bank_without_previous_frame():
    bank = MemoryBank(mem_every=5, keep_previous=False)
    # empty memory: the previous frame is still used (else nothing to read)
    assert _frames_of(bank.gather((*_kv(0), 0))[0]) == [0]
    bank.add(*_kv(0), 0)
    assert _frames_of(bank.gather((*_kv(3), 3))[0]) == [0]
    # a memory frame is read as soon as it is encoded
    assert _frames_of(bank.gather((*_kv(5), 5))[0]) == [0, 5]


def test_memory_bank_errors():
    with pytest.raises(RuntimeError, match='empty'):
        MemoryBank().gather()
    with pytest.raises(ValueError):
        MemoryBank(mem_every=0)
    with pytest.raises(ValueError):
        MemoryBank(max_frames=0)
