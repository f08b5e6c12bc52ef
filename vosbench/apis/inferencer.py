"""Segment one's own video from Python: :class:`VOSInferencer`.

Modelled on mmsegmentation's ``MMSegInferencer`` (a config or config name,
a checkpoint and a device; callable; visualisation built in) and on Cutie's
``InferenceCore.step`` for frame-by-frame use::

    inferencer = VOSInferencer(CONFIG, CKPT, device='cpu')
    result = inferencer('my_video.mp4', 'first_mask.png')
    result.save('out/', overlay='out/overlay.webm')
    # or: for name, labels in result: ...

The video runs through the same inference path as ``tools/test.py``
(:func:`vosbench.inference.segment_video`); frames are decoded one at a
time and dropped once segmented.
"""
import glob
import os
import os.path as osp
import resource
import sys
from typing import (Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import cv2
import numpy as np
import torch

from vosbench.datasets.frame_sources import frame_size
from vosbench.datasets.video_sources import open_frame_source
from vosbench.inference import segment_video
from vosbench.inference.video_segmenter import channel_argmax
from vosbench.utils.labels import object_ids
from vosbench.utils.mask_io import read_user_mask, write_mask
from .inference import init_model

__all__ = ['MaskInputError', 'VOSInferencer', 'VOSResult', 'peak_memory',
           'resolve_config']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MaskInput = Union[str, np.ndarray]


def resolve_config(config: str) -> str:
    """A config file, or the name of one under ``configs/`` (with or
    without ``.py``)."""
    if osp.isfile(config):
        return config
    name = osp.basename(config)
    name = name if name.endswith('.py') else name + '.py'
    found = glob.glob(osp.join(REPO, 'configs', '**', name), recursive=True)
    if len(found) == 1:
        return found[0]
    where = f'{len(found)} configs named {name}' if found else \
        f'no config named {name} under {osp.join(REPO, "configs")}'
    raise FileNotFoundError(f'config {config!r}: not a file, and {where}')


def peak_memory() -> Dict[str, float]:
    """Peak resident memory of this process (``rss_mb``) and, where CUDA is
    used, the peak GPU memory allocated by torch (``cuda_mb``)."""
    scale = 1024 if sys.platform != 'darwin' else 1024 * 1024
    out = dict(rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss *
               scale / 2**20)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out['cuda_mb'] = torch.cuda.max_memory_allocated() / 2**20
    return out


class MaskInputError(ValueError):
    """A given mask does not fit the video (size, no object, no such
    frame). The message names the file."""


class VOSResult:
    """The segmentation of one video, computed as it is iterated (once).

    Iterating yields ``(frame name, (H, W) uint8 labels)``; :meth:`save`
    writes one palette PNG per frame and optionally an overlay video.
    Nothing but the current frame is held, so a video of any length fits.

    Attributes:
        names (list[str]): Frame names (``00000``... for a video file).
        fps (float): The video's frame rate (25 for a frame folder).
        object_ids (list[int]): The objects given, in order.
    """

    def __init__(self, model, frames, names: List[str], fps: float,
                 given: Dict[int, np.ndarray]):
        self._model = model
        self._frames = frames
        self.names = names
        self.fps = fps
        self.given = given
        self.object_ids = sorted({i for labels in given.values()
                                  for i in object_ids(labels)})
        self._consumed = False
        self.last_frame: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.names)

    def _remember(self) -> Iterator[np.ndarray]:
        for frame in self._frames:
            self.last_frame = frame
            yield frame

    def __iter__(self) -> Iterator[Tuple[str, np.ndarray]]:
        if self._consumed:
            raise RuntimeError('a VOSResult is computed as it is iterated, '
                               'once; call the inferencer again to segment '
                               'the video again')
        self._consumed = True
        labels = segment_video(self._model, self._remember(),
                               given_labels=self.given)
        with torch.no_grad():
            yield from zip(self.names, labels)

    def save(self, out_dir: str, overlay: Optional[str] = None,
             side_by_side: bool = False, show_ids: bool = False,
             progress: bool = False) -> dict:
        """Write ``out_dir/<frame>.png`` (palette PNGs) for every frame and,
        with ``overlay``, a video of the frames with the objects coloured
        and outlined (``side_by_side``: the input on the left).

        Each PNG is complete once it has its name; when the video fails
        part way, the PNGs of the frames before stay and the error names
        the frame. Returns ``dict(written, seconds, fps, codec, memory)``.
        """
        import time

        from vosbench.visualization import (OverlayVideoWriter,
                                            overlay_masks)
        from vosbench.visualization import side_by_side as beside
        os.makedirs(out_dir, exist_ok=True)
        writer = OverlayVideoWriter(overlay, self.fps) if overlay else None
        bar = None
        if progress:
            from mmengine.utils import ProgressBar
            bar = ProgressBar(len(self), file=sys.stderr)
        written = 0
        start = time.perf_counter()
        try:
            for name, labels in self:
                write_mask(osp.join(out_dir, f'{name}.png'), labels)
                written += 1
                if writer is not None:
                    image = overlay_masks(self.last_frame, labels,
                                          object_ids=show_ids)
                    writer.write(beside(self.last_frame, image)
                                 if side_by_side else image)
                if bar is not None:
                    bar.update()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if writer is not None:
            writer.close()
        seconds = time.perf_counter() - start
        return dict(written=written, seconds=seconds,
                    fps=written / seconds if seconds > 0 else float('nan'),
                    codec=writer.codec if writer else None,
                    codec_note=writer.codec_note if writer else '',
                    memory=peak_memory())


