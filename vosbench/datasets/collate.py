"""Batching of dataset samples."""
from typing import List, Sequence

from vosbench.registry import FUNCTIONS


@FUNCTIONS.register_module()
def vos_collate(data_batch: Sequence[dict]) -> dict:
    """Keep samples as lists: ``dict(inputs=[...], data_samples=[...])``.

    Training inputs are stacked by the data preprocessor; test samples are
    whole videos described by file paths, which must not be merged.
    """
    inputs: List = [sample.get('inputs') for sample in data_batch]
    data_samples: List = [sample['data_samples'] for sample in data_batch]
    return dict(inputs=inputs, data_samples=data_samples)
