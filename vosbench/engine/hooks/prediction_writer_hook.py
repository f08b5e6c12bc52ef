"""Write predicted masks in the DAVIS layout."""
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import DefaultSampler
from mmengine.hooks import Hook

from vosbench.registry import HOOKS
from vosbench.utils.mask_io import write_mask


def drop_sampler_padding(dataloader, batch_idx: int,
                         outputs: Optional[Sequence[dict]]) -> List[dict]:
    """The outputs of a batch without the samples the sampler repeated.

    In distributed testing :class:`~mmengine.dataset.DefaultSampler` pads
    the dataset to a multiple of the world size by repeating its first
    samples; rank ``r`` gets padded positions ``r, r + W, r + 2W, ...``, and
    positions ``>= len(dataset)`` are repeats (the evaluator drops their
    results too). Other samplers are left alone.
    """
    outputs = list(outputs or [])
    sampler = getattr(dataloader, 'sampler', None)
    batch_size = getattr(dataloader, 'batch_size', None)
    # only DefaultSampler's own strided order is known here
    if (type(sampler) is not DefaultSampler or sampler.world_size == 1
            or batch_size is None):
        return outputs
    num_samples = len(sampler.dataset)
    first = batch_idx * batch_size
    return [
        out for j, out in enumerate(outputs)
        if (first + j) * sampler.world_size + sampler.rank < num_samples
    ]


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Save ``pred_labels`` of each tested video as palette PNGs.

    Files go to ``<out_dir>/<seq_name>/<frame_name>.png`` for the frames
    ``pred_frame_names`` (all frames unless the sample names output frames,
    see :meth:`STM.predict`), each written
    atomically, so an interrupted run leaves only complete files. A video
    that failed part-way (an output with ``failure`` from ``VOSTestLoop``)
    has the frames segmented before the failure written. In
    distributed testing the videos a rank only got as sampler padding are
    not written again.

    Args:
        out_dir (str): Output folder.
        write_in_val (bool): Also write during validation in training.
            Defaults to False.
    """

    priority = 'NORMAL'

    def __init__(self, out_dir: str, write_in_val: bool = False):
        self.out_dir = out_dir
        self.write_in_val = write_in_val

    def _write(self, outputs: Optional[Sequence[dict]]) -> None:
        for result in outputs or []:
            seq_dir = osp.join(self.out_dir, result['seq_name'])
            names = result.get('pred_frame_names', result['frame_names'])
            for name, labels in zip(names, result['pred_labels']):
                write_mask(osp.join(seq_dir, f'{name}.png'), labels)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._write(drop_sampler_padding(runner.test_loop.dataloader,
                                         batch_idx, outputs))

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        if self.write_in_val:
            self._write(drop_sampler_padding(runner.val_loop.dataloader,
                                             batch_idx, outputs))
