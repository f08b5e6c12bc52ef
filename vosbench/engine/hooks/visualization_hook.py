"""Draw predicted masks on tested (and, on request, validated) frames."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from vosbench.registry import HOOKS
from vosbench.utils.mask_io import read_mask_as
from vosbench.visualization import VOSVisualizer, write_rgb_image
from .prediction_writer_hook import drop_sampler_padding


def _trained_iterations(runner) -> int:
    """The iterations trained so far, 0 outside training. Not
    ``runner.iter``: mmengine's Runner builds the train loop (and its
    dataset) from the config on that access, so a test run would need the
    training data."""
    loop = getattr(runner, '_train_loop', None)
    return loop.iter if isinstance(loop, BaseLoop) else 0


@HOOKS.register_module()
class VOSVisualizationHook(Hook):
    """Overlays of predictions, drawn by the runner's :class:`VOSVisualizer`:
    written to ``<show_dir>/<seq>/<frame>.jpg`` and/or sent to the
    visualizer's backends (TensorBoard with ``TensorboardVisBackend``) under
    ``<test|val>/<seq>/<frame>``, at step the iterations trained so far.

    Args:
        show_dir (str, optional): Folder for the JPEGs.
        interval (int): Every ``interval``-th frame of each video. Defaults
            to 1.
        draw_gt (bool): Ground truth | prediction side by side, for frames
            with a ground-truth mask. Defaults to False.
        to_backends (bool): Send the images to the vis backends. Defaults
            to False.
        in_val (bool): Also draw in validation during training (to follow
            a video's masks over training in TensorBoard). Defaults to
            False: test runs only.
    """

    def __init__(self, show_dir: Optional[str] = None, interval: int = 1,
                 draw_gt: bool = False, to_backends: bool = False,
                 in_val: bool = False):
        if show_dir is None and not to_backends:
            raise ValueError('VOSVisualizationHook: give show_dir, or '
                             'to_backends=True, or both; with neither it '
                             'would draw nothing')
        if interval < 1:
            raise ValueError(f'VOSVisualizationHook: interval must be >= 1, '
                             f'got {interval}')
        self.show_dir = show_dir
        self.interval = interval
        self.draw_gt = draw_gt
        self.to_backends = to_backends
        self.in_val = in_val

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence[dict]] = None) -> None:
        if self.in_val:
            self._draw(runner, 'val', runner.val_loop.dataloader, batch_idx,
                       outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence[dict]] = None) -> None:
        self._draw(runner, 'test', runner.test_loop.dataloader, batch_idx,
                   outputs)

    def _draw(self, runner, mode: str, dataloader, batch_idx: int,
              outputs: Optional[Sequence[dict]]) -> None:
        visualizer = runner.visualizer
        if not isinstance(visualizer, VOSVisualizer):
            raise TypeError(
                f'VOSVisualizationHook draws with a VOSVisualizer, but the '
                f'runner has a {type(visualizer).__name__}: set '
                "visualizer=dict(type='VOSVisualizer', ...) in the config "
                '(configs/_base_/default_runtime.py does)')
        step = _trained_iterations(runner)
        for result in drop_sampler_padding(dataloader, batch_idx, outputs):
            # predictions may cover only some frames (pred_frame_indices)
            indices = result.get('pred_frame_indices',
                                 range(len(result['pred_labels'])))
            for i, t in enumerate(indices):
                if t % self.interval:
                    continue
                frame = result['frames'][t]  # decoded on access
                name = result['frame_names'][t]
                image = visualizer.draw_frame(
                    frame, pred_labels=result['pred_labels'][i],
                    gt_labels=self._ground_truth(result, t))
                if self.show_dir is not None:
                    write_rgb_image(osp.join(self.show_dir,
                                             result['seq_name'],
                                             f'{name}.jpg'), image)
                if self.to_backends:
                    visualizer.add_image(
                        f'{mode}/{result["seq_name"]}/{name}', image, step)

    def _ground_truth(self, result: dict, t: int):
        """Frame ``t``'s ground-truth labels when ``draw_gt`` and the frame
        has a mask, else None."""
        paths = result.get('gt_mask_paths') if self.draw_gt else None
        if not paths or paths[t] is None:
            return None
        return read_mask_as(paths[t], result.get('mask_format', 'labels'))
