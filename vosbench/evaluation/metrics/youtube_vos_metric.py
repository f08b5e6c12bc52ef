"""YouTube-VOS semi-supervised evaluation (J and F, seen and unseen)."""
import json
import math
import os
import os.path as osp
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from terminaltables import AsciiTable

from vosbench.registry import METRICS
from vosbench.utils.mask_io import read_mask
from ..functional.davis_measures import f_measure, jaccard
from ..functional.davis_summary import sort_sequence_results
from .samples import labels_to_numpy, sample_field

#: Keys of the scores, in the order they are reported.
YOUTUBE_VOS_MEASURES = ('Overall', 'J_seen', 'F_seen', 'J_unseen',
                        'F_unseen')

CategoryList = Union[None, str, Iterable[str]]


def load_categories(source: CategoryList) -> Optional[frozenset]:
    """A set of category names from a list or a file.

    Args:
        source: None; a list of names; or the path of a text file (one name
            a line, ``#`` comments) or of a JSON file holding a list of
            names or a YouTube-VOS meta.json (its objects' categories, e.g.
            ``train/meta.json`` for the seen categories).

    Returns:
        frozenset | None: The names, or None for None.
    """
    if source is None:
        return None
    if isinstance(source, str):
        if not osp.isfile(source):
            raise FileNotFoundError(f'category file not found: {source}')
        with open(source, encoding='utf-8') as f:
            text = f.read()
        if source.lower().endswith('.json'):
            data = json.loads(text)
            if isinstance(data, dict) and 'videos' in data:
                return frozenset(
                    obj['category'] for video in data['videos'].values()
                    for obj in video.get('objects', {}).values()
                    if obj.get('category') is not None)
            if isinstance(data, list):
                return frozenset(str(name) for name in data)
            raise ValueError(f'{source}: expected a list of categories or a '
                             'YouTube-VOS meta.json')
        return frozenset(
            line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith('#'))
    return frozenset(str(name) for name in source)


def score_video_objects(gt_labels: Sequence[np.ndarray],
                        pred_labels: Sequence[np.ndarray],
                        first_positions: Dict[int, int],
                        bound_th: float = 0.008) -> Dict[int, dict]:
    """Per-object mean J and F of one video on sparse frames.

    An object is scored on the frames after the one it first appears in
    (that frame is given); every later frame counts, the last one included.
    Void (255) in the ground truth is background.

    Args:
        gt_labels (Sequence[np.ndarray]): ``(H, W)`` ground-truth labels of
            the scored frames, in temporal order.
        pred_labels (Sequence[np.ndarray]): Predicted labels of the same
            frames.
        first_positions (dict[int, int]): ``{object id: position in the
            frame list of its first appearance}``; a position before 0 means
            before the first listed frame (all frames are scored).
        bound_th (float): Boundary tolerance of F.

    Returns:
        dict[int, dict]: ``{object id: dict(J=mean, F=mean, num_frames=n,
        J_frames=[...], F_frames=[...])}``, for objects with at least one
        scored frame.
    """
    scores = {}
    for obj_id, first in first_positions.items():
        j_values, f_values = [], []
        for t in range(max(first + 1, 0), len(gt_labels)):
            gt = np.asarray(gt_labels[t]) == obj_id
            pred = np.asarray(pred_labels[t]) == obj_id
            if gt.shape != pred.shape:
                raise ValueError(f'object {obj_id}: prediction shape '
                                 f'{pred.shape} differs from the ground '
                                 f'truth {gt.shape}')
            j_values.append(float(jaccard(gt, pred)))
            f_values.append(float(f_measure(gt, pred, bound_th)))
        if j_values:
            scores[obj_id] = dict(
                J=float(np.mean(j_values)),
                F=float(np.mean(f_values)),
                num_frames=len(j_values),
                J_frames=j_values,
                F_frames=f_values)
    return scores


def summarize(objects: Sequence[dict]) -> Dict[str, float]:
    """J and F means over seen and unseen objects and Overall.

    Args:
        objects (Sequence[dict]): Dicts with ``J``, ``F`` and ``group``
            (``'seen'`` or ``'unseen'``).

    Returns:
        dict[str, float]: ``J_seen``, ``F_seen``, ``J_unseen``,
        ``F_unseen`` (each a plain mean over the group's objects, NaN if it
        has none) and ``Overall``, the mean of those of the four that are
        not NaN (NaN if all are).
    """
    out = {}
    for group in ('seen', 'unseen'):
        members = [o for o in objects if o['group'] == group]
        for measure in ('J', 'F'):
            out[f'{measure}_{group}'] = float(
                np.mean(np.array([o[measure] for o in members],
                                 dtype=np.float64))) if members else math.nan
    parts = [out[k] for k in ('J_seen', 'J_unseen', 'F_seen', 'F_unseen')
             if not math.isnan(out[k])]
    out['Overall'] = float(np.mean(parts)) if parts else math.nan
    return {key: out[key] for key in YOUTUBE_VOS_MEASURES}


def _field(sample: Any, key: str, *default: Any) -> Any:
    return sample_field(sample, key, 'YouTubeVOSMetric', *default)


