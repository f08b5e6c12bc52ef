"""Pascal VOC / SBD instance masks as still images for clip synthesis."""
import os.path as osp
from typing import List

import numpy as np

from vosbench.registry import DATASETS
from vosbench.utils.mask_io import MaskReadError, read_mask

from .static_image import StaticImageDataset, check_file, read_split_file


def read_sbd_instance_mat(path: str) -> np.ndarray:
    """The instance map ``GTinst.Segmentation`` of an SBD ``inst/*.mat`` file
    as ``(H, W)`` uint8 (0 background, 1..N instances).

    Needs scipy (not a vosbench requirement); without it, convert the SBD
    masks to PNG once (same values, as a palette or grayscale PNG) and use
    ``seg_suffix='.png'``.
    """
    check_file(path, 'SBD instance file')
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise ImportError(
            f'reading SBD .mat files ({path}) needs scipy: pip install scipy, '
            'or convert inst/*.mat to PNG and set seg_suffix=".png"') from exc
    try:
        gt = loadmat(path, squeeze_me=False)['GTinst']
        seg = gt['Segmentation'][0, 0]
    except Exception as exc:  # scipy raises several types
        raise MaskReadError(f'cannot read SBD instances from {path}: '
                            f'{exc}') from exc
    return np.asarray(seg).astype(np.uint8)


@DATASETS.register_module()
class VOCInstanceDataset(StaticImageDataset):
    """Pascal VOC ``SegmentationObject`` instance masks, or SBD's.

    VOC layout (the defaults), under ``data_root`` (e.g. ``VOC2012``)::

        JPEGImages/<name>.jpg
        SegmentationObject/<name>.png    palette PNG: 0 background,
                                         1..N instances, 255 border
        ImageSets/Segmentation/<split>.txt

    The 255 borders around objects are kept as 255 (ignored by the loss).
    SBD (``benchmark_RELEASE/dataset``): ``data_prefix=dict(img_path='img',
    seg_path='inst')``, ``ann_file='train.txt'`` and ``seg_suffix='.mat'``
    (read with scipy, which is optional) or ``'.png'`` for masks converted
    to PNG beforehand.

    Args:
        ann_file (str): Split file (one image name a line), relative to
            ``data_root``. Defaults to
            ``'ImageSets/Segmentation/train.txt'``.
        data_prefix (dict): ``img_path`` and ``seg_path`` folders.
        img_suffix (str): Defaults to '.jpg'.
        seg_suffix (str): '.png' or '.mat'. Defaults to '.png'.
        Other arguments are those of :class:`StaticImageDataset`.
    """

    METAINFO = dict(dataset_name='VOC')

    def __init__(self,
                 ann_file: str = 'ImageSets/Segmentation/train.txt',
                 data_prefix: dict = dict(img_path='JPEGImages',
                                          seg_path='SegmentationObject'),
                 img_suffix: str = '.jpg',
                 seg_suffix: str = '.png',
                 **kwargs):
        if seg_suffix not in ('.png', '.mat'):
            raise ValueError(f"seg_suffix must be '.png' or '.mat', got "
                             f'{seg_suffix!r}')
        self.img_suffix = img_suffix
        self.seg_suffix = seg_suffix
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        for name in read_split_file(self.ann_file):
            img_path = check_file(
                osp.join(self.data_prefix['img_path'],
                         name + self.img_suffix), 'image')
            seg_path = check_file(
                osp.join(self.data_prefix['seg_path'],
                         name + self.seg_suffix), 'instance mask')
            data_list.append(dict(img_path=img_path, seg_path=seg_path,
                                  seq_name=name))
        return data_list

    def load_mask(self, info: dict, height: int, width: int) -> np.ndarray:
        if self.seg_suffix == '.mat':
            return read_sbd_instance_mat(info['seg_path'])
        return read_mask(info['seg_path'])
