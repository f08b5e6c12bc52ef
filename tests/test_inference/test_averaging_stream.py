"""The averaging stream (vosbench.inference.averaging_stream) on its own:
the checks on its members, views and weights. Averaging the views of
test-time augmentation and the members of an ensemble is tested with those
models in ``tests/test_models/test_tta.py`` and ``test_ensemble.py``."""
import pytest

from vosbench.inference import AveragingStream

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_averaging_stream_checks_its_members(tiny_stm):
    with pytest.raises(ValueError, match='different objects'):
        AveragingStream([tiny_stm.new_stream([1]),
                         tiny_stm.new_stream([2])])
    with pytest.raises(ValueError, match='views'):
        AveragingStream([tiny_stm.new_stream([1])], views=[])
    with pytest.raises(ValueError, match='weights'):
        AveragingStream([tiny_stm.new_stream([1])], weights=[1, 2])
