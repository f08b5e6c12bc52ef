"""Tests of vosbench.apis.inference: init_model and segment_folder."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from vosbench.apis import (init_model, iter_segment_folder, list_frames,
                           segment_folder)
from vosbench.engine import UnsafeCheckpointError
from vosbench.utils.mask_io import read_mask, write_mask

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CFG = osp.join(REPO_ROOT, 'configs/_base_/models/stm_r18-tiny.py')
HEIGHT, WIDTH = 40, 56


@pytest.fixture(scope='module')
def tiny_model():
    torch.manual_seed(0)
    return init_model(TINY_CFG)


def write_video(folder, num_frames=4, height=HEIGHT, width=WIDTH, seed=0):
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for t in range(num_frames):
        path = osp.join(folder, f'{t:05d}.jpg')
        cv2.imwrite(path, rng.randint(0, 256, (height, width, 3),
                                      dtype=np.uint8))
        paths.append(path)
    return paths


def first_mask(height=HEIGHT, width=WIDTH):
    labels = np.zeros((height, width), np.uint8)
    labels[4:20, 4:24] = 3
    labels[20:36, 28:52] = 7
    labels[-2:, :] = 255
    return labels


def test_init_model_without_checkpoint(tiny_model):
    assert type(tiny_model).__name__ == 'STM'
    assert not tiny_model.training
    assert isinstance(tiny_model.cfg, Config)
    assert next(tiny_model.parameters()).device.type == 'cpu'
    # from a Config object, with overrides
    model = init_model(Config.fromfile(TINY_CFG),
                       cfg_options={'model.test_cfg.mem_every': 3})
    assert model.test_cfg['mem_every'] == 3
    assert model.new_stream([1]).bank.mem_every == 3
    with pytest.raises(TypeError):
        init_model(42)


def test_init_model_loads_checkpoint(tmp_path):
    torch.manual_seed(123)
    source = init_model(TINY_CFG)
    with torch.no_grad():
        for param in source.parameters():
            param.add_(0.5)
    path = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=source.state_dict(), meta={}), path)

    torch.manual_seed(0)
    fresh = init_model(TINY_CFG)
    loaded = init_model(TINY_CFG, checkpoint=path)
    expected = source.state_dict()
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, expected[key], msg=key)
    assert not torch.equal(fresh.decoder.cls_conv.weight,
                           loaded.decoder.cls_conv.weight)
    assert not loaded.training


def test_init_model_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        init_model(TINY_CFG, checkpoint=str(tmp_path / 'missing.pth'))
    # a state dict of another architecture does not load silently
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict={'decoder.cls_conv.weight': torch.zeros(1)},
                    meta={}), path)
    with pytest.raises(RuntimeError):
        init_model(TINY_CFG, checkpoint=path)


class _Payload:

    def __init__(self, marker):
        with open(marker, 'w') as f:
            f.write('executed')

    def __reduce__(self):
        return (_Payload, (self.marker, ))


def test_init_model_refuses_pickled_code(tmp_path):
    marker = str(tmp_path / 'marker')
    payload = object.__new__(_Payload)
    payload.marker = marker
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta={'x': payload}), path)
    with pytest.raises(UnsafeCheckpointError, match='_Payload'):
        init_model(TINY_CFG, checkpoint=path)
    assert not osp.exists(marker)


def test_segment_folder_writes_palette_pngs(tiny_model, tmp_path):
    frames = write_video(str(tmp_path / 'frames'))
    mask_path = str(tmp_path / 'first.png')
    labels0 = first_mask()
    write_mask(mask_path, labels0)
    out_dir = str(tmp_path / 'out')
    written = segment_folder(tiny_model, str(tmp_path / 'frames'), mask_path,
                             out_dir)
    assert written == [osp.join(out_dir, f'{t:05d}.png')
                       for t in range(len(frames))]
    assert sorted(os.listdir(out_dir)) == [f'{t:05d}.png'
                                           for t in range(len(frames))]
    from PIL import Image
    for path in written:
        with Image.open(path) as img:
            assert img.mode == 'P'
        labels = read_mask(path)
        assert labels.shape == (HEIGHT, WIDTH)
        assert set(np.unique(labels)) <= {0, 3, 7}
    np.testing.assert_array_equal(read_mask(written[0]),
                                  np.where(labels0 == 255, 0, labels0))
    # an array works as the first mask too, and iterating gives the names
    results = list(iter_segment_folder(tiny_model, str(tmp_path / 'frames'),
                                       labels0))
    assert [name for name, _ in results] == [f'{t:05d}' for t in range(4)]
    for (_, labels), path in zip(results, written):
        np.testing.assert_array_equal(labels, read_mask(path))


def test_segment_folder_maps_object_ids(tiny_model, tmp_path, monkeypatch):
    """Predicted channels map back to the first mask's ids (3 and 7)."""
    def fake_decode_objects(memory_key, memory_value, query_key,
                            query_value, skips):
        h, w = (16 * d for d in query_key.shape[-2:])
        probs = torch.zeros(1, 2, h, w)
        probs[:, 0, :h // 2] = 0.9
        probs[:, 1, h // 2:] = 0.9
        return probs

    monkeypatch.setattr(tiny_model, 'decode_objects', fake_decode_objects)
    write_video(str(tmp_path / 'frames'), num_frames=2, height=32, width=32)
    written = segment_folder(tiny_model, str(tmp_path / 'frames'),
                             first_mask(32, 32), str(tmp_path / 'out'))
    labels = read_mask(written[1])
    assert (labels[:16] == 3).all() and (labels[16:] == 7).all()


def test_segment_folder_rejects_frame_of_another_size(tiny_model, tmp_path):
    frames = write_video(str(tmp_path / 'frames'), num_frames=3)
    cv2.imwrite(frames[2], np.zeros((HEIGHT + 16, WIDTH, 3), np.uint8))
    mask_path = str(tmp_path / 'first.png')
    write_mask(mask_path, first_mask())
    with pytest.raises(ValueError) as info:
        segment_folder(tiny_model, str(tmp_path / 'frames'), mask_path,
                       str(tmp_path / 'out'))
    assert frames[2] in str(info.value)
    # a first mask of another size than the frames
    write_mask(mask_path, first_mask(HEIGHT, WIDTH + 8))
    with pytest.raises(ValueError) as info:
        segment_folder(tiny_model, str(tmp_path / 'frames'), mask_path,
                       str(tmp_path / 'out2'))
    assert frames[0] in str(info.value)


def test_list_frames(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_frames(str(tmp_path / 'nowhere'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no frames'):
        list_frames(str(tmp_path / 'empty'))
    write_video(str(tmp_path / 'v'), num_frames=3)
    (tmp_path / 'v' / 'notes.txt').write_text('x')
    assert [osp.basename(p) for p in list_frames(str(tmp_path / 'v'))] == [
        '00000.jpg', '00001.jpg', '00002.jpg']
