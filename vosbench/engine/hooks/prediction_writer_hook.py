"""Write predicted masks in the DAVIS layout."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook

from vosbench.registry import HOOKS
from vosbench.utils.mask_io import write_mask


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Save ``pred_labels`` of each tested video as palette PNGs.

    Files go to ``<out_dir>/<seq_name>/<frame_name>.png``, each written
    atomically, so an interrupted run leaves only complete files.

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
            for name, labels in zip(result['frame_names'],
                                    result['pred_labels']):
                write_mask(osp.join(seq_dir, f'{name}.png'), labels)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._write(outputs)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        if self.write_in_val:
            self._write(outputs)
