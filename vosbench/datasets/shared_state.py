"""Dataset settings that a training hook changes while DataLoader workers run.

A DataLoader worker is a separate process holding its own copy of the
dataset, so a plain attribute set by a hook in the main process never reaches
it. :class:`SharedInt` keeps an integer in shared memory created before the
workers start: workers made by ``fork`` inherit the mapping, and workers made
by ``spawn``/``forkserver`` receive it while the process is being started.
:class:`SharedIntAttribute` exposes such an integer as an ordinary attribute::

    class MyVideoDataset(BaseDataset):
        max_skip = SharedIntAttribute(min_value=1)

        def __init__(self, max_skip=5, ...):
            self.max_skip = max_skip    # creates the shared integer

Reading ``dataset.max_skip`` in a worker then returns the value the main
process set last (workers still return the batches they prefetched before).
"""
import multiprocessing
from multiprocessing.context import get_spawning_popen
from typing import Optional


class SharedInt:
    """A 64-bit integer in shared memory.

    Pickling it while a worker process is being started (``spawn`` or
    ``forkserver``) shares the memory with that process; any other pickle or
    ``copy.deepcopy`` makes an independent integer with the current value
    (shared memory cannot be sent to an arbitrary process).

    Args:
        value (int): Initial value.
    """

    def __init__(self, value: int = 0, _raw=None):
        self._raw = _raw if _raw is not None else \
            multiprocessing.RawValue('q', int(value))

    @property
    def value(self) -> int:
        return int(self._raw.value)

    @value.setter
    def value(self, value: int) -> None:
        self._raw.value = int(value)

    def __reduce__(self):
        if get_spawning_popen() is not None:
            return _rebuild_shared, (self._raw,)
        return SharedInt, (self.value,)

    def __repr__(self) -> str:
        return f'SharedInt({self.value})'


def _rebuild_shared(raw) -> SharedInt:
    return SharedInt(_raw=raw)


class SharedIntAttribute:
    """A class attribute whose per-instance value is a :class:`SharedInt`.

    The first assignment on an instance creates the shared integer; later
    assignments (in the main process) change it in place, so worker processes
    started in between see the new value. Reading an unset attribute raises
    ``AttributeError`` (so ``hasattr`` behaves as usual).

    Args:
        min_value (int, optional): Smallest allowed value; smaller ones raise
            ``ValueError`` naming the attribute.
    """

    def __init__(self, min_value: Optional[int] = None):
        self.min_value = min_value
        self.name = '<unnamed>'
        self.slot = '_shared_unnamed'

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.slot = f'_shared_{name}'

    def shared(self, obj) -> Optional[SharedInt]:
        """The instance's :class:`SharedInt`, or None before assignment."""
        return obj.__dict__.get(self.slot)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        shared = self.shared(obj)
        if shared is None:
            raise AttributeError(
                f'{type(obj).__name__!r} object has no attribute '
                f'{self.name!r} (not set yet)')
        return shared.value

    def __set__(self, obj, value) -> None:
        if isinstance(value, bool) or int(value) != value:
            raise TypeError(f'{self.name} must be an integer, got {value!r}')
        value = int(value)
        if self.min_value is not None and value < self.min_value:
            raise ValueError(f'{self.name} must be >= {self.min_value}, got '
                             f'{value}')
        shared = self.shared(obj)
        if shared is None:
            obj.__dict__[self.slot] = SharedInt(value)
        else:
            shared.value = value


def is_shared_attribute(obj, name: str) -> bool:
    """Whether ``obj.<name>`` is a :class:`SharedIntAttribute` (so that
    changes reach DataLoader workers)."""
    return isinstance(getattr(type(obj), name, None), SharedIntAttribute)
