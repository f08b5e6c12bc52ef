"""mmengine's Visualizer for video object segmentation.

It draws with :mod:`vosbench.visualization.overlay` (DAVIS palette, one
contour per object, optional ids), so that ``tools/test.py --show-dir``, the
video demo, ``tools/analysis/browse_dataset.py`` and the vis backends of a
config (``LocalVisBackend``, ``TensorboardVisBackend``) show the same
pictures.
"""
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.registry import DefaultScope
from mmengine.visualization import LocalVisBackend, Visualizer

from vosbench.registry import VISUALIZERS
from vosbench.utils.image_io import write_rgb_image
from .overlay import overlay_masks, put_outlined_text, side_by_side


@VISUALIZERS.register_module()
class VOSVisualizer(Visualizer):
    """Draws label masks on frames and clips, and sends them to the vis
    backends.

    Args:
        name (str): Instance name (mmengine's ``ManagerMixin``).
        alpha (float): Opacity of the object colours. Defaults to 0.5.
        contour (bool): Outline each object. Defaults to True.
        show_ids (bool): Write each object's id on it. Defaults to False.
        Other arguments (``vis_backends``, ``save_dir``, ...) are those of
        :class:`mmengine.visualization.Visualizer`.
    """

    def __init__(self, name: str = 'visualizer', alpha: float = 0.5,
                 contour: bool = True, show_ids: bool = False, **kwargs):
        # vis_backends types are looked up in vosbench's scope (then
        # mmengine's), also where no runner has set the default scope
        with DefaultScope.overwrite_default_scope('vosbench'):
            super().__init__(name=name, **kwargs)
        if not 0 <= alpha <= 1:
            raise ValueError(f'VOSVisualizer: alpha must be in [0, 1], got '
                             f'{alpha}')
        self.alpha = alpha
        self.contour = contour
        self.show_ids = show_ids

    def draw_masks(self, frame: np.ndarray,
                   labels: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB ``frame`` with the ``(H, W)`` uint8
        ``labels`` blended on (0 is background)."""
        if frame.shape[:2] != labels.shape:
            raise ValueError(f'frame is {frame.shape[:2]} but the labels are '
                             f'{labels.shape}')
        frame = np.ascontiguousarray(frame)  # OpenCV draws on it
        return overlay_masks(frame, labels, alpha=self.alpha,
                             contour=self.contour, object_ids=self.show_ids)

    def draw_frame(self, frame: np.ndarray,
                   pred_labels: Optional[np.ndarray] = None,
                   gt_labels: Optional[np.ndarray] = None) -> np.ndarray:
        """One picture of a segmented frame: the prediction overlaid, or the
        ground truth | prediction side by side when both are given.

        Returns:
            np.ndarray: ``(H, W, 3)`` or ``(H, 2W, 3)`` uint8 RGB.
        """
        drawn = [self.draw_masks(frame, labels)
                 for labels in (gt_labels, pred_labels) if labels is not None]
        if not drawn:
            return frame.copy()
        return drawn[0] if len(drawn) == 1 else side_by_side(*drawn)

    def draw_clip(self, frames: Sequence[np.ndarray],
                  labels: Sequence[np.ndarray],
                  captions: Optional[Sequence[str]] = None,
                  gap: int = 4) -> np.ndarray:
        """The frames of a clip side by side, each with its masks.

        Args:
            frames: ``T`` ``(H, W, 3)`` uint8 RGB frames of one size.
            labels: ``T`` ``(H, W)`` uint8 label maps.
            captions: Optional text written at the top left of each frame.
            gap (int): White pixels between frames. Defaults to 4.

        Returns:
            np.ndarray: ``(H, T * W + (T - 1) * gap, 3)`` uint8 RGB.
        """
        if len(frames) != len(labels) or not frames:
            raise ValueError(f'draw_clip needs as many label maps as frames '
                             f'(got {len(frames)} frames, {len(labels)} '
                             'label maps)')
        tiles = []
        for t, (frame, label) in enumerate(zip(frames, labels)):
            tile = self.draw_masks(frame, label)
            if captions is not None:
                _caption(tile, captions[t])
            tiles.append(tile)
        height = tiles[0].shape[0]
        spacer = np.full((height, gap, 3), 255, np.uint8)
        row = []
        for t, tile in enumerate(tiles):
            if tile.shape[0] != height:
                raise ValueError(f'draw_clip: frame {t} is {tile.shape[:2]}, '
                                 f'frame 0 is {tiles[0].shape[:2]}')
            row += [spacer, tile] if t else [tile]
        return np.concatenate(row, axis=1)

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        """Send ``image`` to every backend. A name with ``/`` (TensorBoard's
        groups) is refused where mmengine's ``LocalVisBackend`` would lose
        it without a word; ``VOSLocalVisBackend`` keeps it."""
        if '/' in name:
            for backend in self._vis_backends.values():
                if type(backend) is LocalVisBackend:
                    raise ValueError(
                        f'image {name!r}: LocalVisBackend cannot write names '
                        "with '/' (mmengine 0.10.7 drops them silently); use "
                        "dict(type='VOSLocalVisBackend') in the config's "
                        'vis_backends')
        super().add_image(name, image, step)

    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample: Optional[dict] = None,
                       draw_gt: bool = True, draw_pred: bool = True,
                       show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw one frame and show it, write it to ``out_file``, or (without
        ``out_file``) send it to the vis backends under ``name``.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB frame.
            data_sample (dict, optional): ``pred_labels`` and/or
                ``gt_labels``, ``(H, W)`` uint8 each.

        Returns:
            np.ndarray: The drawn RGB image.
        """
        data_sample = data_sample or {}
        drawn = self.draw_frame(
            image,
            pred_labels=data_sample.get('pred_labels') if draw_pred else None,
            gt_labels=data_sample.get('gt_labels') if draw_gt else None)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            write_rgb_image(out_file, drawn)
        else:
            self.add_image(name, drawn, step)
        return drawn


def _caption(image: np.ndarray, text: str) -> None:
    """Write ``text`` at the top left of ``image``."""
    scale = max(0.35, image.shape[0] / 500)
    (_, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                     1)
    put_outlined_text(image, text, (3, 3 + height), scale)
