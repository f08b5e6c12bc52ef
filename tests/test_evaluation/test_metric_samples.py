"""Reading the fields of the metrics' data samples."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vosbench.evaluation.metrics.samples import labels_to_numpy, sample_field


def test_sample_field_of_dicts_and_data_elements():
    assert sample_field(dict(seq_name='a'), 'seq_name', 'M') == 'a'
    assert sample_field(SimpleNamespace(seq_name='b'), 'seq_name', 'M') == 'b'
    assert sample_field(dict(), 'x', 'M', None) is None
    assert sample_field(SimpleNamespace(), 'x', 'M', 3) == 3
    with pytest.raises(KeyError, match=r"DAVISMetric: data sample has no "
                       r"'x'; it has \['a', 'b'\]"):
        sample_field(dict(b=1, a=2), 'x', 'DAVISMetric')
    with pytest.raises(KeyError, match="YouTubeVOSMetric: data sample has "
                       "no 'x'"):
        sample_field(SimpleNamespace(), 'x', 'YouTubeVOSMetric')


def test_labels_to_numpy():
    labels = torch.arange(6, dtype=torch.uint8).view(2, 3)
    out = labels_to_numpy(labels)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, labels.numpy())
    array = np.zeros((2, 2), np.uint8)
    assert labels_to_numpy(array) is array
