"""YouTube-VOS annotated frames used as still images."""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from vosbench.registry import DATASETS
from vosbench.utils.mask_io import read_mask

from .davis import DatasetLayoutError
from .static_image import StaticImageDataset, check_file, read_split_file


@DATASETS.register_module()
class YouTubeVOSFramesDataset(StaticImageDataset):
    """Every annotated frame of the YouTube-VOS training set as one image.

    Layout under ``data_root`` (the YouTube-VOS folder, as for
    :class:`YouTubeVOSDataset`)::

        train/JPEGImages/<video>/<frame>.jpg
        train/Annotations/<video>/<frame>.png    palette PNGs, object ids

    Object ids are kept as they are in the file. Frames whose annotation
    has no object are loaded too; the clip pipeline rejects them.

    Args:
        data_prefix (dict): ``img_path`` and ``seg_path`` folders. Defaults
            to ``train/JPEGImages`` and ``train/Annotations``.
        videos (Sequence[str], optional): Use only these videos.
        ann_file (str): Optional file listing the videos, one a line,
            relative to ``data_root``.
        frame_step (int): Take every ``frame_step``-th annotated frame of a
            video. Defaults to 1.
        img_suffix (str): Defaults to '.jpg'.
        Other arguments are those of :class:`StaticImageDataset`.
    """

    METAINFO = dict(dataset_name='YouTube-VOS frames')

    def __init__(self,
                 data_prefix: dict = dict(img_path='train/JPEGImages',
                                          seg_path='train/Annotations'),
                 videos: Optional[Sequence[str]] = None,
                 ann_file: str = '',
                 frame_step: int = 1,
                 img_suffix: str = '.jpg',
                 **kwargs):
        if frame_step < 1:
            raise ValueError(f'frame_step must be >= 1, got {frame_step}')
        self.videos = list(videos) if videos is not None else None
        self.frame_step = frame_step
        self.img_suffix = img_suffix
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def _video_names(self) -> List[str]:
        if self.videos is not None:
            return self.videos
        if self.ann_file:
            return read_split_file(self.ann_file)
        seg_root = self.data_prefix['seg_path']
        if not osp.isdir(seg_root):
            raise DatasetLayoutError(
                f'annotation folder not found: {seg_root}')
        return sorted(d for d in os.listdir(seg_root)
                      if osp.isdir(osp.join(seg_root, d)))

    def load_data_list(self) -> List[dict]:
        img_root = self.data_prefix['img_path']
        seg_root = self.data_prefix['seg_path']
        data_list = []
        for video in self._video_names():
            seg_dir = osp.join(seg_root, video)
            if not osp.isdir(seg_dir):
                raise DatasetLayoutError(
                    f'annotations of video {video!r} not found: {seg_dir}')
            names = sorted(f[:-4] for f in os.listdir(seg_dir)
                           if f.endswith('.png'))
            for name in names[::self.frame_step]:
                data_list.append(dict(
                    img_path=check_file(
                        osp.join(img_root, video, name + self.img_suffix),
                        'frame'),
                    seg_path=osp.join(seg_dir, name + '.png'),
                    seq_name=f'{video}/{name}'))
        if not data_list:
            raise DatasetLayoutError(f'no annotated frames under {seg_root}')
        return data_list

    def load_mask(self, info: dict, height: int, width: int) -> np.ndarray:
        return read_mask(info['seg_path'])
