"""vosbench.engine.shutdown_distributed, which tools/train.py and
tools/test.py call once their work is done (the launched runs are in
tests/test_tools/test_distributed.py)."""
import torch.distributed as torch_dist

from vosbench.engine import shutdown_distributed


def test_destroys_the_group_and_is_idempotent(tmp_path):
    shutdown_distributed()  # no group: nothing to do
    torch_dist.init_process_group(
        backend='gloo', init_method=f'file://{tmp_path / "store"}',
        rank=0, world_size=1)
    try:
        assert torch_dist.is_initialized()
        shutdown_distributed()
        assert not torch_dist.is_initialized()
        shutdown_distributed()
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()

