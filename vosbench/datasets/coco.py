"""COCO instance masks as still images for clip synthesis."""
import contextlib
import io
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.logging import MMLogger
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from vosbench.registry import DATASETS
from vosbench.utils.labels import VOID_LABEL

from .static_image import StaticImageDataset, check_file, relabel_consecutive

#: Labels 1..254 fit a uint8 map beside background (0) and void (255).
MAX_INSTANCES = VOID_LABEL - 1


def segmentation_to_mask(segmentation, height: int,
                         width: int) -> np.ndarray:
    """Decode a COCO ``segmentation`` to a ``(height, width)`` uint8 0/1 mask.

    Accepts polygons (list of ``[x0, y0, x1, y1, ...]``), uncompressed RLE
    (``counts`` a list, as crowd regions usually are) and compressed RLE
    (``counts`` a string or bytes).
    """
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if len(p) >= 6]
        if not polygons:
            return np.zeros((height, width), np.uint8)
        rle = mask_utils.merge(
            mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and \
            isinstance(segmentation.get('counts'), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    elif isinstance(segmentation, dict) and 'counts' in segmentation:
        rle = segmentation
    else:
        raise ValueError('unknown COCO segmentation: '
                         f'{str(segmentation)[:80]}')
    return mask_utils.decode(rle).astype(np.uint8)


@DATASETS.register_module()
class COCOInstanceDataset(StaticImageDataset):
    """COCO instances (or any COCO-format instance annotation file).

    Each image becomes one label map: instances that are not crowds are
    painted in decreasing order of area, so that small objects lie on top and
    stay visible, and get labels ``1..N`` (those hidden completely are
    dropped); crowd regions not covered by an instance are 255 (ignored).
    Polygons, uncompressed and compressed RLE are decoded by pycocotools.
    Images without a usable instance are left out (the number is logged).

    Args:
        ann_file (str): Annotation file, relative to ``data_root``.
            Defaults to ``'annotations/instances_train2017.json'``.
        data_prefix (dict): ``img_path``: folder the images' ``file_name``
            is relative to. Defaults to ``dict(img_path='train2017')``.
        min_area (float): Instances whose ``area`` is below this are not
            used (they stay background). Defaults to 0.
        category_ids (Sequence[int], optional): Use only these categories.
        Other arguments are those of :class:`StaticImageDataset`.
    """

    METAINFO = dict(dataset_name='COCO')

    def __init__(self,
                 ann_file: str = 'annotations/instances_train2017.json',
                 data_prefix: dict = dict(img_path='train2017'),
                 min_area: float = 0.0,
                 category_ids: Optional[Sequence[int]] = None,
                 **kwargs):
        self.min_area = min_area
        self.category_ids = (set(category_ids) if category_ids is not None
                             else None)
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def _usable(self, ann: dict) -> bool:
        return (not ann.get('iscrowd', 0) and bool(ann.get('segmentation'))
                and ann.get('area', 0) > 0 and ann['area'] >= self.min_area
                and (self.category_ids is None
                     or ann.get('category_id') in self.category_ids))

    def load_data_list(self) -> List[dict]:
        check_file(self.ann_file, 'COCO annotation file')
        with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
            coco = COCO(self.ann_file)
        img_root = self.data_prefix.get('img_path', '')
        data_list, skipped = [], 0
        for img_id in sorted(coco.getImgIds()):
            img = coco.loadImgs(img_id)[0]
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            instances = sorted((a for a in anns if self._usable(a)),
                               key=lambda a: -a['area'])
            if not instances:
                skipped += 1
                continue
            crowds = [a['segmentation'] for a in anns
                      if a.get('iscrowd', 0) and a.get('segmentation')]
            data_list.append(
                dict(img_path=osp.join(img_root, img['file_name']),
                     img_id=img_id,
                     height=int(img['height']),
                     width=int(img['width']),
                     instances=[dict(segmentation=a['segmentation'],
                                     area=float(a['area']),
                                     ann_id=a['id'])
                                for a in instances[:MAX_INSTANCES]],
                     crowds=crowds))
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: {len(data_list)} images from '
            f'{self.ann_file}; {skipped} without a usable instance left out')
        return data_list

    def load_mask(self, info: dict, height: int, width: int) -> np.ndarray:
        # decoded at the annotated size: a different image size is then
        # reported by load_sample, naming the image
        h, w = info['height'], info['width']
        labels = np.zeros((h, w), np.uint8)
        for segmentation in info['crowds']:
            labels[segmentation_to_mask(segmentation, h,
                                        w) > 0] = VOID_LABEL
        for label, instance in enumerate(info['instances'], start=1):
            labels[segmentation_to_mask(instance['segmentation'], h,
                                        w) > 0] = label
        return relabel_consecutive(labels)
