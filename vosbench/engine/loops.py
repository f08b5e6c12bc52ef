"""The test loop of ``tools/test.py``: one bad video does not lose the run.

mmengine's :class:`~mmengine.runner.TestLoop` stops at the first exception:
a corrupt mask in video 2 of 8 throws away what was computed for video 2,
never runs videos 3-8 and writes no metric for video 1. :class:`VOSTestLoop`
(``test_cfg = dict(type='VOSTestLoop')``, which ``tools/test.py`` sets)
catches a video's failure instead:

- A video that fails while it is segmented (an unreadable frame, a corrupt
  given mask: :class:`~vosbench.inference.video_segmenter.VideoInferenceError`)
  keeps what was segmented of it: the hooks get it as an output (with the
  frames done and ``failure``, the reason), so ``--out`` writes those masks.
- A video whose scoring fails (a corrupt ground-truth mask) keeps all its
  predictions (the hooks write them); the metric leaves it out.
- Either way the video is reported with its file and reason, recorded in
  every metric that can (``add_failed_video``: ``DAVISMetric`` and
  ``YouTubeVOSMetric`` mark it ``FAILED`` in their tables and files), and
  the other videos go on. The metrics are computed for the videos that
  completed; :attr:`VOSTestLoop.failures` lists the failed ones (gathered
  from every rank) and the log ends with a summary of them.
  ``tools/test.py`` exits with status 1 when there is any.

``fail_fast=True`` (``tools/test.py --fail-fast``) is mmengine's behaviour:
the first failure stops the run with its exception.
"""
import logging
from typing import Any, List, Optional, Sequence

import torch
from mmengine.dist import all_gather_object, get_world_size
from mmengine.logging import print_log
from mmengine.runner import TestLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _parse_losses, _update_losses

from vosbench.inference.video_segmenter import VideoInferenceError
from vosbench.registry import LOOPS

__all__ = ['VOSTestLoop', 'format_failures']


def _reason(exc: BaseException) -> str:
    return f'{type(exc).__name__}: {exc}'


def format_failures(failures: Sequence[dict], total: Optional[int] = None
                    ) -> str:
    """A summary of failed videos (dicts with ``video``, ``stage`` and
    ``reason``), one line each."""
    of = f' of {total}' if total is not None else ''
    lines = [f'{len(failures)}{of} video(s) FAILED:']
    for failure in failures:
        frames = failure.get('frames_segmented')
        done = f', {frames} frames segmented and kept' if frames else ''
        lines.append(f'  - {failure["video"]} ({failure["stage"]}{done}): '
                     f'{failure["reason"]}')
    return '\n'.join(lines)


