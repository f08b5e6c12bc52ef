"""Lazy frame sources (vosbench.datasets.frame_sources): test samples carry
their video as sources that decode a frame when it is accessed."""
import os
import pickle

import cv2
import numpy as np
import pytest

import vosbench.datasets.frame_sources as frame_sources
from vosbench.datasets.frame_sources import GivenMasks, ImageFrames, mask_size
from vosbench.datasets.transforms import PackVideoInputs
from vosbench.models.data_preprocessors import VOSDataPreprocessor
from vosbench.utils.image_io import FrameReadError
from vosbench.utils.mask_io import MaskReadError, write_mask


def write_frames(folder, num_frames, height=24, width=32):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for t in range(num_frames):
        path = os.path.join(folder, f'{t:05d}.png')
        cv2.imwrite(path, np.full((height, width, 3), 10 * t, np.uint8))
        paths.append(path)
    return paths


@pytest.fixture
def counted_reads(monkeypatch):
    """Counts the frames decoded through the frame sources."""
    reads = []
    read = frame_sources.read_frame

    def counting(path):
        reads.append(path)
        return read(path)

    monkeypatch.setattr(frame_sources, 'read_frame', counting)
    return reads


def test_frames_are_decoded_on_access(tmp_path, counted_reads):
    paths = write_frames(str(tmp_path), 4)
    frames = ImageFrames(paths)
    assert len(frames) == 4 and counted_reads == []
    frame = frames[2]
    assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
    assert (frame == 20).all()
    assert counted_reads == [paths[2]]
    assert [int(f[0, 0, 0]) for f in frames] == [0, 10, 20, 30]
    assert len(counted_reads) == 5


def test_frame_errors_name_the_file(tmp_path):
    paths = write_frames(str(tmp_path), 3)
    os.remove(paths[1])
    with open(paths[2], 'wb') as f:
        f.write(b'not an image')
    frames = ImageFrames(paths)
    assert frames[0].shape == (24, 32, 3)  # the damage shows on access
    with pytest.raises(FrameReadError, match='00001.png'):
        frames[1]
    with pytest.raises(FrameReadError, match='00002.png'):
        frames[2]


def test_frame_size_is_checked_against_the_given_mask(tmp_path):
    paths = write_frames(str(tmp_path), 2)
    cv2.imwrite(paths[1], np.zeros((24, 48, 3), np.uint8))
    mask = str(tmp_path / 'mask.png')
    write_mask(mask, np.zeros((24, 32), np.uint8))
    frames = ImageFrames(paths, size=lambda: mask_size(mask),
                         size_reference=mask)
    assert frames[0].shape == (24, 32, 3)
    with pytest.raises(ValueError) as info:
        frames[1]
    message = str(info.value)
    assert '00001.png' in message and 'mask.png' in message
    assert '(24, 48)' in message and '(24, 32)' in message


def test_given_masks(tmp_path):
    first, later = str(tmp_path / 'a.png'), str(tmp_path / 'b.png')
    labels = np.zeros((24, 32), np.uint8)
    labels[2:5, 3:9] = 3
    write_mask(first, labels)
    write_mask(later, labels * 0 + 255)
    given = GivenMasks([None, first, None, later])
    assert len(given) == 4
    assert given.indices == [1, 3] and given.first_path == first
    assert given.size() == (24, 32)
    assert given[0] is None
    np.testing.assert_array_equal(given[1], labels)
    loaded = given.load()
    assert sorted(loaded) == [1, 3]
    assert (loaded[3] == 255).all()
    assert GivenMasks([None, None]).size() is None
    with pytest.raises(MaskReadError, match='missing.png'):
        GivenMasks([str(tmp_path / 'missing.png')]).size()
    with pytest.raises(MaskReadError, match='missing.png'):
        GivenMasks([str(tmp_path / 'missing.png')])[0]


def test_sources_survive_pickling_and_cast_data(tmp_path, counted_reads):
    """DataLoader workers pickle samples, and mmengine's ``cast_data``
    walks sequences element by element: neither may decode the video."""
    paths = write_frames(str(tmp_path), 3)
    mask = str(tmp_path / 'mask.png')
    write_mask(mask, np.zeros((24, 32), np.uint8))
    sample = PackVideoInputs()(dict(
        seq_name='v', frame_names=['0', '1', '2'], frame_paths=paths,
        mask_paths=[mask, None, None]))['data_samples']
    sample = pickle.loads(pickle.dumps(sample))
    batch = VOSDataPreprocessor()(dict(inputs=[None],
                                       data_samples=[sample]))
    frames = batch['data_samples'][0]['frames']
    assert isinstance(frames, ImageFrames)
    assert counted_reads == []
    assert frames[1].shape == (24, 32, 3)
    assert frames.size == (24, 32)


def test_packing_reads_no_file():
    sample = PackVideoInputs()(dict(
        seq_name='s', frame_names=['0', '1'], frame_paths=['f0', 'f1'],
        mask_paths=['m0', None]))['data_samples']
    assert isinstance(sample['frames'], ImageFrames)
    assert sample['given_masks'].indices == [0]
    with pytest.raises(FrameReadError, match='f0'):
        sample['frames'][0]  # files are first opened on access
