"""Mixed-precision training on a CPU: ``tools/train.py --amp`` without CUDA.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. On a CPU the
forward pass and the loss run under ``torch.autocast('cpu', bfloat16)``:
convolutions and matrix products in bf16 (oneDNN's AMX kernels where the CPU
has them), the weights, gradients and optimizer state in float32. bf16 has
float32's exponent range, so no loss scaling is needed.
"""
import logging
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from vosbench.inference.precision import native_cpu_bf16
from vosbench.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward context autocasts on the CPU.

    Args:
        dtype (str): autocast dtype; ``'bfloat16'`` only (CPUs have no
            fast fp16 convolutions, as for inference precision).
        **kwargs: passed to ``OptimWrapper`` (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs):
        if dtype != 'bfloat16':
            raise ValueError(
                f'optim_wrapper.dtype={dtype!r}: CPUAutocastOptimWrapper '
                "trains in 'bfloat16' only")
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16
        if not native_cpu_bf16():
            print_log(
                'CPUAutocastOptimWrapper: this CPU has no native bf16 '
                '(no AVX-512 BF16 or AMX); bf16 training runs on reference '
                'kernels, about 10x slower than float32 (docs/benchmarks.md)',
                logger='current', level=logging.WARNING)

    @contextmanager
    def optim_context(self, model):
        """The parent's context (gradient accumulation) plus bf16 autocast
        on the CPU."""
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
