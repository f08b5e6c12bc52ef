"""The parameter-free memory read of STM."""
import math
from typing import Optional

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

    With ``top_k`` (inference, as STCN and XMem do), each query position
    keeps only its ``top_k`` largest similarities before the softmax; the
    other memory positions get weight 0. None (default) is STM exactly.
    """

    def forward(self, memory_key: Tensor, memory_value: Tensor,
                query_key: Tensor, query_value: Tensor,
                top_k: Optional[int] = None) -> Tensor:
        """
        Args:
            memory_key (Tensor): ``(N, Ck, T, H, W)`` keys of T memory frames
                for each of N objects.
            memory_value (Tensor): ``(N, Cv, T, H, W)``.
            query_key (Tensor): ``(N, Ck, H, W)``.
            query_value (Tensor): ``(N, Cv, H, W)``.
            top_k (int, optional): Similarities kept per query position.

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
        affinity = affinity / math.sqrt(key_dim)
        if top_k is not None and top_k < affinity.shape[1]:
            values, indices = affinity.topk(top_k, dim=1)  # (N, k, HW)
            affinity = torch.zeros_like(affinity).scatter_(
                1, indices, torch.softmax(values, dim=1))
        else:
            affinity = torch.softmax(affinity, dim=1)
        read = torch.bmm(
            memory_value.reshape(num, value_dim, frames * height * width),
            affinity)
        read = read.view(num, value_dim, height, width)
        return torch.cat([read, query_value], dim=1)