@METRICS.register_module()
class YouTubeVOSMetric(BaseMetric):
    """YouTube-VOS J / F over seen and unseen categories, and Overall.

    Scores only when the ground truth of every output frame from the first
    object's first appearance on is available (a local split with ground
    truth; the official ``valid``/``test`` ground truth is held by the
    challenge server). Otherwise it logs that scoring is skipped and returns
    no scores: the submission zip written by ``tools/test.py --out`` is the
    result.

    Rules (the server's code is not public; this is our reading of the
    published protocol):

    - Frames: the output frames (``pred_frame_names``, e.g. the ``valid``
      frames when inferring on all frames). Each object is scored on the
      frames after its first appearance (the given frame is excluded); the
      last frame is included (unlike DAVIS).
    - Per frame: J and F of DAVIS
      (:func:`~vosbench.evaluation.functional.jaccard`,
      :func:`~vosbench.evaluation.functional.f_measure`); void (255) is
      background.
    - Per object: the mean over its frames. An object with no scored frame
      (first appearing in the last output frame) is left out.
    - ``J_seen`` / ``F_seen``: plain means over the objects of seen
      categories; ``J_unseen`` / ``F_unseen`` likewise.
      ``Overall = mean(J_seen, J_unseen, F_seen, F_unseen)``. A group
      without objects gives NaN for its two numbers and Overall is the mean
      of the others.

    Categories: an object is *seen* if its category is in
    ``seen_categories``, *unseen* if in ``unseen_categories``. With only one
    list given, every other category belongs to the other group; with
    neither, every object is seen. With both, a category in neither raises.

    Each data sample is a dict with ``seq_name``, ``frame_names``,
    ``gt_mask_paths`` (per frame, None where there is no annotation),
    ``pred_labels`` ``(N, H, W)`` for the frames ``pred_frame_names``
    (default: all frames), ``object_first_frames`` ``{id: frame name}`` and
    ``object_categories`` ``{id: category}``.

    Args:
        seen_categories (list[str] | str, optional): Names, or a text/JSON
            file of them, or a YouTube-VOS meta.json (e.g. the training
            split's, whose categories are the seen ones). Files are read
            when scoring.
        unseen_categories (list[str] | str, optional): As above.
        output_dir (str, optional): Write ``youtube_vos_results.json``
            (scores, per-object and per-frame values) there when scoring.
        bound_th (float): Boundary tolerance of F. Defaults to 0.008.
        collect_device (str): Device for gathering results across ranks.
        prefix (str, optional): Defaults to ``'youtube_vos'``.
    """
    default_prefix: Optional[str] = 'youtube_vos'

    def __init__(self,
                 seen_categories: CategoryList = None,
                 unseen_categories: CategoryList = None,
                 output_dir: Optional[str] = None,
                 bound_th: float = 0.008,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        # lists are kept as given; files are read when scoring, so that a
        # config builds without the data
        self.seen_categories = seen_categories if isinstance(
            seen_categories, (str, type(None))) else list(seen_categories)
        self.unseen_categories = unseen_categories if isinstance(
            unseen_categories, (str, type(None))) else list(unseen_categories)
        self.output_dir = output_dir
        self.bound_th = bound_th

    # ------------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score each video's objects if its ground truth is available."""
        for sample in data_samples:
            self.results.append(self._process_video(sample))

    def add_failed_video(self, seq_name: str, reason: str) -> None:
        """Record a video that could not be segmented or scored
        (``VOSTestLoop`` does): it is left out of the scores and listed as
        failed in the log and the JSON. Kept among the results, so that
        results of distributed runs still gather in order."""
        self.results.append(dict(seq_name=str(seq_name), failed=str(reason)))

    def _process_video(self, sample: Any) -> dict:
        seq_name = str(_field(sample, 'seq_name'))
        frame_names = [str(n) for n in _field(sample, 'frame_names')]
        gt_paths = list(_field(sample, 'gt_mask_paths'))
        pred_labels = labels_to_numpy(_field(sample, 'pred_labels'))
        pred_names = [str(n) for n in _field(sample, 'pred_frame_names',
                                             frame_names)]
        if pred_labels.ndim != 3 or len(pred_labels) != len(pred_names):
            raise ValueError(
                f'video {seq_name!r}: pred_labels must be (N, H, W) for the '
                f'{len(pred_names)} output frames, got shape '
                f'{pred_labels.shape}')
        first_frames = {
            int(k): str(v)
            for k, v in dict(_field(sample, 'object_first_frames')).items()
        }
        categories = {
            int(k): v
            for k, v in dict(_field(sample, 'object_categories', {})).items()
        }
        index_of = {name: t for t, name in enumerate(frame_names)}
        for name in pred_names + list(first_frames.values()):
            if name not in index_of:
                raise ValueError(f'video {seq_name!r}: frame {name} is not '
                                 'among its frame_names')
        pred_index = [index_of[n] for n in pred_names]
        # position of each object's first frame within the output frames:
        # the last output frame at or before it
        first_positions = {
            obj_id: int(np.searchsorted(pred_index, index_of[name],
                                        side='right')) - 1
            for obj_id, name in first_frames.items()
        }
        start = min(first_positions.values(), default=len(pred_names))
        needed = range(max(start + 1, 0), len(pred_names))
        missing = [pred_names[p] for p in needed
                   if gt_paths[pred_index[p]] is None]
        if missing:
            return dict(seq_name=seq_name, has_gt=False,
                        missing=missing[:3])
        gt_labels = {p: read_mask(gt_paths[pred_index[p]]) for p in needed}
        # frames up to the first appearance are never scored (None)
        scores = score_video_objects(
            [gt_labels.get(p) for p in range(len(pred_names))], pred_labels,
            first_positions, self.bound_th)
        objects = []
        for obj_id, score in scores.items():
            objects.append(dict(
                object_id=obj_id,
                category=categories.get(obj_id),
                frame_names=pred_names[first_positions[obj_id] + 1:],
                **score))
        return dict(seq_name=seq_name, has_gt=True, objects=objects,
                    num_unscored=len(first_frames) - len(objects))

    # ------------------------------------------------------------------
    def _group_of(self, category: Optional[str], seen: Optional[frozenset],
                  unseen: Optional[frozenset], where: str) -> str:
        if seen is None and unseen is None:
            return 'seen'
        if seen is not None and category in seen:
            return 'seen'
        if unseen is not None and category in unseen:
            return 'unseen'
        if unseen is None:
            return 'unseen'
        if seen is None:
            return 'seen'
        raise ValueError(f'{where}: category {category!r} is neither in the '
                         'seen nor in the unseen categories')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Seen / unseen J and F and Overall, or nothing without ground
        truth."""
        results = sort_sequence_results(results, what='video')
        failed = {r['seq_name']: r['failed'] for r in results
                  if r.get('failed') is not None}
        results = [r for r in results if r.get('failed') is None]
        if failed:
            print_log(f'YouTubeVOSMetric: {len(failed)} video(s) FAILED and '
                      'are left out of the scores: '
                      + '; '.join(f'{k}: {v}' for k, v in failed.items()),
                      logger='current', level=40)
        self._failed = failed
        without_gt = [r for r in results if not r['has_gt']]
        if without_gt:
            example = without_gt[0]
            print_log(
                f'YouTubeVOSMetric: {len(without_gt)} of {len(results)} '
                'videos have no ground truth for their output frames (e.g. '
                f'{example["seq_name"]!r}, frames {example["missing"]}); '
                'scoring is skipped. For the official valid/test splits, '
                'submit the zip written by tools/test.py --out to the '
                'challenge server.', logger='current')
            return {}
        seen = load_categories(self.seen_categories)
        unseen = load_categories(self.unseen_categories)
        if seen is None and unseen is None:
            print_log('YouTubeVOSMetric: no seen/unseen category lists '
                      'given; every object counts as seen', logger='current',
                      level=30)
        objects = []
        for res in results:
            for obj in res['objects']:
                obj = dict(obj, seq_name=res['seq_name'])
                obj['group'] = self._group_of(
                    obj['category'], seen, unseen,
                    f'video {res["seq_name"]!r}, object {obj["object_id"]}')
                objects.append(obj)
        unscored = sum(r['num_unscored'] for r in results)
        if unscored:
            print_log(f'YouTubeVOSMetric: {unscored} objects first appear in '
                      'the last output frame and are not scored',
                      logger='current')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            scores = summarize(objects)
        counts = {g: sum(o['group'] == g for o in objects)
                  for g in ('seen', 'unseen')}
        failed_text = f', {len(failed)} videos FAILED' if failed else ''
        table = AsciiTable(
            [list(YOUTUBE_VOS_MEASURES),
             ['%.3f' % scores[k] for k in YOUTUBE_VOS_MEASURES]],
            title=f'YouTube-VOS ({counts["seen"]} seen, {counts["unseen"]} '
            f'unseen objects{failed_text})')
        print_log('\n' + table.table, logger='current')
        if self.output_dir is not None:
            path = self._write_json(results, objects, scores)
            print_log(f'YouTube-VOS results written to {path}',
                      logger='current')
        return scores

    def _write_json(self, results: List[dict], objects: List[dict],
                    scores: Dict[str, float]) -> str:
        def num(value):
            return None if math.isnan(value) else value

        payload = dict(
            scores={k: num(v) for k, v in scores.items()},
            objects=[
                dict(video=o['seq_name'], object_id=o['object_id'],
                     category=o['category'], group=o['group'], J=o['J'],
                     F=o['F'], frame_names=o['frame_names'],
                     J_frames=o['J_frames'], F_frames=o['F_frames'])
                for o in objects
            ])
        failed = getattr(self, '_failed', None)
        if failed:
            payload['failed_videos'] = {k: failed[k] for k in sorted(failed)}
        os.makedirs(self.output_dir, exist_ok=True)
        path = osp.join(self.output_dir, 'youtube_vos_results.json')
        tmp = f'{path}.tmp{os.getpid()}'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(payload, f, indent=1)
        os.replace(tmp, path)
        return path
