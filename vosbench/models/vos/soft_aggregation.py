"""Soft aggregation of independent per-object probabilities (STM)."""
from typing import Optional

import torch
from torch import Tensor

#: Probabilities are clamped to ``[EPS, 1 - EPS]`` before taking logits.
AGGREGATION_EPS = 1e-7


def soft_aggregate(object_probs: Tensor,
                   valid: Optional[Tensor] = None) -> Tensor:
    """Merge per-object foreground probabilities into class logits.

    ``background = prod(1 - p_i)``; all clamped to ``[1e-7, 1 - 1e-7]``;
    ``logit = log(p / (1 - p))``. A softmax over the result gives the final
    probabilities of background and objects.

    Args:
        object_probs (Tensor): ``(B, K, H, W)`` foreground probability of
            each object.
        valid (Tensor, optional): ``(B, K)`` bool, False for padding objects
            (their probability is treated as 0, i.e. the clamp value, as the
            reference does for unused channels).

    Returns:
        Tensor: ``(B, K + 1, H, W)`` logits, background first.
    """
    if valid is not None:
        object_probs = object_probs * valid[:, :, None, None].to(
            object_probs.dtype)
    background = torch.prod(1 - object_probs, dim=1, keepdim=True)
    probs = torch.cat([background, object_probs], dim=1)
    probs = probs.clamp(AGGREGATION_EPS, 1 - AGGREGATION_EPS)
    return torch.log(probs / (1 - probs))


def aggregated_probs(logits: Tensor, total_channels: Optional[int] = None
                     ) -> Tensor:
    """Softmax over aggregated logits.

    Args:
        logits (Tensor): ``(B, K + 1, H, W)`` from :func:`soft_aggregate`.
        total_channels (int, optional): The original STM sizes its softmax to
            a fixed number of channels (11) and leaves the unused ones at the
            clamp value, which takes about 1e-6 of probability mass. Set this
            to 11 to reproduce its probabilities exactly; None uses only the
            K + 1 real channels.

    Returns:
        Tensor: ``(B, K + 1, H, W)`` probabilities.
    """
    num_real = logits.shape[1]
    if total_channels is None or total_channels <= num_real:
        return torch.softmax(logits, dim=1)
    # computed in the logits' dtype, exactly as the unused channels are
    eps = torch.tensor(AGGREGATION_EPS, dtype=logits.dtype)
    clamp_logit = torch.log(eps / (1 - eps))
    padding = clamp_logit.to(logits.device).expand(
        logits.shape[0], total_channels - num_real, *logits.shape[2:])
    return torch.softmax(torch.cat([logits, padding], dim=1),
                         dim=1)[:, :num_real]


def aggregated_probs_in_place(buffer: Tensor,
                              total_channels: Optional[int] = None,
                              block_rows: int = 32) -> Tensor:
    """:func:`soft_aggregate` then :func:`aggregated_probs`, computed in
    ``buffer`` for inference with bounded memory.

    The two functions above make several ``(B, K + 1, H, W)`` temporaries;
    here every temporary is one channel or a block of ``block_rows`` rows,
    so that the memory of a step grows with the number of objects K by the
    buffer only (``object_chunk_size``, :class:`~vosbench.inference.
    VideoStream`). The result equals theirs up to float rounding (the
    background's product is taken one object at a time, the softmax a block
    of rows at a time).

    Args:
        buffer (Tensor): ``(B, K + 1, H, W)`` float; channels ``1..K`` hold
            the objects' foreground probabilities, channel 0 is overwritten.
        total_channels (int, optional): See :func:`aggregated_probs`.
        block_rows (int): Rows per softmax block.

    Returns:
        Tensor: ``buffer``, holding the ``(B, K + 1, H, W)`` probabilities.
    """
    background = buffer[:, 0]
    background.fill_(1)
    for channel in range(1, buffer.shape[1]):
        background.mul_(1 - buffer[:, channel])
    buffer.clamp_(AGGREGATION_EPS, 1 - AGGREGATION_EPS)
    for channel in range(buffer.shape[1]):
        probs = buffer[:, channel]
        probs.div_(1 - probs).log_()  # logits, one channel at a time
    for top in range(0, buffer.shape[2], block_rows):
        rows = buffer[:, :, top:top + block_rows]
        rows.copy_(aggregated_probs(rows, total_channels))
    return buffer
