"""DAVIS 2016 in the release's own layout: videos, and frames as stills."""
from typing import List, Optional, Sequence

import numpy as np

from vosbench.registry import DATASETS
from vosbench.utils.mask_io import read_binary_mask

from .davis import DAVISDataset
from .static_image import StaticImageDataset

__all__ = ['DAVIS2016Dataset', 'DAVIS2016FramesDataset']


@DATASETS.register_module()
class DAVIS2016Dataset(DAVISDataset):
    """DAVIS 2016 (one object per sequence), as the release ships it.

    Layout under ``data_root``::

        JPEGImages/<resolution>/<seq>/<frame>.jpg
        Annotations/<resolution>/<seq>/<frame>.png   grey, 0 and 255
        ImageSets/<resolution>/<split>.txt           one frame a line:
            /JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png

    ``resolution`` is the release's sub-folder (``480p``, ``1080p``, or any
    other, such as ``240p``). The sequences are those of the split file in
    order of appearance (every path of every line must exist); their frames
    are those of the folders, by the frame-list rules the evaluator uses
    (:func:`vosbench.utils.frame_lists.sequence_frames`), so that
    ``tools/test.py`` and ``tools/eval_results.py --year 2016`` score the
    same frames. Masks are read as 0/255 (255 becomes object 1); any other
    value is an error naming the file. Score with
    ``DAVISMetric(year='2016')``. Training and test arguments are those of
    :class:`DAVISDataset` (``exclude_sequences`` holds videos out).
    """

    METAINFO = dict(dataset_name='DAVIS 2016')
    MASK_FORMAT = 'binary'

    def __init__(self, data_root: str, split: str = 'train',
                 resolution: str = '480p', **kwargs):
        if 'year' in kwargs:
            raise TypeError('DAVIS2016Dataset: year is 2016; remove the '
                            '`year` key from the dataset config')
        super().__init__(data_root, split=split, year='2016',
                         resolution=resolution, **kwargs)


@DATASETS.register_module()
class DAVIS2016FramesDataset(StaticImageDataset):
    """Every ``frame_step``-th frame of the DAVIS 2016 videos of a split as a
    still image (static-image pre-training on real frames, as the first STM
    report does with YouTube-VOS frames).

    The videos are read as :class:`DAVIS2016Dataset` reads them (same split
    file, frame-list rules and 0/255 masks). Frames whose object is absent
    are kept; the clip pipeline rejects them.

    Args:
        data_root (str): The DAVIS 2016 folder.
        split (str): Split file name. Defaults to 'train'.
        resolution (str): Defaults to '480p'.
        sequences, exclude_sequences (Sequence[str], optional): As for
            :class:`DAVISDataset`.
        frame_step (int): Take every ``frame_step``-th frame. Defaults to 1.
        Other arguments are those of :class:`StaticImageDataset`.
    """

    METAINFO = dict(dataset_name='DAVIS 2016 frames')

    def __init__(self, data_root: str, split: str = 'train',
                 resolution: str = '480p',
                 sequences: Optional[Sequence[str]] = None,
                 exclude_sequences: Optional[Sequence[str]] = None,
                 frame_step: int = 1, **kwargs):
        if frame_step < 1:
            raise ValueError(f'frame_step must be >= 1, got {frame_step}')
        self.split = split
        self.resolution = resolution
        self.sequences = sequences
        self.exclude_sequences = exclude_sequences
        self.frame_step = frame_step
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        videos = DAVIS2016Dataset(
            self.data_root, split=self.split, resolution=self.resolution,
            sequences=self.sequences,
            exclude_sequences=self.exclude_sequences, lazy_init=True)
        data_list = []
        for video in videos.load_data_list():  # every frame annotated
            frames = zip(video['frame_names'], video['frame_paths'],
                         video['mask_paths'])
            for name, img_path, seg_path in \
                    list(frames)[::self.frame_step]:
                data_list.append(dict(img_path=img_path, seg_path=seg_path,
                                      seq_name=f'{video["seq_name"]}/{name}'))
        return data_list

    def load_mask(self, info: dict, height: int, width: int) -> np.ndarray:
        return read_binary_mask(info['seg_path'])
