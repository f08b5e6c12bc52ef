"""A schedule for the largest temporal gap of training clips."""
import bisect
from typing import List, Optional, Sequence, Tuple

from mmengine.hooks import Hook

from vosbench.datasets.shared_state import is_shared_attribute
from vosbench.registry import HOOKS


def find_datasets_with(dataset, attribute: str) -> List[object]:
    """``dataset`` and every dataset it wraps (``.dataset`` of
    ``RepeatDataset``/``ClassBalancedDataset``/``Subset``, ``.datasets`` of
    ``ConcatDataset``/``RatioConcatDataset``) that has ``attribute``."""
    found, stack, seen = [], [dataset], set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if hasattr(current, attribute):
            found.append(current)
        inner = getattr(current, 'datasets', None)
        if isinstance(inner, (list, tuple)):
            stack.extend(reversed(inner))
        stack.append(getattr(current, 'dataset', None))
    return found


@HOOKS.register_module()
class MaxSkipScheduleHook(Hook):
    """Set ``max_skip`` of the training dataset(s) from a schedule.

    Two ways to write the schedule (positions in iterations, or in
    fractions of ``max_iters`` with ``by_fraction=True``):

    * steps: ``milestones=[m1, ..., mk]`` and ``max_skips=[v0, ..., vk]``:
      ``v0`` before ``m1``, ``vi`` from ``mi`` on;
    * piecewise linear: ``schedule=[(p0, v0), (p1, v1), ...]`` with
      increasing positions, rounded to the nearest integer; ``v0`` before
      ``p0`` and the last value after the last position.

    Example (the technical reports' 5 -> 25 -> 5)::

        custom_hooks = [dict(type='MaxSkipScheduleHook', by_fraction=True,
                             schedule=[(0, 5), (0.5, 25), (0.9, 25),
                                       (1.0, 5)])]

    Before every training iteration the value for ``runner.iter`` is written
    to every dataset reachable from the training dataloader's dataset
    (through ConcatDataset, RepeatDataset, RatioConcatDataset, ... wrappers)
    that has a ``max_skip`` attribute. ``DAVISDataset`` and its subclasses
    keep ``max_skip`` in shared memory, so the DataLoader workers see the
    change too, ``persistent_workers`` or not; batches the workers had
    already prepared (``prefetch_factor`` per worker) still use the old
    value. The workers start before the first hook call, so the dataset's
    own ``max_skip`` should be the schedule's first value (a warning says
    when it is not). A dataset whose ``max_skip`` is a plain attribute gets
    a warning when the loader has workers, since they would not see the
    change. The value is also logged as ``train/max_skip``.

    Args:
        milestones (Sequence[float], optional): Step positions.
        max_skips (Sequence[int], optional): ``len(milestones) + 1`` values.
        schedule (Sequence[tuple[float, int]], optional): Linear pieces.
        by_fraction (bool): Positions are fractions of ``max_iters``
            (0..1). Defaults to False (iterations).
    """

    priority = 'NORMAL'

    def __init__(self,
                 milestones: Optional[Sequence[float]] = None,
                 max_skips: Optional[Sequence[int]] = None,
                 schedule: Optional[Sequence[Tuple[float, int]]] = None,
                 by_fraction: bool = False):
        if (schedule is None) == (max_skips is None):
            raise ValueError('give either schedule=[(position, max_skip), '
                             '...] or milestones=[...] with max_skips=[...]')
        if schedule is not None:
            if milestones is not None:
                raise ValueError('milestones go with max_skips, not with '
                                 'schedule')
            if not schedule:
                raise ValueError('schedule is empty')
            positions = [float(p) for p, _ in schedule]
            values = [v for _, v in schedule]
            if any(b < a for a, b in zip(positions, positions[1:])):
                raise ValueError(f'schedule positions must not decrease, got '
                                 f'{positions}')
        else:
            milestones = list(milestones or [])
            if len(max_skips) != len(milestones) + 1:
                raise ValueError(
                    f'{len(milestones)} milestones need '
                    f'{len(milestones) + 1} max_skips, got {len(max_skips)}')
            positions = [float(m) for m in milestones]
            values = list(max_skips)
            if any(b <= a for a, b in zip(positions, positions[1:])):
                raise ValueError(f'milestones must increase, got {positions}')
        for value in values:
            if int(value) != value or value < 1:
                raise ValueError(f'max_skip values must be integers >= 1, '
                                 f'got {values}')
        if by_fraction:
            if any(not 0 <= p <= 1 for p in positions):
                raise ValueError('with by_fraction=True positions are '
                                 f'fractions of max_iters in [0, 1], got '
                                 f'{positions}')
        elif any(p != int(p) for p in positions):
            raise ValueError(f'positions {positions} are not whole '
                             'iterations; set by_fraction=True for fractions '
                             'of max_iters')
        self.linear = schedule is not None
        self.positions = positions
        self.values = [int(v) for v in values]
        self.by_fraction = by_fraction
        self._last: Optional[int] = None
        self._warned = False

    def value_at(self, iteration: int, max_iters: Optional[int] = None) -> int:
        """``max_skip`` at ``iteration`` (0-based)."""
        if self.by_fraction:
            if not max_iters:
                raise ValueError('a schedule in fractions needs max_iters')
            positions = [p * max_iters for p in self.positions]
        else:
            positions = self.positions
        if not self.linear:
            return self.values[bisect.bisect_right(positions, iteration)]
        if iteration <= positions[0]:
            return self.values[0]
        if iteration >= positions[-1]:
            return self.values[-1]
        right = bisect.bisect_right(positions, iteration)
        p0, p1 = positions[right - 1], positions[right]
        v0, v1 = self.values[right - 1], self.values[right]
        t = (iteration - p0) / (p1 - p0)
        return int(round(v0 + t * (v1 - v0)))

    # ------------------------------------------------------------------
    def _apply(self, runner) -> None:
        value = self.value_at(runner.iter, getattr(runner, 'max_iters', None))
        loader = runner.train_dataloader
        datasets = find_datasets_with(getattr(loader, 'dataset', None),
                                      'max_skip')
        if not datasets and not self._warned:
            runner.logger.warning(
                'MaxSkipScheduleHook: no training dataset has a max_skip '
                'attribute; the schedule has no effect')
            self._warned = True
        if getattr(loader, 'num_workers', 0) > 0 and not self._warned:
            plain = [type(d).__name__ for d in datasets
                     if not is_shared_attribute(d, 'max_skip')]
            if plain:
                runner.logger.warning(
                    f'MaxSkipScheduleHook: max_skip of {plain} is a plain '
                    'attribute, so DataLoader workers do not see changes; '
                    'declare it with vosbench.datasets.SharedIntAttribute')
                self._warned = True
        if self._last is None:
            differ = sorted({d.max_skip for d in datasets} - {value})
            if differ:
                runner.logger.warning(
                    f'MaxSkipScheduleHook: the dataset max_skip {differ} '
                    f'differs from the schedule\'s {value} at iteration '
                    f'{runner.iter}; batches the DataLoader workers prepared '
                    'before training started use the former. Set max_skip '
                    'in the dataset config to the schedule\'s first value.')
        for dataset in datasets:
            if dataset.max_skip != value:
                dataset.max_skip = value
        if value != self._last:
            if self._last is not None:
                runner.logger.info(f'max_skip {self._last} -> {value} at '
                                   f'iteration {runner.iter}')
            self._last = value
        hub = getattr(runner, 'message_hub', None)
        if hub is not None:
            hub.update_scalar('train/max_skip', value)

    def before_train(self, runner) -> None:
        self._apply(runner)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._apply(runner)
