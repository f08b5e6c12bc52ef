"""Per-video fine-tuning: vosbench.apis.finetune and tools/finetune_video.py
on the tiny model (a few steps, small frames)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from vosbench.apis import finetune_on_first_frame, init_model
from vosbench.apis.finetune import lucid_training_batch
from vosbench.utils.mask_io import read_mask, write_mask

from tool_loading import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CFG = osp.join(REPO_ROOT, 'configs/_base_/models/stm_r18-tiny.py')
H, W = 48, 64


def first_frame():
    rng = np.random.default_rng(0)
    image = (rng.random((H, W, 3)) * 40 + 90).astype(np.uint8)
    labels = np.zeros((H, W), np.uint8)
    image[8:24, 8:28] = (220, 40, 40)
    labels[8:24, 8:28] = 2
    cv2.circle(image, (46, 32), 9, (40, 40, 220), -1)
    cv2.circle(labels, (46, 32), 9, 5, -1)
    return image, labels


def write_video(folder, num_frames=4):
    image, labels = first_frame()
    os.makedirs(folder, exist_ok=True)
    for t in range(num_frames):
        moved = np.roll(image, t, axis=1)
        cv2.imwrite(osp.join(folder, f'{t:05d}.jpg'), moved[..., ::-1])
    return labels


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = init_model(TINY_CFG)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return model, path


def test_training_batch_renumbers_objects():
    image, labels = first_frame()
    frames, samples = lucid_training_batch(
        image, labels, batch_size=2, num_frames=3,
        rng=np.random.default_rng(0))
    assert frames.shape == (2, 3, 3, H, W)
    assert 0 <= float(frames.min()) and float(frames.max()) <= 1
    assert samples[0]['masks'].shape == (3, H, W)
    assert samples[0]['masks'].dtype == torch.long
    assert set(samples[0]['masks'].unique().tolist()) == {0, 1, 2}
    assert samples[0]['num_objects'] == 2
    frames, samples = lucid_training_batch(
        image, labels, batch_size=1, crop=(32, 32),
        rng=np.random.default_rng(0))
    assert frames.shape == (1, 3, 3, 32, 32)


def test_finetune_changes_a_copy_and_still_segments(tiny_ckpt):
    model, _ = tiny_ckpt
    before = {k: v.clone() for k, v in model.state_dict().items()}
    image, labels = first_frame()
    lines = []
    tuned = finetune_on_first_frame(model, image, labels, iters=3, lr=1e-3,
                                    batch_size=1, seed=0, log_interval=1,
                                    logger=lines.append)
    assert len(lines) == 3 and 'loss' in lines[0]
    assert not tuned.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # original untouched
    changed = [k for k, v in tuned.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert changed
    with torch.no_grad():
        results = list(tuned.segment_video([image, image], labels))
    assert len(results) == 2
    assert set(np.unique(results[1]).tolist()) <= {0, 2, 5}
    with pytest.raises(ValueError, match='no object'):
        finetune_on_first_frame(model, image, np.zeros((H, W), np.uint8),
                                iters=1)


def test_tool_single_video(tiny_ckpt, tmp_path, capsys):
    _, ckpt = tiny_ckpt
    labels = write_video(str(tmp_path / 'video'))
    write_mask(str(tmp_path / 'first.png'), labels)
    out = str(tmp_path / 'out')
    saved = str(tmp_path / 'tuned.pth')
    tool = load_tool('tools/finetune_video.py')
    written = tool.main([TINY_CFG, ckpt, str(tmp_path / 'video'),
                         str(tmp_path / 'first.png'), '--out', out,
                         '--iters', '2', '--batch-size', '1', '--lr', '1e-3',
                         '--log-interval', '1', '--save-checkpoint', saved])
    assert sorted(os.listdir(out)) == [f'{t:05d}.png' for t in range(4)]
    assert len(written) == 4
    assert read_mask(osp.join(out, '00003.png')).shape == (H, W)
    assert 'fine-tune step 2/2' in capsys.readouterr().out
    # the fine-tuned weights load as an ensemble member would load them
    init_model(TINY_CFG, saved)


def test_tool_batch_mode_resumes(tiny_ckpt, tmp_path, capsys):
    from vosbench.datasets.synthetic import generate_synthetic_davis
    _, ckpt = tiny_ckpt
    root = str(tmp_path / 'davis')
    generate_synthetic_davis(root, num_train=1, num_val=1, num_frames=3,
                             height=H, width=W, seed=0, progress=False)
    data_cfg = tmp_path / 'data_cfg.py'
    data_cfg.write_text(
        'test_dataloader = dict(dataset=dict(type="DAVISDataset", '
        f'data_root={root!r}, split="val", test_mode=True, '
        'pipeline=[dict(type="PackVideoInputs")]))\n')
    out = str(tmp_path / 'out')
    tool = load_tool('tools/finetune_video.py')
    args = [TINY_CFG, ckpt, '--dataset-config', str(data_cfg), '--out', out,
            '--iters', '1', '--batch-size', '1', '--log-interval', '0']
    summary = tool.main(args)
    assert len(summary['done']) == 1 and not summary['skipped']
    seq = summary['done'][0]
    assert len(os.listdir(osp.join(out, seq))) == 3
    summary = tool.main(args)
    assert summary['skipped'] == [seq] and not summary['done']
    assert 'skipped' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tool.parse_args([TINY_CFG, ckpt])
