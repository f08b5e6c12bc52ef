"""A local vis backend that keeps the images it is given."""
import os.path as osp

import numpy as np
from mmengine.visualization import LocalVisBackend
from mmengine.visualization.vis_backend import force_init_env

from vosbench.registry import VISBACKENDS
from vosbench.utils.image_io import write_rgb_image


@VISBACKENDS.register_module()
class VOSLocalVisBackend(LocalVisBackend):
    """mmengine's ``LocalVisBackend`` (scalars in ``vis_data/scalars.json``,
    images in ``vis_data/vis_image/``) for image names with ``/``.

    ``LocalVisBackend.add_image`` writes ``vis_image/<name>_<step>.png``
    without creating ``name``'s folders and without checking the write, so
    a name such as ``val/bear/00005`` (TensorBoard's grouping) is lost
    silently (mmengine 0.10.7). Here the folders are made and a failed
    write is an error.
    """

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0,
                  **kwargs) -> None:
        """Write ``(H, W, 3)`` uint8 RGB ``image`` to
        ``vis_image/<name>_<step>.png``."""
        if image.dtype != np.uint8:
            raise TypeError(f'add_image({name!r}): images are uint8, got '
                            f'{image.dtype}')
        write_rgb_image(osp.join(self._img_save_dir, f'{name}_{step}.png'),
                        image)
