"""The parameter-free memory read of STM."""
import math

import torch
from mmengine.model import BaseModule
from torch import Tensor

from vosbench.registry import MEMORY_READERS


@MEMORY_READERS.register_module()
class SpaceTimeMemoryReader(BaseModule):
    """Read the memory by key affinity (STM, Oh et al. 2019).

    ``affinity = softmax_over_memory(memory_key^T . query_key / sqrt(Ck))``,
    ``read = memory_value . affinity``; the output is ``cat(read,
    query_value)``. Padded positions are not masked, as in the reference.
    """

    def forward(self, memory_key: Tensor, memory_value: Tensor,
                query_key: Tensor, query_value: Tensor) -> Tensor:
        """
        Args:
            memory_key (Tensor): ``(N, Ck, T, H, W)`` keys of T memory frames
                for each of N objects.
            memory_value (Tensor): ``(N, Cv, T, H, W)``.
            query_key (Tensor): ``(N, Ck, H, W)``.
            query_value (Tensor): ``(N, Cv, H, W)``.

        Returns:
            Tensor: ``(N, 2 * Cv, H, W)``, the read values then the query
            values.
        """
        num, key_dim, frames, height, width = memory_key.shape
        value_dim = memory_value.shape[1]
        memory_key = memory_key.reshape(num, key_dim, frames * height * width)
        query_key = query_key.reshape(num, key_dim, height * width)
        # (N, THW, HW): similarity of every memory position to every query one
        affinity = torch.bmm(memory_key.transpose(1, 2), query_key)
        affinity = torch.softmax(affinity / math.sqrt(key_dim), dim=1)
        read = torch.bmm(
            memory_value.reshape(num, value_dim, frames * height * width),
            affinity)
        read = read.view(num, value_dim, height, width)
        return torch.cat([read, query_value], dim=1)
