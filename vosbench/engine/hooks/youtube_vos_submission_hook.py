"""Write a YouTube-VOS submission: palette PNGs and the zip."""
import os
import os.path as osp
import zipfile
from typing import Dict, List, Optional

from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

from vosbench.registry import HOOKS
from .prediction_writer_hook import PredictionWriterHook


def expected_submission_frames(dataset) -> Dict[str, List[str]]:
    """``{video: [frame names]}`` a submission for a test dataset holds:
    each video's ``output_frame_names`` (all its frames if it has none)."""
    frames = {}
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        names = info.get('output_frame_names')
        frames[info['seq_name']] = list(
            info['frame_names'] if names is None else names)
    return frames


def make_submission_zip(annotations_dir: str,
                        frames: Dict[str, List[str]],
                        zip_path: str) -> int:
    """Zip ``<annotations_dir>/<video>/<frame>.png`` as
    ``Annotations/<video>/<frame>.png`` (the layout the YouTube-VOS server
    reads).

    Args:
        annotations_dir (str): Folder of the written PNGs.
        frames (dict[str, list[str]]): The frames of each video to include.
        zip_path (str): The zip file; written to a temporary name and
            renamed.

    Returns:
        int: The number of files in the zip.

    Raises:
        FileNotFoundError: naming the first missing PNGs.
    """
    entries = []
    missing = []
    for video in sorted(frames):
        for name in frames[video]:
            path = osp.join(annotations_dir, video, f'{name}.png')
            if osp.isfile(path):
                entries.append((path, f'Annotations/{video}/{name}.png'))
            else:
                missing.append(path)
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} predicted masks are missing for the submission, '
            f'e.g. {missing[:3]}')
    dirname = osp.dirname(zip_path)
    if dirname:
        os.makedirs(dirname, exist_ok=True)
    tmp = f'{zip_path}.tmp{os.getpid()}'
    try:
        with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
            for path, arcname in entries:
                archive.write(path, arcname)
        os.replace(tmp, zip_path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return len(entries)


@HOOKS.register_module()
class YouTubeVOSSubmissionHook(PredictionWriterHook):
    """Write test predictions as a YouTube-VOS submission.

    Each video's output frames (``pred_frame_names``: the frames of the
    ``valid``/``test`` split, also when inferring on ``*_all_frames``) go to
    ``<out_dir>/Annotations/<video>/<frame>.png``. After the test epoch,
    once every rank has written its videos, rank 0 zips the PNGs of every
    video of the test dataset into ``<out_dir>/<zip_name>`` with paths
    ``Annotations/<video>/<frame>.png``; a missing PNG raises naming it.

    ``tools/test.py --out DIR`` adds this hook when the config sets
    ``prediction_writer = dict(type='YouTubeVOSSubmissionHook')`` (as
    ``configs/_base_/datasets/ytvos19.py`` does).

    Args:
        out_dir (str): Submission folder.
        zip_name (str): Defaults to 'submission.zip'.
        write_in_val (bool): Also write PNGs during validation (no zip).
            Defaults to False.
    """

    def __init__(self, out_dir: str, zip_name: str = 'submission.zip',
                 write_in_val: bool = False):
        super().__init__(osp.join(out_dir, 'Annotations'), write_in_val)
        self.submission_dir = out_dir
        self.zip_path = osp.join(out_dir, zip_name)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None
                         ) -> None:
        barrier()  # every rank has written its videos
        if is_main_process():
            frames = expected_submission_frames(
                runner.test_loop.dataloader.dataset)
            count = make_submission_zip(self.out_dir, frames, self.zip_path)
            print_log(f'YouTube-VOS submission: {count} masks of '
                      f'{len(frames)} videos in {self.zip_path}',
                      logger='current')
        barrier()
