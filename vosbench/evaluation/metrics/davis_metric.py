"""DAVIS semi-supervised evaluation as an mmengine metric."""
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from vosbench.registry import METRICS
from vosbench.utils.frame_lists import (IMAGE_EXTENSIONS, MASK_EXTENSION,
                                        FrameListError, folder_frames,
                                        sequence_frames)
from ..davis_results import MaskFileSequence
from ..functional.davis_measures import (SequenceEvaluationError,
                                         evaluate_sequence)
from ..functional.davis_summary import (format_tables, global_statistics,
                                        nan_global_statistics,
                                        object_statistics,
                                        remove_result_files,
                                        sort_sequence_results,
                                        unscored_objects,
                                        write_davis_results)
from .samples import labels_to_numpy, sample_field


def _field(sample: Any, key: str, *default: Any) -> Any:
    return sample_field(sample, key, 'DAVISMetric', *default)


@METRICS.register_module()
class DAVISMetric(BaseMetric):
    """J (region), F (boundary) and J&F of DAVIS, semi-supervised.

    Scores exactly like the official DAVIS 2017 toolkit (see
    :func:`vosbench.evaluation.functional.evaluate_sequence` for the rules),
    with the same code as ``tools/eval_results.py``, but raises clear errors
    instead of exiting, handles sparse ground truth, DAVIS 2016 masks and
    sequences of any length, and keeps memory small: ground-truth masks are
    read one at a time and only per-object, per-frame J and F are kept
    between ``process`` and ``compute_metrics``.

    Each data sample is a dict with:

    - ``seq_name`` (str)
    - ``frame_names`` (list[str]): ``T`` names, e.g. ``'00000'``.
    - ``pred_labels`` (np.ndarray): ``(T, H, W)`` uint8 predicted labels
      (frame 0 is the given annotation).
    - ``gt_mask_paths`` (list[str | None]): ``T`` ground-truth PNG paths,
      None where a frame has no ground truth.

    The frames of a whole video from a dataset (a sample whose
    ``frame_paths``, as ``PackVideoInputs`` packs them, are all the images
    of their folder) are checked against its ground-truth folder by the
    frame-list rules that the datasets and ``tools/eval_results.py`` use
    (:func:`vosbench.utils.frame_lists.sequence_frames`): a ground-truth
    file of the folder that is not among the frames (a frame the evaluator
    would score but the video lacks) is an error naming the sequence and
    frame.

    A video that could not be segmented or scored is recorded with
    :meth:`add_failed_video` (``VOSTestLoop`` does): it is left out of the
    numbers and marked ``FAILED`` in the tables and files.

    Args:
        output_dir (str, optional): If set, ``global_results-<split>.csv``,
            ``per-sequence_results-<split>.csv`` (the official layout) and
            ``results-<split>.json`` (full precision, per frame) are written
            there.
        split (str): Split name used in the file names. Defaults to 'val'.
        year (str): '2017' (multi-object) or '2016' (single object: every
            non-zero ground-truth and predicted value is the object).
        sparse (bool): Sparse / YouTube-VOS objects: objects may first
            appear after the first annotated frame and are scored from the
            next annotated frame on. Defaults to False (DAVIS: objects are
            those of the first annotated frame).
        collect_device (str): Device for gathering results across ranks.
        prefix (str, optional): Prefix of the metric names; defaults to
            ``'davis'``.
    """
    default_prefix: Optional[str] = 'davis'

    def __init__(self,
                 output_dir: Optional[str] = None,
                 split: str = 'val',
                 year: str = '2017',
                 sparse: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if str(year) not in ('2016', '2017'):
            raise ValueError(f'DAVISMetric: year must be 2016 or 2017, got '
                             f'{year!r}')
        self.output_dir = output_dir
        self.split = split
        self.year = str(year)
        self.sparse = sparse
        self._stale_removed = False

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score each sequence and keep its per-object, per-frame J and F.

        The first call of a run deletes the result files an earlier run left
        in ``output_dir``, so that a run that fails leaves nothing that
        looks current.
        """
        if (self.output_dir is not None and not self._stale_removed
                and is_main_process()):
            remove_result_files(self.output_dir, self.split)
            self._stale_removed = True
        for sample in data_samples:
            seq_name = str(_field(sample, 'seq_name'))
            frame_names = [str(name) for name in _field(sample, 'frame_names')]
            pred_labels = labels_to_numpy(_field(sample, 'pred_labels'))
            gt_paths = list(_field(sample, 'gt_mask_paths'))
            if pred_labels.ndim != 3:
                raise ValueError(
                    f'sequence {seq_name!r}: pred_labels must be (T, H, W), '
                    f'got shape {pred_labels.shape}')
            frame_paths = _field(sample, 'frame_paths', None)
            if frame_paths is not None:  # a video of a dataset
                self._check_frames(seq_name, frame_names, gt_paths,
                                   list(frame_paths))
            binary = self.year == '2016'
            gt_labels = MaskFileSequence(gt_paths, seq_name, frame_names,
                                         'ground truth', binary)
            res = evaluate_sequence(gt_labels, pred_labels, seq_name,
                                    frame_names, sparse=self.sparse,
                                    binary=binary)
            self.results.append(res)

    def _check_frames(self, seq_name: str, frame_names: List[str],
                      gt_paths: List[Optional[str]],
                      frame_paths: List[str]) -> None:
        """A whole video's frames against its ground-truth folder, by the
        frame-list rules. A sample that holds some of the frames of its
        image folder on purpose (a clip of a video) is not checked."""
        present = [p for p in gt_paths if p is not None]
        if len(gt_paths) != len(frame_names) or not present or \
                len(frame_paths) != len(frame_names):
            return  # evaluate_sequence names these
        gt_dir = osp.dirname(present[0])
        image_dir = osp.dirname(frame_paths[0])
        if any(osp.dirname(p) != gt_dir for p in present) or \
                any(osp.dirname(p) != image_dir for p in frame_paths) or \
                not osp.isdir(gt_dir) or not osp.isdir(image_dir):
            return  # not one folder each: nothing to compare
        try:
            images = folder_frames(image_dir, IMAGE_EXTENSIONS, seq_name)
            if sorted(images) != sorted(frame_names):
                return  # some frames of the video only
            sequence_frames(
                seq_name, frame_names,
                list(folder_frames(gt_dir, (MASK_EXTENSION,), seq_name)),
                require='any' if self.sparse else 'first',
                image_dir=image_dir, mask_dir=gt_dir)
        except FrameListError as exc:
            raise SequenceEvaluationError(str(exc)) from None

    def add_failed_video(self, seq_name: str, reason: str) -> None:
        """Record a video that could not be segmented or scored: it is left
        out of the numbers and marked ``FAILED``. Kept among the results,
        so that results of distributed runs still gather in order."""
        self.results.append(dict(seq_name=str(seq_name), failed=str(reason)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Global J&F, J and F Mean / Recall / Decay over all objects (of
        the videos that did not fail)."""
        results = sort_sequence_results(results)
        failed = {r['seq_name']: r['failed'] for r in results
                  if r.get('failed') is not None}
        results = [r for r in results if r.get('failed') is None]
        object_stats = object_statistics(results)
        if results or not failed:
            global_stats = global_statistics(object_stats)
        else:
            global_stats = nan_global_statistics()
        print_log(format_tables(global_stats, object_stats, failed),
                  logger='current')
        if failed:
            print_log(f'{len(failed)} video(s) FAILED and are left out of '
                      'the numbers above: '
                      + '; '.join(f'{k}: {v}' for k, v in failed.items()),
                      logger='current', level=logging.ERROR)
        self._stale_removed = False  # the next run starts afresh
        unscored = unscored_objects(object_stats)
        if unscored:
            print_log(f'{len(unscored)} object(s) scored in no frame, left '
                      f'out of the global numbers: {", ".join(unscored)}',
                      logger='current', level=logging.WARNING)
        if self.output_dir is not None:
            paths = write_davis_results(
                self.output_dir, self.split, results, object_stats,
                global_stats,
                settings=dict(year=self.year, sparse=self.sparse,
                              split=self.split),
                failed=failed)
            print_log(f'DAVIS results written to {paths["global_csv"]}, '
                      f'{paths["per_sequence_csv"]} and {paths["json"]}',
                      logger='current')
        return global_stats
