"""Make glibc's allocator keep freed memory for reuse.

CPU inference and training allocate and free feature maps of tens of MB
at every layer (a stride-4 decoder map of a 480p frame with 2 objects is
53 MB). glibc serves blocks above its mmap threshold (at most 32 MB) with a
fresh ``mmap`` and returns them with ``munmap`` when freed, and trims the
top of the heap back to the OS: every layer then page-faults its output
into existence again, and the kernel zeroes it. On the 2-core machines we
measure on, that costs about a quarter of the time of a ResNet-50 STM
inference step (``tools/analysis/benchmark_inference.py`` compares both).

:func:`keep_freed_memory` turns both off with ``mallopt``, in this process
only: freed blocks stay in the heap and the next layer reuses them. Peak
memory is unchanged (the same blocks are live at the peak); what changes
is that the process keeps its peak after it, which suits a job that runs
one model until it exits. The tools call it at start; set
``VOSBENCH_KEEP_FREED_MEMORY=0`` to leave the allocator alone.
"""
import ctypes
import ctypes.util
import os
import platform

#: mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_ENV = 'VOSBENCH_KEEP_FREED_MEMORY'


def keep_freed_memory() -> bool:
    """Stop glibc from returning freed memory to the OS (see module doc).

    Returns:
        bool: True if the allocator was tuned; False when it is not glibc's,
        or ``VOSBENCH_KEEP_FREED_MEMORY=0`` is set.
    """
    if os.environ.get(_ENV, '1').strip().lower() in ('0', 'false', 'no'):
        return False
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # largest int: never trim; no mmap: large blocks come from the heap too
    trimmed = mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    unmapped = mallopt(_M_MMAP_MAX, 0)
    return bool(trimmed and unmapped)
