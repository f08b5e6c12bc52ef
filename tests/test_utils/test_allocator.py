"""keep_freed_memory: freed blocks stay in the process for reuse."""
import os
import subprocess
import sys

import pytest

from vosbench.utils import keep_freed_memory

# Allocate and free a 64 MB array, then print how much of it is still
# resident. With glibc's defaults the block is mmap'ed and unmapped when
# freed; once the allocator keeps freed memory, it stays resident.
CHILD = r'''
import sys
import numpy as np
from vosbench.utils import keep_freed_memory

def resident_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20

tuned = keep_freed_memory() if sys.argv[1] == 'tuned' else False
before = resident_mb()
block = np.ones(2**23)  # 64 MB, written, so resident
del block
print(int(tuned), resident_mb() - before)
'''


def run_child(mode, **env):
    out = subprocess.run([sys.executable, '-c', CHILD, mode],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    tuned, kept_mb = out.stdout.split()
    return bool(int(tuned)), float(kept_mb)


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='glibc mallopt')
def test_freed_memory_is_kept_only_when_tuned():
    tuned, kept = run_child('tuned')
    assert tuned
    assert kept > 60  # the freed 64 MB stay resident for reuse
    tuned, kept = run_child('stock')
    assert not tuned
    assert kept < 8  # glibc returned them


def test_environment_variable_turns_it_off(monkeypatch):
    monkeypatch.setenv('VOSBENCH_KEEP_FREED_MEMORY', '0')
    assert keep_freed_memory() is False
    tuned, kept = run_child('tuned', VOSBENCH_KEEP_FREED_MEMORY='0')
    assert not tuned and kept < 8
