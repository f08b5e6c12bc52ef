"""Fixtures shared by the model tests (plain helpers for the tiny STM are in
``vos_test_utils.py``)."""
import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run the test on one torch thread (the tiny model runs fastest so on a
    shared CPU), restoring the thread count afterwards. Not autouse: a test
    module opts in with ``pytestmark =
    pytest.mark.usefixtures('one_torch_thread')``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
