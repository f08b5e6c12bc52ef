"""Batching of training clips."""
from typing import Union

import torch
from mmengine.model import BaseDataPreprocessor

from vosbench.registry import MODELS
from vosbench.utils.frame_tensor import frames_to_tensor


@MODELS.register_module()
class VOSDataPreprocessor(BaseDataPreprocessor):
    """Stack clips and scale frames to [0, 1] on the model's device.

    Training batches (``inputs`` a list of ``(T, 3, H, W)`` uint8 tensors)
    become ``(B, T, 3, H, W)`` float in [0, 1]; the masks of each data sample
    move to the device. Test batches (whole videos: each data sample holds a
    lazy frame source, see :mod:`vosbench.datasets.frame_sources`, which the
    model streams) pass through unchanged.
    """

    def forward(self, data: dict, training: bool = False) -> Union[dict, list]:
        data = self.cast_data(data)
        inputs = data.get('inputs')
        if isinstance(inputs, (list, tuple)) and inputs and \
                all(isinstance(x, torch.Tensor) for x in inputs):
            inputs = torch.stack(list(inputs))
        if isinstance(inputs, torch.Tensor):
            inputs = frames_to_tensor(inputs)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
