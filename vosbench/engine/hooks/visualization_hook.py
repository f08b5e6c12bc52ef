"""Save overlays of predicted masks on tested frames."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
from mmengine.hooks import Hook

from vosbench.registry import HOOKS
from .prediction_writer_hook import drop_sampler_padding
from vosbench.visualization.overlay import overlay_masks


@HOOKS.register_module()
class VOSVisualizationHook(Hook):
    """Write ``<show_dir>/<seq>/<frame>.jpg`` overlays of test predictions.

    Args:
        show_dir (str): Output folder.
        interval (int): Every ``interval``-th frame of each video. Defaults
            to 1.
    """

    def __init__(self, show_dir: str, interval: int = 1):
        self.show_dir = show_dir
        self.interval = max(1, interval)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence[dict]] = None) -> None:
        for result in drop_sampler_padding(runner.test_loop.dataloader,
                                           batch_idx, outputs):
            seq_dir = osp.join(self.show_dir, result['seq_name'])
            os.makedirs(seq_dir, exist_ok=True)
            # predictions may cover only some frames (pred_frame_indices)
            indices = result.get('pred_frame_indices',
                                 range(len(result['pred_labels'])))
            for i, t in enumerate(indices):
                if t % self.interval:
                    continue
                frame = result['frames'][t]  # decoded on access
                image = overlay_masks(frame, result['pred_labels'][i])
                cv2.imwrite(
                    osp.join(seq_dir, f'{result["frame_names"][t]}.jpg'),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
