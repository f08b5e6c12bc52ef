"""YouTube-VOS (2018 / 2019) semi-supervised video object segmentation."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from vosbench.registry import DATASETS
from vosbench.utils.frame_lists import (IMAGE_EXTENSIONS, MASK_EXTENSION,
                                        FrameListError, SequenceFrames,
                                        folder_frames, sequence_frames)
from vosbench.utils.mask_io import read_mask
from .davis import DAVISDataset, DatasetLayoutError, raise_layout_problems
from .frame_sources import video_size_problems


@DATASETS.register_module()
class YouTubeVOSDataset(DAVISDataset):
    """YouTube-VOS, in its released layout.

    Layout under ``data_root`` (REFERENCE 3)::

        <split>/JPEGImages/<video>/<frame>.jpg     every 5th frame
        <split>/Annotations/<video>/<frame>.png    palette PNGs
        <split>/meta.json                          {"videos": {video: {
                                                    "objects": {"1": {
                                                    "category": "person",
                                                    "frames": ["00000",
                                                    "00005", ...]}}}}}
        <split>_all_frames/JPEGImages/<video>/...  every frame (optional)

    Training mode (``split='train'``): samples are clips, drawn like
    :class:`DAVISDataset` draws them (``clip_length``, ``max_skip``,
    ``reverse_prob``, ``samples_per_video``) but only from the annotated
    frames, so gaps are counted in annotated frames (one gap of 1 = 5 video
    frames in the released data). Objects may appear mid-video; the clip
    pipeline picks the objects of the clip's first frame.

    Test mode (``split='valid'`` or ``'test'``): a sample is a whole video,
    given by paths (the model streams the frames):

    - ``frame_names`` / ``frame_paths``: the frames to run on: those of
      ``<split>/JPEGImages``, or with ``all_frames=True`` those of
      ``<split>_all_frames/JPEGImages``.
    - ``given_mask_paths``: per frame, the annotation of the frame if some
      object first appears there (from ``<split>/Annotations``, also with
      ``all_frames``), else None.
    - ``mask_paths``: per frame, its annotation in ``<split>/Annotations``
      if there is one (for scoring on a split with ground truth), else None.
    - ``output_frame_names``: the frames of ``<split>/JPEGImages`` (those of
      a submission), all of them among ``frame_names``.
    - ``object_first_frames``: ``{object id: frame name}`` of first
      appearance: the earliest frame of the object's ``frames`` in
      meta.json, or, where meta.json lists none, the first annotation that
      contains the object.
    - ``object_categories``: ``{object id: category}`` from meta.json.

    Args:
        data_root (str): Dataset folder.
        split (str): ``'train'``, ``'valid'``, ``'test'`` or any split
            folder in this layout. Defaults to 'train'.
        all_frames (bool): Take the frames from ``<split>_all_frames``.
            Defaults to False.
        videos (Sequence[str], optional): Use these videos (in this order)
            instead of all videos of meta.json.
        meta_file (str): Name of the meta file in the split folder.
            Defaults to 'meta.json'.
        clip_length, max_skip, reverse_prob, samples_per_video, pipeline,
        test_mode: As :class:`DAVISDataset` (``max_skip`` in annotated
            frames).
    """

    METAINFO = dict(dataset_name='YouTube-VOS')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 all_frames: bool = False,
                 videos: Optional[Sequence[str]] = None,
                 meta_file: str = 'meta.json',
                 **kwargs):
        # clip_length, max_skip, reverse_prob, samples_per_video, pipeline,
        # test_mode, ...: DAVISDataset's, with its defaults
        self.all_frames = all_frames
        self.meta_file = meta_file
        super().__init__(
            data_root=data_root, split=split, sequences=videos, **kwargs)

    # ------------------------------------------------------------------
    @property
    def split_dir(self) -> str:
        return osp.join(self.data_root, self.split)

    @property
    def meta_path(self) -> str:
        return osp.join(self.split_dir, self.meta_file)

    @property
    def image_root(self) -> str:
        """Folder of the frames run on."""
        split = f'{self.split}_all_frames' if self.all_frames else self.split
        return osp.join(self.data_root, split, 'JPEGImages')

    @property
    def mask_root(self) -> str:
        return osp.join(self.split_dir, 'Annotations')

    def load_meta(self) -> Dict[str, dict]:
        """``{video: {"objects": {...}}}`` from the split's meta.json."""
        path = self.meta_path
        if not osp.isfile(path):
            raise DatasetLayoutError(
                f'YouTube-VOS meta file not found: {path} (check data_root '
                'and split in the dataset config)')
        try:
            with open(path) as f:
                meta = json.load(f)
        except ValueError as exc:
            raise DatasetLayoutError(f'cannot parse {path}: {exc}') from exc
        videos = meta.get('videos') if isinstance(meta, dict) else None
        if not isinstance(videos, dict):
            raise DatasetLayoutError(
                f'{path} has no "videos" object (expected {{"videos": '
                '{video: {"objects": {id: {"category", "frames"}}}}})')
        return videos

    @staticmethod
    def _list_frames(folder: str, what: str) -> List[str]:
        """Sorted frame names (without extension) of an image folder."""
        if not osp.isdir(folder):
            raise DatasetLayoutError(f'{what} not found: {folder}')
        files = sorted(f for f in os.listdir(folder)
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise DatasetLayoutError(f'no frames in {folder}')
        return files

    def load_data_list(self) -> List[dict]:
        meta = self.load_meta()
        names = self.sequences if self.sequences is not None else sorted(meta)
        if not names:
            raise DatasetLayoutError(f'{self.meta_path} lists no videos')
        data_list, problems = [], []
        for video in names:
            try:
                if video not in meta:
                    raise DatasetLayoutError(
                        f'video {video!r} is not in {self.meta_path}')
                if self.test_mode:
                    data_list.append(self._load_test_video(video,
                                                           meta[video]))
                else:
                    data_list.append(self._load_train_video(video,
                                                            meta[video]))
            except (DatasetLayoutError, FrameListError) as exc:
                problems.append(str(exc))
        if self._check_sizes():
            for info in data_list:
                problems += video_size_problems(info)
        raise_layout_problems(problems, self.data_root)
        return data_list

    def _video_frames(self, video: str, image_dir: str,
                      mask_dir: str) -> SequenceFrames:
        """The frames of a video by the frame-list rules of
        :func:`~vosbench.utils.frame_lists.sequence_frames` (a mask without
        its image is an error; some frame must have a mask)."""
        if not osp.isdir(image_dir):
            raise DatasetLayoutError(
                f'frames of video {video!r} not found: {image_dir}')
        images = folder_frames(image_dir, IMAGE_EXTENSIONS, video)
        if not images:
            raise DatasetLayoutError(f'no frames in {image_dir}')
        masks = folder_frames(mask_dir, (MASK_EXTENSION,), video) \
            if osp.isdir(mask_dir) else {}
        return sequence_frames(video, list(images), list(masks),
                               require='any', image_dir=image_dir,
                               mask_dir=mask_dir,
                               image_files=list(images.values()))

    def _load_train_video(self, video: str, video_meta: dict) -> dict:
        """The annotated frames of a video."""
        image_dir = osp.join(self.image_root, video)
        mask_dir = osp.join(self.mask_root, video)
        try:
            frames = self._video_frames(video, image_dir, mask_dir)
        except FrameListError as exc:
            if 'no frame has ground truth' in str(exc):
                raise DatasetLayoutError(
                    f'video {video!r}: none of its frames in {image_dir} '
                    f'has an annotation in {mask_dir}') from None
            raise
        frame_names, frame_paths, mask_paths = [], [], []
        for name, file, annotated in zip(frames.names, frames.image_files,
                                         frames.annotated):
            if annotated:
                frame_names.append(name)
                frame_paths.append(osp.join(image_dir, file))
                mask_paths.append(osp.join(mask_dir, name + MASK_EXTENSION))
        return dict(
            seq_name=video,
            frame_names=frame_names,
            frame_paths=frame_paths,
            mask_paths=mask_paths,
            object_categories=_categories(video_meta))

    def _load_test_video(self, video: str, video_meta: dict) -> dict:
        """A whole video, with the masks that give its objects."""
        image_dir = osp.join(self.image_root, video)
        mask_dir = osp.join(self.mask_root, video)
        frames = self._video_frames(video, image_dir, mask_dir)
        files = frames.image_files
        frame_names = frames.names
        index_of = {name: t for t, name in enumerate(frame_names)}
        if self.all_frames:
            sparse_dir = osp.join(self.split_dir, 'JPEGImages', video)
            output_names = [
                osp.splitext(f)[0] for f in self._list_frames(
                    sparse_dir, f'frames of video {video!r}')
            ]
            for name in output_names:
                if name not in index_of:
                    raise DatasetLayoutError(
                        f'video {video!r}: frame {name} of {sparse_dir} is '
                        f'missing from {image_dir}')
        else:
            output_names = list(frame_names)

        first_frames = self._object_first_frames(video, video_meta, mask_dir)
        given = [None] * len(frame_names)
        for obj_id, name in first_frames.items():
            if name not in index_of:
                raise DatasetLayoutError(
                    f'video {video!r}: object {obj_id} first appears in '
                    f'frame {name}, which is not in {image_dir}')
            path = osp.join(mask_dir, name + '.png')
            if not osp.isfile(path):
                raise DatasetLayoutError(
                    f'video {video!r}: the first mask of object {obj_id} '
                    f'is missing: {path}')
            given[index_of[name]] = path
        mask_paths = [
            osp.join(mask_dir, name + MASK_EXTENSION) if annotated else None
            for name, annotated in zip(frame_names, frames.annotated)
        ]
        return dict(
            seq_name=video,
            frame_names=frame_names,
            frame_paths=[osp.join(image_dir, f) for f in files],
            mask_paths=mask_paths,
            given_mask_paths=given,
            output_frame_names=output_names,
            object_first_frames=first_frames,
            object_categories=_categories(video_meta))

    def _object_first_frames(self, video: str, video_meta: dict,
                             mask_dir: str) -> Dict[int, str]:
        """``{object id: first frame name}``, ordered by id."""
        objects = _objects(video_meta)
        first = {}
        unlisted = []
        for obj_id, obj in objects.items():
            frames = obj.get('frames') if isinstance(obj, dict) else None
            if frames:
                first[obj_id] = min(str(f) for f in frames)
            else:
                unlisted.append(obj_id)
        if unlisted:
            # no frames in meta.json: the first annotation holding the object
            files = sorted(f for f in os.listdir(mask_dir)
                           if f.endswith('.png')) if osp.isdir(mask_dir) \
                else []
            for file in files:
                present = set(read_mask(osp.join(mask_dir, file)).ravel()
                              .tolist())
                for obj_id in [i for i in unlisted if i in present]:
                    first[obj_id] = osp.splitext(file)[0]
                    unlisted.remove(obj_id)
                if not unlisted:
                    break
            if unlisted:
                raise DatasetLayoutError(
                    f'video {video!r}: objects {unlisted} have no frames in '
                    f'{self.meta_path} and appear in no annotation in '
                    f'{mask_dir}')
        return {obj_id: first[obj_id] for obj_id in sorted(first)}


def _objects(video_meta: dict) -> Dict[int, dict]:
    """``{object id: object meta}`` of a video's meta.json entry."""
    objects = video_meta.get('objects', {}) if isinstance(video_meta,
                                                          dict) else {}
    return {int(obj_id): obj for obj_id, obj in objects.items()}


def _categories(video_meta: dict) -> Dict[int, Optional[str]]:
    return {
        obj_id: obj.get('category') if isinstance(obj, dict) else None
        for obj_id, obj in sorted(_objects(video_meta).items())
    }