@LOOPS.register_module()
class VOSTestLoop(TestLoop):
    """mmengine's test loop, going on past a failed video (see the module
    docstring).

    Args:
        runner, dataloader, evaluator, fp16: As
            :class:`~mmengine.runner.TestLoop`.
        fail_fast (bool): Stop at the first failure, as mmengine's loop
            does. Defaults to False.

    Attributes:
        failures (list[dict]): After :meth:`run`, the failed videos of all
            ranks: ``video`` (name), ``stage`` ('loading', 'segmenting' or
            'scoring'), ``reason`` (the error, naming the file) and
            ``frames_segmented`` (frames whose predictions were kept, or
            None).
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 fail_fast: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        if not isinstance(fail_fast, bool):
            raise TypeError(f'test_cfg.fail_fast must be True or False, got '
                            f'{fail_fast!r}')
        self.fail_fast = fail_fast
        self.failures: List[dict] = []

    # ------------------------------------------------------------------
    def run(self) -> dict:
        """Test every video; a failed one is recorded and the others go
        on (unless ``fail_fast``)."""
        self.failures = []
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        iterator = iter(self.dataloader)
        for idx in range(len(self.dataloader)):
            try:
                data_batch = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # a sample that cannot be loaded
                if self.fail_fast:
                    raise
                for name in self._batch_names(idx):
                    self._fail(name, 'loading', _reason(exc))
                continue
            self.run_iter(idx, data_batch)
        self.failures = self._gathered_failures()
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.test_loss:
            metrics.update(_parse_losses(self.test_loss, 'test'))
        if self.failures:
            print_log(format_failures(self.failures,
                                      len(self.dataloader.dataset)),
                      logger='current', level=logging.ERROR)
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    @torch.no_grad()
    def run_iter(self, idx, data_batch: Any) -> None:
        """Segment, score and hand to the hooks one batch of videos; a
        video that fails is recorded with what was done of it."""
        self.runner.call_hook(
            'before_test_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self._predict(data_batch)
        segmented = [o for o in outputs if not _failed(o)]
        if segmented:
            segmented, self.test_loss = _update_losses(segmented,
                                                       self.test_loss)
        metrics = list(getattr(self.evaluator, 'metrics', []))
        for output in segmented:
            kept = [len(getattr(m, 'results', ())) for m in metrics]
            try:
                self.evaluator.process(data_samples=[output],
                                       data_batch=data_batch)
            except Exception as exc:
                if self.fail_fast:
                    raise
                # a metric that scored it before another one failed forgets
                # it: the video is one failure for every metric
                for metric, count in zip(metrics, kept):
                    if isinstance(getattr(metric, 'results', None), list):
                        del metric.results[count:]
                reason = _reason(exc)
                if isinstance(output, dict):
                    output['failure'] = f'scoring: {reason}'
                self._fail(_name(output), 'scoring', reason,
                           len(output.get('pred_frame_names', ()))
                           if isinstance(output, dict) else None)
        self.runner.call_hook(
            'after_test_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)

    # ------------------------------------------------------------------
    def _predict(self, data_batch: Any) -> list:
        """The outputs of a batch, in sample order; a video that failed
        while it was segmented is there with what was done of it (and
        ``failure``), and recorded."""
        try:
            with autocast(enabled=self.fp16):
                return list(self.runner.model.test_step(data_batch))
        except VideoInferenceError as exc:
            if self.fail_fast:
                raise
            self._fail(exc.seq_name, 'segmenting', str(exc),
                       len(exc.partial.get('pred_frame_names', ())))
            outputs = list(exc.completed) + [exc.partial]
            if exc.remaining:
                outputs += self._predict(_sub_batch(data_batch,
                                                    exc.remaining))
            return outputs
        except Exception as exc:  # the batch as a whole
            if self.fail_fast:
                raise
            for name in _batch_sample_names(data_batch):
                self._fail(name, 'segmenting', _reason(exc))
            return []

    def _fail(self, name: str, stage: str, reason: str,
              frames_segmented: Optional[int] = None) -> None:
        failure = dict(video=str(name), stage=stage, reason=reason,
                       frames_segmented=frames_segmented)
        self.failures.append(failure)
        print_log(f'test video {name} FAILED ({stage}): {reason}; the other '
                  'videos go on', logger='current', level=logging.ERROR)
        for metric in getattr(self.evaluator, 'metrics', []):
            if hasattr(metric, 'add_failed_video'):
                metric.add_failed_video(str(name), f'{stage}: {reason}')

    def _gathered_failures(self) -> List[dict]:
        if get_world_size() == 1:
            return list(self.failures)
        gathered = all_gather_object(list(self.failures))
        return [f for part in gathered for f in part]

    def _batch_names(self, idx: int) -> List[str]:
        """Names of the videos of batch ``idx`` (for a batch that could not
        be loaded), from the sampler's order."""
        loader = self.dataloader
        try:
            batch_size = loader.batch_size or 1
            indices = list(iter(loader.sampler))[idx * batch_size:
                                                 (idx + 1) * batch_size]
            dataset = loader.dataset
            return [str(dataset.get_data_info(i).get('seq_name', f'#{i}'))
                    for i in indices]
        except Exception:  # noqa: BLE001 - only a name for the report
            return [f'batch {idx}']


def _failed(output: Any) -> bool:
    return isinstance(output, dict) and output.get('failure') is not None


def _name(sample: Any) -> str:
    if isinstance(sample, dict):
        return str(sample.get('seq_name'))
    return str(getattr(sample, 'seq_name', None))


def _batch_sample_names(data_batch: Any) -> List[str]:
    samples = data_batch.get('data_samples') if isinstance(
        data_batch, dict) else None
    if isinstance(samples, (list, tuple)) and samples:
        return [_name(s) for s in samples]
    return ['(batch)']


def _sub_batch(data_batch: Any, samples: List[dict]) -> Any:
    """The batch of the last ``len(samples)`` samples of ``data_batch`` (a
    ``vos_collate`` batch: ``inputs`` and ``data_samples`` lists)."""
    count = len(samples)
    batch = dict(data_batch)
    batch['data_samples'] = list(data_batch['data_samples'])[-count:]
    inputs = data_batch.get('inputs')
    if isinstance(inputs, (list, tuple)):
        batch['inputs'] = list(inputs)[-count:]
    return batch