class VOSInferencer:
    """A VOS model ready to segment videos.

    Args:
        model (str): A config file, or a config name under ``configs/``.
        checkpoint (str, optional): Its weights (loaded strictly, with the
            safe loader).
        device (str): Defaults to 'cpu'.
        max_memory_frames (int, optional): Cap on the frames kept in memory
            (``test_cfg.max_memory_frames``): memory and time per frame stay
            flat on long videos. Defaults to the config's.
        max_size (int, optional): Process frames whose shorter side is
            larger at that shorter side (``test_cfg.max_size``); the masks
            come out at the video's size. Defaults to the config's.
        top_k (int, optional): Keep the ``top_k`` largest memory
            affinities per query position (``test_cfg.top_k``). Defaults to
            the config's (off: STM exactly).
        precision (str, optional): 'fp32' (exact), 'bf16' (CPU and CUDA)
            or 'fp16' (CUDA) (``test_cfg.precision``). Defaults to the
            config's (fp32).
        object_chunk_size (int, optional): Encode and decode this many
            objects at a time (``test_cfg.object_chunk_size``), so that
            peak memory stays flat with the number of objects; the result
            equals all at once to float rounding. Defaults to the config's
            (all at once).
        cfg_options (dict, optional): Other config overrides.
    """

    def __init__(self, model: str, checkpoint: Optional[str] = None,
                 device: str = 'cpu', max_memory_frames: Optional[int] = None,
                 max_size: Optional[int] = None, top_k: Optional[int] = None,
                 precision: Optional[str] = None,
                 object_chunk_size: Optional[int] = None,
                 cfg_options: Optional[dict] = None):
        options = dict(cfg_options or {})
        for key, value in (('max_memory_frames', max_memory_frames),
                           ('max_size', max_size), ('top_k', top_k),
                           ('precision', precision),
                           ('object_chunk_size', object_chunk_size)):
            if value is not None:
                options[f'model.test_cfg.{key}'] = value
        self.config = resolve_config(model)
        self.model = init_model(self.config, checkpoint, device=device,
                                cfg_options=options)
        self.device = device
        self._stream = None
        self._stream_ids: List[int] = []

    # -- whole videos ---------------------------------------------------
    def __call__(self, video: Union[str, Sequence[np.ndarray]],
                 first_mask: Optional[MaskInput] = None,
                 masks: Union[str, Mapping, None] = None,
                 resize_masks: bool = False) -> VOSResult:
        """Set up the segmentation of ``video`` (computed when the result is
        iterated or saved).

        Args:
            video (str | Sequence[np.ndarray]): A video file, a folder of
                frames, or ``(H, W, 3)`` uint8 RGB frames.
            first_mask (str | np.ndarray, optional): The first frame's mask:
                a file (palette PNG, 0/255 grey PNG, or an RGB mask, each
                colour one object) or ``(H, W)`` labels.
            masks (str | Mapping, optional): Masks of later frames, for
                objects that appear there: a folder of ``<frame name>.png``
                files, or ``{frame index or name: file or labels}``.
            resize_masks (bool): Resize masks of another size than the
                video to it (nearest neighbour) instead of refusing them.
        """
        if isinstance(video, str):
            frames, names, fps = open_frame_source(video)
            video_name = video
        else:
            frames = list(video)
            if not frames:
                raise ValueError('the video has no frames')
            names = [f'{t:05d}' for t in range(len(frames))]
            fps, video_name = 25.0, 'the given frames'
        size = self._video_size(frames)
        given = self._given_masks(first_mask, masks, names, size,
                                  video_name, resize_masks)
        return VOSResult(self.model, frames, names, fps, given)

    @staticmethod
    def _video_size(frames) -> Tuple[int, int]:
        size = getattr(frames, 'size', None)
        if size is not None:
            return tuple(size)
        if hasattr(frames, 'paths'):  # a frame folder: its first frame
            return frame_size(frames.paths[0])
        return tuple(np.asarray(frames[0]).shape[:2])

    def _given_masks(self, first_mask, masks, names, size, video_name,
                     resize_masks) -> Dict[int, np.ndarray]:
        items: List[Tuple[int, MaskInput]] = []
        if first_mask is not None:
            items.append((0, first_mask))
        index_of = {name: t for t, name in enumerate(names)}
        if isinstance(masks, str):
            if not osp.isdir(masks):
                raise FileNotFoundError(f'mask folder not found: {masks}')
            entries = {osp.splitext(f)[0]: osp.join(masks, f)
                       for f in sorted(os.listdir(masks))
                       if f.lower().endswith('.png')}
        else:
            entries = dict(masks or {})
        for key, mask in entries.items():
            t = key if isinstance(key, int) else index_of.get(str(key))
            if t is None or not 0 <= t < len(names):
                raise MaskInputError(
                    f'mask {mask if isinstance(mask, str) else key!r}: no '
                    f'frame {key!r} in {video_name} (frames '
                    f'{names[0]}..{names[-1]})')
            if t == 0 and first_mask is not None:
                raise MaskInputError(f'frame {names[0]} is given twice (the '
                                     'first mask and the mask folder)')
            items.append((t, mask))
        if not items:
            raise MaskInputError('no mask given: give the first frame\'s '
                                 'mask')
        given = {}
        for t, mask in sorted(items, key=lambda item: item[0]):
            given[t] = self._read_mask(mask, size, resize_masks,
                                       names[t], video_name)
        first = min(given)
        if not object_ids(given[first]):
            raise MaskInputError(
                f'{self._mask_name(given, first, items)}: the mask has no '
                'object (all background)')
        return given

    @staticmethod
    def _mask_name(given, t, items) -> str:
        mask = dict(items)[t]
        return mask if isinstance(mask, str) else f'the mask of frame {t}'

    @staticmethod
    def _read_mask(mask: MaskInput, size, resize: bool, frame_name: str,
                   video_name: str) -> np.ndarray:
        name = mask if isinstance(mask, str) else \
            f'the mask of frame {frame_name}'
        labels = read_user_mask(mask) if isinstance(mask, str) else \
            np.asarray(mask)
        if labels.ndim != 2:
            raise MaskInputError(f'{name}: a mask must be (H, W) labels, got '
                                 f'shape {labels.shape}')
        labels = labels.astype(np.uint8, copy=False)
        if labels.shape != tuple(size):
            if not resize:
                raise MaskInputError(
                    f'{name} is {labels.shape[0]}x{labels.shape[1]} (HxW) '
                    f'but the frames of {video_name} are {size[0]}x'
                    f'{size[1]}; resize it, or pass resize_masks=True '
                    '(--resize-masks) to resize it with nearest neighbour')
            labels = cv2.resize(labels, (size[1], size[0]),
                                interpolation=cv2.INTER_NEAREST_EXACT)
        return labels

    # -- frame by frame -------------------------------------------------
    @torch.no_grad()
    def step(self, frame: np.ndarray,
             mask: Optional[np.ndarray] = None) -> np.ndarray:
        """Segment the next frame of a live video (as Cutie's
        ``InferenceCore.step``).

        Args:
            frame (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            mask (np.ndarray, optional): ``(H, W)`` labels of this frame:
                required on the first call; later, objects not seen yet
                are added from it (known ones keep being tracked).

        Returns:
            np.ndarray: ``(H, W)`` uint8 labels of the frame.
        """
        if self._stream is None:
            if mask is None or not object_ids(np.asarray(mask)):
                raise MaskInputError('the first step needs a mask with at '
                                     'least one object')
            self._stream_ids = object_ids(np.asarray(mask))
            self._stream = self.model.new_stream(self._stream_ids)
            probs = self._stream.start(frame, np.asarray(mask))
        else:
            new = [] if mask is None else [
                i for i in object_ids(np.asarray(mask))
                if i not in self._stream_ids]
            probs = self._stream.step(
                frame, None if not new else np.asarray(mask), new)
            self._stream_ids += new
        lut = np.array([0] + self._stream.object_ids, dtype=np.uint8)
        return lut[channel_argmax(probs)]

    def reset(self) -> None:
        """Forget the live video of :meth:`step` (start a new one)."""
        self._stream = None
        self._stream_ids = []

