"""Salient-object datasets (image + binary mask) as still images."""
import os
import os.path as osp
from typing import List

import numpy as np
from PIL import Image

from vosbench.registry import DATASETS
from vosbench.utils.mask_io import MaskReadError

from .davis import DatasetLayoutError
from .static_image import StaticImageDataset, check_file, read_split_file


def read_binary_mask(path: str, threshold: int = 127) -> np.ndarray:
    """A saliency mask as ``(H, W)`` uint8: 1 where the object is, else 0.

    Grayscale and RGB masks: object where the gray value is above
    ``threshold``; palette masks: object where the index is not 0.
    """
    check_file(path, 'mask')
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode == 'P':
                fg = np.array(img) != 0
            else:
                fg = np.array(img.convert('L')) > threshold
    except Exception as exc:  # PIL raises many types for corrupt files
        raise MaskReadError(f'cannot read mask {path}: {exc}') from exc
    return fg.astype(np.uint8)


@DATASETS.register_module()
class SaliencyDataset(StaticImageDataset):
    """A folder of images and a folder of binary masks matched by file name
    stem (one object per image, label 1).

    MSRA10K (images and masks in one folder)::

        data_prefix=dict(img_path='MSRA10K_Imgs_GT/Imgs',
                         seg_path='MSRA10K_Imgs_GT/Imgs')

    ECSSD::

        data_prefix=dict(img_path='images', seg_path='ground_truth_mask')

    Args:
        data_prefix (dict): ``img_path`` and ``seg_path`` folders, relative
            to ``data_root``. Defaults to ``images`` and ``masks``.
        img_suffix (str): Images are the files with this ending. Defaults
            to '.jpg'.
        seg_suffix (str): The mask of ``<stem><img_suffix>`` is
            ``<stem><seg_suffix>``. Defaults to '.png'.
        threshold (int): Gray values above it are the object. Defaults to
            127.
        ann_file (str): Optional list of stems (one a line), relative to
            ``data_root``; by default every image of the folder.
        Other arguments are those of :class:`StaticImageDataset`.
    """

    METAINFO = dict(dataset_name='saliency')

    def __init__(self,
                 data_prefix: dict = dict(img_path='images',
                                          seg_path='masks'),
                 img_suffix: str = '.jpg',
                 seg_suffix: str = '.png',
                 threshold: int = 127,
                 ann_file: str = '',
                 **kwargs):
        if img_suffix.lower() == seg_suffix.lower() and \
                data_prefix.get('img_path') == data_prefix.get('seg_path'):
            raise ValueError('images and masks in one folder need different '
                             f'suffixes, got {img_suffix!r} for both')
        self.img_suffix = img_suffix
        self.seg_suffix = seg_suffix
        self.threshold = threshold
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix['seg_path']
        if self.ann_file:
            stems = read_split_file(self.ann_file)
        else:
            if not osp.isdir(img_dir):
                raise DatasetLayoutError(f'image folder not found: {img_dir}')
            stems = sorted(
                f[:-len(self.img_suffix)] for f in os.listdir(img_dir)
                if f.lower().endswith(self.img_suffix.lower()))
            if not stems:
                raise DatasetLayoutError(
                    f'no *{self.img_suffix} images in {img_dir}')
        data_list = []
        for stem in stems:
            data_list.append(dict(
                img_path=check_file(osp.join(img_dir, stem + self.img_suffix),
                                    'image'),
                seg_path=check_file(osp.join(seg_dir, stem + self.seg_suffix),
                                    'mask'),
                seq_name=stem))
        return data_list

    def load_mask(self, info: dict, height: int, width: int) -> np.ndarray:
        return read_binary_mask(info['seg_path'], self.threshold)
