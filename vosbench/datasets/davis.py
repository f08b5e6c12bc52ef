"""DAVIS 2017 semi-supervised video object segmentation dataset."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from vosbench.registry import DATASETS, TRANSFORMS
from vosbench.utils.frame_lists import (IMAGE_EXTENSIONS, MASK_EXTENSION,
                                        FrameListError, SplitFileError,
                                        folder_frames, read_split_sequences,
                                        sequence_frames, split_file_candidates)
from .frame_sources import video_size_problems
from .shared_state import SharedIntAttribute

__all__ = ['DAVISDataset', 'DatasetLayoutError', 'IMAGE_EXTENSIONS',
           'raise_layout_problems']

#: How many layout problems one error lists.
MAX_LISTED_PROBLEMS = 10


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder does not have the expected layout."""


def raise_layout_problems(problems: Sequence[str], data_root: str) -> None:
    """Raise one :class:`DatasetLayoutError` for all ``problems`` (the
    first :data:`MAX_LISTED_PROBLEMS` listed); nothing if there are none."""
    if not problems:
        return
    if len(problems) == 1:
        raise DatasetLayoutError(problems[0])
    listed = '\n'.join(f'  - {p}' for p in problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    raise DatasetLayoutError(
        f'{len(problems)} problems in the dataset at {data_root}:\n{listed}'
        + (f'\n  ... and {more} more' if more > 0 else ''))


@DATASETS.register_module()
class DAVISDataset(BaseDataset):
    """DAVIS 2017 (and any dataset in its layout, e.g. the synthetic one).

    Layout under ``data_root``::

        JPEGImages/<resolution>/<seq>/<frame>.jpg
        Annotations/<resolution>/<seq>/<frame>.png   (palette PNGs)
        ImageSets/<year>/<split>.txt                 (one sequence a line)

    In training mode a sample is a clip of ``clip_length`` frames in
    temporal order, each at most ``max_skip`` frames after the previous one
    (reversed with probability ``reverse_prob``); the pipeline loads and
    augments it. In test mode a sample is a whole video, described by its
    file paths (the model streams the frames).

    Args:
        data_root (str): Dataset folder.
        split (str): Name of the ImageSets file. Defaults to 'train'.
        year (str): ImageSets sub-folder. Defaults to '2017'.
        resolution (str): Image sub-folder. Defaults to '480p'.
        sequences (Sequence[str], optional): Use these sequences instead of
            the split file.
        exclude_sequences (Sequence[str], optional): Leave these sequences
            of the split out (held-out videos for one's own validation);
            each must be in the split.
        clip_length (int): Frames per training clip. Defaults to 3.
        max_skip (int): Largest gap between consecutive clip frames.
            Defaults to 5. Kept in shared memory, so that a change made
            during training (``MaxSkipScheduleHook``) reaches the DataLoader
            workers.
        reverse_prob (float): Probability of reversing a training clip.
            Defaults to 0.
        samples_per_video (int): Training samples drawn from each video per
            pass over the dataset. Defaults to 1.
        pipeline (list): Transforms.
        test_mode (bool): Whole videos instead of clips.
        check_sizes (bool, optional): Check, from the file headers, that
            every frame and ground-truth mask of a video has the size of its
            first mask, when the dataset is built (a few milliseconds per
            hundred frames). Defaults to None: in test mode only.
    """

    METAINFO = dict(dataset_name='DAVIS')
    #: How the mask files hold the objects (see
    #: :data:`vosbench.utils.mask_io.MASK_FORMATS`), recorded in every
    #: sample for the loading transforms.
    MASK_FORMAT = 'labels'
    max_skip = SharedIntAttribute(min_value=1)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 year: str = '2017',
                 resolution: str = '480p',
                 sequences: Optional[Sequence[str]] = None,
                 exclude_sequences: Optional[Sequence[str]] = None,
                 clip_length: int = 3,
                 max_skip: int = 5,
                 reverse_prob: float = 0.0,
                 samples_per_video: int = 1,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 check_sizes: Optional[bool] = None,
                 **kwargs):
        self.split = split
        self.check_sizes = check_sizes
        self.year = str(year)
        self.resolution = resolution
        self.sequences = list(sequences) if sequences is not None else None
        self.exclude_sequences = list(exclude_sequences or ())
        if clip_length < 1:
            raise ValueError(f'clip_length must be >= 1, got {clip_length}')
        self.clip_length = clip_length
        self.max_skip = max_skip
        self.reverse_prob = reverse_prob
        self.samples_per_video = samples_per_video
        # built from vosbench's registry, so that a dataset made outside a
        # runner (no default scope) finds vosbench's transforms too
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                    for t in pipeline]
        super().__init__(
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    # ------------------------------------------------------------------
    def _sequence_names(self) -> List[str]:
        names = self.sequences if self.sequences is not None else \
            self._split_sequences()
        unknown = [n for n in self.exclude_sequences if n not in names]
        if unknown:
            raise DatasetLayoutError(
                f'exclude_sequences names {unknown}, which are not in the '
                f'{"sequences" if self.sequences is not None else "split"} '
                f'of the dataset at {self.data_root} (a typo would leave a '
                'held-out video in training)')
        names = [n for n in names if n not in self.exclude_sequences]
        if not names:
            raise DatasetLayoutError(
                f'no sequence left in the dataset at {self.data_root} once '
                f'exclude_sequences {self.exclude_sequences} are left out')
        return names

    def _split_sequences(self) -> List[str]:
        """The split file's sequences (the first of
        :func:`~vosbench.utils.frame_lists.split_file_candidates` that
        exists; a DAVIS 2016 frame list has each of its paths checked)."""
        candidates = split_file_candidates(self.data_root, self.split,
                                           self.year, self.resolution)
        for split_file in candidates:
            if osp.isfile(split_file):
                try:
                    return read_split_sequences(split_file, self.data_root)
                except SplitFileError as exc:
                    raise DatasetLayoutError(str(exc)) from None
        raise DatasetLayoutError(
            f'split file not found: {" or ".join(candidates)} (check '
            'data_root, split and resolution in the dataset config)')

    def load_data_list(self) -> List[dict]:
        """One entry per video, with sorted frame and mask paths.

        The frames of a sequence follow the frame-list rules of
        :func:`vosbench.utils.frame_lists.sequence_frames` (those of the
        evaluator): a ground-truth file without its image is an error, the
        first frame needs ground truth, and in training every frame does.
        In test mode (``check_sizes``) the sizes of every frame and
        ground-truth mask are read from the file headers and must be those
        of the first mask. Every problem of every sequence is reported in
        one error, before any video runs.
        """
        image_root = osp.join(self.data_root, 'JPEGImages', self.resolution)
        mask_root = osp.join(self.data_root, 'Annotations', self.resolution)
        data_list, problems = [], []
        for seq in self._sequence_names():
            try:
                data_list.append(self._load_sequence(seq, image_root,
                                                     mask_root))
            except (DatasetLayoutError, FrameListError) as exc:
                problems.append(str(exc))
        if self._check_sizes():
            for info in data_list:
                problems += video_size_problems(info)
        raise_layout_problems(problems, self.data_root)
        return data_list

    def _check_sizes(self) -> bool:
        return self.test_mode if self.check_sizes is None else \
            bool(self.check_sizes)

    def _load_sequence(self, seq: str, image_root: str,
                       mask_root: str) -> dict:
        image_dir = osp.join(image_root, seq)
        mask_dir = osp.join(mask_root, seq)
        if not osp.isdir(image_dir):
            raise DatasetLayoutError(
                f'frames of sequence {seq!r} not found: {image_dir}')
        images = folder_frames(image_dir, IMAGE_EXTENSIONS, seq)
        if not images:
            raise DatasetLayoutError(f'no frames in {image_dir}')
        masks = folder_frames(mask_dir, (MASK_EXTENSION,), seq) \
            if osp.isdir(mask_dir) else {}
        frames = sequence_frames(
            seq, list(images), list(masks),
            require='first' if self.test_mode else 'all',
            image_dir=image_dir, mask_dir=mask_dir,
            image_files=list(images.values()))
        return dict(
            seq_name=seq,
            mask_format=self.MASK_FORMAT,
            frame_names=frames.names,
            frame_paths=[osp.join(image_dir, f) for f in frames.image_files],
            mask_paths=[
                osp.join(mask_dir, name + MASK_EXTENSION) if annotated
                else None
                for name, annotated in zip(frames.names, frames.annotated)
            ])

    def __len__(self) -> int:
        length = super().__len__()
        return length if self.test_mode else length * self.samples_per_video

    def get_data_info(self, idx: int) -> dict:
        if not self.test_mode:
            idx = idx % super().__len__()
        return super().get_data_info(idx)

    def sample_clip_indices(self, num_frames: int) -> List[int]:
        """Frame indices of a random training clip, in temporal order
        (reversed with probability ``reverse_prob``)."""
        max_skip = self.max_skip  # read once: a hook may change it
        span = min((self.clip_length - 1) * max_skip, num_frames - 1)
        start = np.random.randint(0, num_frames - span) if \
            num_frames > span else 0
        indices = [start]
        for later_steps in range(self.clip_length - 2, -1, -1):
            last = indices[-1]
            # leave a frame for each later step, so that a video with at
            # least clip_length frames gives distinct frames
            room = num_frames - 1 - last - later_steps
            step = np.random.randint(1, min(max_skip, room) + 1) \
                if room > 0 else 0
            indices.append(last + step)
        if np.random.rand() < self.reverse_prob:
            indices = indices[::-1]
        return indices

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        if not self.test_mode:
            info['clip_indices'] = self.sample_clip_indices(
                len(info['frame_paths']))
        return self.pipeline(info)
