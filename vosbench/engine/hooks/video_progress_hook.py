"""Progress of validation and testing, one line per video."""
import time
from typing import Optional, Sequence

from mmengine.hooks import Hook

from vosbench.registry import HOOKS


@HOOKS.register_module()
class VideoProgressHook(Hook):
    """Log each segmented video as it finishes: its name, frames, time,
    frames per second and the estimated time left.

    mmengine's ``LoggerHook`` logs every ``interval`` iterations, and a
    validation or test iteration is a whole video (minutes on a CPU), so
    without this a test run can stay silent for an hour. A video that
    failed (an output with ``failure``, from ``VOSTestLoop``) is logged as an
    error with the frames kept and the reason.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self):
        self._start: Optional[float] = None
        self._last: Optional[float] = None

    def _begin(self) -> None:
        self._start = self._last = time.perf_counter()

    def before_val_epoch(self, runner) -> None:
        self._begin()

    def before_test_epoch(self, runner) -> None:
        self._begin()

    def _report(self, runner, mode: str, batch_idx: int, dataloader,
                outputs: Optional[Sequence[dict]]) -> None:
        now = time.perf_counter()
        if self._start is None:
            self._start = self._last = now
        seconds, self._last = now - self._last, now
        total = len(dataloader)
        left = (now - self._start) / (batch_idx + 1) * (total - batch_idx - 1)
        for result in outputs or []:
            frames = len(result.get('frame_names', ()))
            failure = result.get('failure')
            if failure is not None:
                done = len(result.get('pred_frame_names', ()))
                runner.logger.error(
                    f'{mode} video {batch_idx + 1}/{total} '
                    f'{result.get("seq_name")}: FAILED after {seconds:.1f} s '
                    f'({done} of {frames} frames kept): {failure}; about '
                    f'{left / 60:.1f} min left')
                continue
            fps = frames / seconds if seconds > 0 else float('inf')
            runner.logger.info(
                f'{mode} video {batch_idx + 1}/{total} '
                f'{result.get("seq_name")}: {frames} frames in '
                f'{seconds:.1f} s ({fps:.2f} frames/s), about '
                f'{left / 60:.1f} min left')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        self._report(runner, 'val', batch_idx, runner.val_loop.dataloader,
                     outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._report(runner, 'test', batch_idx, runner.test_loop.dataloader,
                     outputs)
