"""Which frames a sequence has: the frame-list rules of the DAVIS layout.

One function, :func:`sequence_frames`, decides the frames of a sequence
from the names of its image files and of its ground-truth files. The
datasets (what ``tools/train.py`` and ``tools/test.py`` run on), the
``DAVISMetric`` (what ``tools/test.py`` scores) and the scoring of results
folders (``tools/eval_results.py``) all use it, so that the three see the
same frames or fail with the same message.

The rules:

- A frame is a name: the file name without its extension (``00000`` for
  ``JPEGImages/480p/bear/00000.jpg`` and ``Annotations/480p/bear/00000.png``).
  The frames of a sequence are its images, in sorted order; where no images
  are known (a ground-truth root without ``JPEGImages``, as
  ``tools/eval_results.py`` accepts), its ground-truth files.
- Every ground-truth file must have its image: the evaluator scores every
  ground-truth frame, so a frame with ground truth but no image would be
  scored by ``tools/eval_results.py`` and silently dropped by a test run.
  It is an error naming the sequence and the frame.
- Two image files with the same name (``00000.jpg`` and ``00000.png``) are
  an error: which one is the frame is not defined.
- ``require='first'`` (DAVIS, semi-supervised): the first frame has ground
  truth (it gives the objects). ``require='all'`` (DAVIS training): every
  frame has ground truth, the first one first. ``require='any'`` (sparse
  ground truth, YouTube-VOS): at least one frame has. Frames without ground
  truth are otherwise allowed (sparse ground truth; they are run on and not
  scored).

This module only uses the standard library: ``tools/eval_results.py``
imports it without torch.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, NamedTuple, Optional

__all__ = [
    'IMAGE_EXTENSIONS', 'MASK_EXTENSION', 'FrameListError', 'SequenceFrames',
    'SplitFileError', 'folder_frames', 'read_split_sequences',
    'sequence_frames', 'split_file_candidates'
]

#: Extensions of frame images (compared case-insensitively).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
#: Extension of ground-truth (and predicted) masks.
MASK_EXTENSION = '.png'

_REQUIREMENTS = ('first', 'all', 'any')


class FrameListError(ValueError):
    """The files of a sequence break a frame-list rule. The message names
    the sequence and, where one is to blame, the frame and its file."""


class SequenceFrames(NamedTuple):
    """The frames of a sequence (see :func:`sequence_frames`).

    Attributes:
        names (list[str]): Frame names, sorted.
        image_files (list[str] | None): The image file (name only) of each
            frame; None when no images were given.
        annotated (list[bool]): Whether each frame has a ground-truth file
            (``<name>.png``).
    """
    names: List[str]
    image_files: Optional[List[str]]
    annotated: List[bool]

    @property
    def annotated_names(self) -> List[str]:
        """Names of the frames with ground truth, in order."""
        return [n for n, a in zip(self.names, self.annotated) if a]


def folder_frames(folder: str, extensions: Iterable[str],
                  seq_name: Optional[str] = None) -> Dict[str, str]:
    """``{frame name: file name}`` of the files of ``folder`` that end with
    one of ``extensions`` (case-insensitive), sorted by name.

    Raises:
        FileNotFoundError: if ``folder`` is not a folder.
        FrameListError: if two files have the same frame name.
    """
    extensions = tuple(e.lower() for e in extensions)
    files = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(extensions))
    frames: Dict[str, str] = {}
    for file in files:
        name = osp.splitext(file)[0]
        if name in frames:
            where = f'sequence {seq_name!r}, ' if seq_name else ''
            raise FrameListError(
                f'{where}frame {name!r}: two files in {folder} '
                f'({frames[name]} and {file}); keep one')
        frames[name] = file
    return dict(sorted(frames.items()))


def sequence_frames(seq_name: str,
                    image_names: Optional[Iterable[str]],
                    mask_names: Iterable[str],
                    require: str = 'first',
                    image_dir: Optional[str] = None,
                    mask_dir: Optional[str] = None,
                    image_files: Optional[Iterable[str]] = None
                    ) -> SequenceFrames:
    """The frames of a sequence, by the rules of the module docstring.

    Args:
        seq_name (str): The sequence, for messages.
        image_names (Iterable[str] | None): Frame names of its images
            (without extension); None where no images are known (the frames
            are then those of the ground truth).
        mask_names (Iterable[str]): Frame names of its ground-truth files.
        require (str): 'first', 'all' or 'any' (see the module docstring).
        image_dir, mask_dir (str, optional): The folders, for messages.
        image_files (Iterable[str], optional): The image file of each of
            ``image_names``, in the same order (kept in the result).

    Returns:
        SequenceFrames: names, image files and which frames are annotated.

    Raises:
        FrameListError: naming the sequence and the frame at fault.
    """
    if require not in _REQUIREMENTS:
        raise ValueError(f'require must be one of {_REQUIREMENTS}, got '
                         f'{require!r}')
    masks = sorted(set(str(n) for n in mask_names))
    image_dir_text = f' in {image_dir}' if image_dir else ''
    mask_dir_text = f' in {mask_dir}' if mask_dir else ''

    def mask_file(name: str) -> str:
        file = name + MASK_EXTENSION
        return osp.join(mask_dir, file) if mask_dir else file
    if image_names is None:
        names, files = masks, None
        if not names:
            raise FrameListError(f'sequence {seq_name!r}: no ground-truth '
                                 f'file{mask_dir_text}')
    else:
        image_names = [str(n) for n in image_names]
        if image_files is None:
            names, files = sorted(image_names), None
        else:
            image_files = [str(f) for f in image_files]
            if len(image_files) != len(image_names):
                raise ValueError('image_files must give one file per name')
            pairs = sorted(zip(image_names, image_files))
            names, files = [n for n, _ in pairs], [f for _, f in pairs]
        if not names:
            raise FrameListError(f'sequence {seq_name!r}: no frames (no '
                                 f'image{image_dir_text})')
        known = set(names)
        orphans = [n for n in masks if n not in known]
        if orphans:
            more = (f' ({len(orphans)} such frames: '
                    f'{", ".join(orphans[:5])}'
                    f'{", ..." if len(orphans) > 5 else ""})'
                    if len(orphans) > 1 else '')
            raise FrameListError(
                f'sequence {seq_name!r}, frame {orphans[0]!r}: it has ground '
                f'truth ({mask_file(orphans[0])}) but no '
                f'image{image_dir_text}{more}. The evaluator scores every '
                'ground-truth frame, so the frame cannot be left out: '
                'restore its image or remove its ground truth')
    mask_set = set(masks)
    annotated = [n in mask_set for n in names]
    if require in ('first', 'all') and not annotated[0]:
        raise FrameListError(
            f'sequence {seq_name!r}, frame {names[0]!r}: the first frame has '
            f'no ground truth ({mask_file(names[0])}); '
            'it gives the objects to segment')
    if require == 'all' and not all(annotated):
        missing = [n for n, a in zip(names, annotated) if not a]
        raise FrameListError(
            f'sequence {seq_name!r}, frame {missing[0]!r}: training needs '
            f'the ground truth of every frame; {mask_file(missing[0])} is '
            f'missing ({len(missing)} missing: {missing[:5]}'
            f'{", ..." if len(missing) > 5 else ""})')
    if require == 'any' and not any(annotated):
        raise FrameListError(f'sequence {seq_name!r}: no frame has ground '
                             f'truth{mask_dir_text}')
    return SequenceFrames(names, files, annotated)


def split_file_candidates(data_root: str, split: str, year: str = '2017',
                          resolution: str = '480p') -> List[str]:
    """The split files of a DAVIS root, in the order they are looked for:
    ``ImageSets/<year>/<split>.txt`` and, for DAVIS 2016, the release's
    ``ImageSets/<resolution>/<split>.txt``. The first that exists is the
    split (the datasets and ``tools/eval_results.py`` both follow this)."""
    candidates = [osp.join(data_root, 'ImageSets', str(year), f'{split}.txt')]
    if str(year) == '2016':
        candidates.append(
            osp.join(data_root, 'ImageSets', resolution, f'{split}.txt'))
    return candidates


class SplitFileError(ValueError):
    """A split file is missing, empty or has a line that points nowhere.
    The message names the file and the line."""


def read_split_sequences(path: str,
                         data_root: Optional[str] = None) -> List[str]:
    """The sequences of a split file, in order of first appearance.

    Two formats are read:

    - one sequence name a line (DAVIS 2017, ``ImageSets/2017/val.txt``);
    - the DAVIS 2016 release's frame list
      (``ImageSets/<resolution>/<split>.txt``), one frame a line as an image
      path and an annotation path relative to the dataset root::

          /JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png

      The sequence is the folder of the paths.

    Args:
        path (str): The split file.
        data_root (str, optional): If given, every path of a DAVIS 2016
            line must be a file under it.

    Raises:
        SplitFileError: naming the file (and the line): the file is
            missing, lists nothing, or a line's paths point nowhere or to
            two sequences.
    """
    if not osp.isfile(path):
        raise SplitFileError(f'split file not found: {path}')
    names: List[str] = []
    seen = set()
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if '/' in fields[0]:
                seq = _frame_list_sequence(path, number, fields, data_root)
            else:
                seq = fields[0]
            if seq not in seen:
                seen.add(seq)
                names.append(seq)
    if not names:
        raise SplitFileError(f'split file {path} lists no sequence')
    return names


def _frame_list_sequence(path: str, number: int, fields: List[str],
                         data_root: Optional[str]) -> str:
    """The sequence of one DAVIS 2016 split line (see
    :func:`read_split_sequences`)."""
    where = f'{path}, line {number}'
    if len(fields) != 2:
        raise SplitFileError(
            f'{where}: expected an image path and an annotation path '
            f'(e.g. /JPEGImages/480p/bear/00000.jpg '
            f'/Annotations/480p/bear/00000.png), got {" ".join(fields)!r}')
    sequences = {osp.basename(osp.dirname(f)) for f in fields}
    if len(sequences) != 1:
        raise SplitFileError(f'{where}: the image and the annotation are in '
                             f'different sequences ({" ".join(fields)})')
    if data_root is not None:
        for field in fields:
            file = osp.join(data_root, field.lstrip('/'))
            if not osp.isfile(file):
                raise SplitFileError(
                    f'{where}: {field} points to no file ({file} does not '
                    'exist; check data_root and resolution)')
    return sequences.pop()
