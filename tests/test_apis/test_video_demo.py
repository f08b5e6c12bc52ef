"""demo/video_demo.py and VOSInferencer on real video files written here
with cv2.VideoWriter, with a randomly initialised tiny STM."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from tool_run_helpers import save_tiny_checkpoint

from vosbench.apis import MaskInputError, VOSInferencer
from vosbench.datasets.video_sources import (VideoFileFrames, VideoReadError,
                                             open_frame_source)
from vosbench.utils.mask_io import DAVIS_PALETTE, read_mask, write_mask

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'demo', 'video_demo.py')
CONFIG = osp.join(REPO, 'configs', '_base_', 'models', 'stm_r18-tiny.py')
H, W, T = 48, 80, 12


def frame_at(t: int) -> np.ndarray:
    """RGB frame ``t``: a moving orange box and a still blue one."""
    frame = np.full((H, W, 3), 90, np.uint8)
    frame[8:24, 6 + t:22 + t] = (255, 160, 0)
    frame[28:44, 50:66] = (0, 60, 255)
    return frame


def first_labels() -> np.ndarray:
    labels = np.zeros((H, W), np.uint8)
    labels[8:24, 6:22] = 1
    return labels


def write_video(path: str, codec: str = 'mp4v', num_frames: int = T) -> str:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), 10,
                             (W, H))
    assert writer.isOpened()
    for t in range(num_frames):
        writer.write(cv2.cvtColor(frame_at(t), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(
        str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth'), seed=0)


@pytest.fixture(scope='module')
def inferencer(checkpoint):
    torch.set_num_threads(1)
    return VOSInferencer(CONFIG, checkpoint)


def run_demo(*args):
    """The demo in a fresh interpreter (exit status, stdout, stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, DEMO, *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=REPO)


class DemoRun:
    """What :func:`run_demo_here` returns, shaped like a finished process."""

    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def run_demo_here(capsys, *args):
    """The demo's main() in this process (no interpreter start-up), with
    the allocator left alone (the tests after this one measure memory)."""
    from tool_loading import load_tool
    demo = load_tool('demo/video_demo.py')
    capsys.readouterr()
    before = os.environ.get('VOSBENCH_KEEP_FREED_MEMORY')
    os.environ['VOSBENCH_KEEP_FREED_MEMORY'] = '0'
    try:
        demo.main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        if before is None:
            del os.environ['VOSBENCH_KEEP_FREED_MEMORY']
        else:
            os.environ['VOSBENCH_KEEP_FREED_MEMORY'] = before
    return DemoRun(code, capsys.readouterr().err)


def test_mp4_end_to_end_writes_every_frame_and_a_readable_overlay(
        tmp_path, checkpoint):
    video = write_video(str(tmp_path / 'clip.mp4'))
    mask = tmp_path / 'first.png'
    write_mask(str(mask), first_labels())
    out = tmp_path / 'out'
    overlay = out / 'overlay.webm'
    proc = run_demo(video, mask, CONFIG, checkpoint, '--out', out,
                    '--overlay', overlay, '--side-by-side', '--show-ids')
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(f for f in os.listdir(out) if f.endswith('.png'))
    assert pngs == [f'{t:05d}.png' for t in range(T)]
    assert read_mask(str(out / '00000.png')).tolist() == \
        first_labels().tolist()
    capture = cv2.VideoCapture(str(overlay))
    assert capture.isOpened()
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (H, 2 * W, 3)  # input beside the overlay
        count += 1
    assert count == T
    assert 'frames/s; peak RSS' in proc.stderr
    assert 'VP80' in proc.stderr  # the codec is named


def test_frame_folder_and_video_file_give_the_same_masks(tmp_path,
                                                         inferencer):
    folder = tmp_path / 'frames'
    folder.mkdir()
    for t in range(T):
        Image.fromarray(frame_at(t)).save(folder / f'{t:03d}.png')
    from_folder = list(inferencer(str(folder), first_labels()))
    assert [n for n, _ in from_folder] == [f'{t:03d}' for t in range(T)]
    frames = [frame_at(t) for t in range(T)]
    from_arrays = list(inferencer(frames, first_labels()))
    for (_, a), (_, b) in zip(from_folder, from_arrays):
        np.testing.assert_array_equal(a, b)  # lossless PNG frames


@pytest.mark.parametrize('fmt', ['palette', 'grey', 'rgb_palette',
                                 'rgb_any'])
def test_every_mask_format(tmp_path, inferencer, fmt):
    labels = first_labels()
    labels[28:44, 50:66] = 2
    path = str(tmp_path / 'mask.png')
    if fmt == 'palette':
        write_mask(path, labels)
        expected = labels
    elif fmt == 'grey':
        Image.fromarray(np.where(labels == 1, 255, 0).astype(np.uint8)).save(
            path)
        expected = (labels == 1).astype(np.uint8)
    elif fmt == 'rgb_palette':
        Image.fromarray(DAVIS_PALETTE[labels]).save(path)
        expected = labels
    else:  # colours outside the palette: each colour one object
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[labels == 1] = (250, 250, 10)
        rgb[labels == 2] = (10, 250, 250)
        Image.fromarray(rgb).save(path)
        expected = labels  # numbered in order of first appearance
    result = inferencer([frame_at(t) for t in range(3)], path)
    assert result.object_ids == sorted(set(expected.ravel()) - {0})
    name, first = next(iter(result))
    np.testing.assert_array_equal(first, expected)


def test_object_given_at_a_later_frame(tmp_path, checkpoint, capsys):
    video = write_video(str(tmp_path / 'clip.avi'), codec='MJPG')
    mask = tmp_path / 'first.png'
    write_mask(str(mask), first_labels())
    later = tmp_path / 'later'
    later.mkdir()
    second = np.zeros((H, W), np.uint8)
    second[28:44, 50:66] = 2
    write_mask(str(later / '00005.png'), second)
    out = tmp_path / 'out'
    proc = run_demo_here(capsys, video, mask, CONFIG, checkpoint, '--out',
                         out, '--masks', later)
    assert proc.returncode == 0, proc.stderr
    for t in range(T):
        labels = read_mask(str(out / f'{t:05d}.png'))
        if t < 5:
            assert 2 not in labels
        elif t == 5:
            assert (labels == 2).sum() == (second == 2).sum()
    assert "given at frames ['00000', '00005']" in proc.stderr


def test_mask_of_a_frame_the_video_lacks_is_an_error(tmp_path, inferencer):
    later = tmp_path / 'later'
    later.mkdir()
    write_mask(str(later / '00099.png'), first_labels())
    with pytest.raises(MaskInputError, match=r"00099\.png.*no frame "
                       "'00099'"):
        inferencer([frame_at(t) for t in range(3)], first_labels(),
                   masks=str(later))


def test_unreadable_video_names_the_file(tmp_path, checkpoint):
    bad = tmp_path / 'not_a_video.mp4'
    bad.write_text('hello')
    mask = tmp_path / 'first.png'
    write_mask(str(mask), first_labels())
    proc = run_demo(bad, mask, CONFIG, checkpoint, '--out', tmp_path / 'o')
    assert proc.returncode == 1
    assert f'cannot open the video {bad}' in proc.stderr
    with pytest.raises(VideoReadError, match='video file not found'):
        VideoFileFrames(str(tmp_path / 'missing.mp4'))


def test_truncated_video_keeps_the_masks_written(tmp_path, checkpoint,
                                                 capsys):
    video = write_video(str(tmp_path / 'clip.avi'), codec='MJPG',
                        num_frames=20)
    with open(video, 'rb') as f:
        data = f.read()
    with open(video, 'wb') as f:
        f.write(data[:len(data) // 2])
    source = VideoFileFrames(video)
    assert len(source) == 20  # the header's count
    mask = tmp_path / 'first.png'
    write_mask(str(mask), first_labels())
    out = tmp_path / 'out'
    proc = run_demo_here(capsys, video, mask, CONFIG, checkpoint, '--out',
                         out, '--overlay', out / 'o.webm')
    assert proc.returncode == 1
    assert f'the video {video} ended at frame' in proc.stderr
    pngs = sorted(f for f in os.listdir(out) if f.endswith('.png'))
    decoded = sum(1 for _ in _frames_until_error(video))
    assert 0 < len(pngs) == decoded < 20
    for png in pngs:  # complete files, readable
        assert read_mask(str(out / png)).shape == (H, W)
    assert not osp.exists(out / 'o.webm')  # no half-written video
    assert not [f for f in os.listdir(out) if '.tmp' in f]


def _frames_until_error(video):
    try:
        yield from VideoFileFrames(video)
    except VideoReadError:
        return


def test_mask_size_mismatch_names_both_sizes(tmp_path, inferencer,
                                             checkpoint, capsys):
    small = np.zeros((H // 2, W // 2), np.uint8)
    small[4:12, 3:11] = 1
    path = str(tmp_path / 'small.png')
    write_mask(path, small)
    frames = [frame_at(t) for t in range(3)]
    with pytest.raises(MaskInputError, match=r'small\.png is 24x40 \(HxW\) '
                       r'but the frames of the given frames are 48x80'):
        inferencer(frames, path)
    name, labels = next(iter(inferencer(frames, path, resize_masks=True)))
    assert labels.shape == (H, W) and (labels == 1).sum() == 4 * 8 * 8
    video = write_video(str(tmp_path / 'clip.mp4'))
    proc = run_demo_here(capsys, video, path, CONFIG, checkpoint, '--out',
                         tmp_path / 'o')
    assert proc.returncode == 1 and 'small.png is 24x40' in proc.stderr \
        and '48x80' in proc.stderr


def test_mask_with_no_object_is_an_error(tmp_path, inferencer):
    path = str(tmp_path / 'empty.png')
    write_mask(path, np.zeros((H, W), np.uint8))
    with pytest.raises(MaskInputError, match=r'empty\.png: the mask has no '
                       'object'):
        inferencer([frame_at(0)], path)


def test_step_by_step_equals_the_whole_video(inferencer):
    frames = [frame_at(t) for t in range(6)]
    whole = [labels for _, labels in inferencer(frames, first_labels())]
    inferencer.reset()
    steps = [inferencer.step(frames[0], first_labels())]
    steps += [inferencer.step(f) for f in frames[1:]]
    for a, b in zip(whole, steps):
        np.testing.assert_array_equal(a, b)
    inferencer.reset()


def test_result_is_computed_once(inferencer):
    result = inferencer([frame_at(0), frame_at(1)], first_labels())
    assert len(list(result)) == 2
    with pytest.raises(RuntimeError, match='once'):
        list(result)


def test_demo_caps_memory_frames_by_default(checkpoint):
    sys.path.insert(0, osp.dirname(DEMO))
    import video_demo
    args = video_demo.parse_args(['v.mp4', 'm.png', CONFIG, checkpoint,
                                  '--out', 'o'])
    assert args.max_memory_frames == 10
    capped = VOSInferencer(CONFIG, checkpoint, max_memory_frames=10)
    assert capped.model.test_cfg['max_memory_frames'] == 10


def test_max_size_top_k_bf16_give_masks_at_the_video_size(tmp_path,
                                                          checkpoint,
                                                          capsys):
    video = write_video(str(tmp_path / 'clip.mp4'))
    mask = tmp_path / 'first.png'
    write_mask(str(mask), first_labels())
    out = tmp_path / 'out'
    proc = run_demo_here(capsys, video, mask, CONFIG, checkpoint, '--out',
                         out, '--max-size', 24, '--top-k', 10,
                         '--precision', 'bf16')
    assert proc.returncode == 0, proc.stderr
    for t in range(T):
        assert read_mask(str(out / f'{t:05d}.png')).shape == (H, W)


def test_open_frame_source_reads_count_and_fps(tmp_path):
    video = write_video(str(tmp_path / 'clip.mp4'))
    source, names, fps = open_frame_source(video)
    assert len(source) == T and names[0] == '00000' and fps == 10
    frames = list(source)
    assert len(frames) == T and frames[0].shape == (H, W, 3)


def test_object_chunk_size_gives_the_masks_of_all_at_once(tmp_path,
                                                          checkpoint,
                                                          capsys):
    """--object-chunk-size (VOSInferencer(object_chunk_size=...)) reaches
    the model's test_cfg and segments two objects one at a time into the
    masks of both at once (up to the pixels where float rounding flips an
    argmax tie of this barely trained model: 2 of 3840 in frame 1 here; the
    probabilities are tested to 1e-5 in test_object_chunks.py)."""
    assert VOSInferencer(CONFIG, checkpoint, object_chunk_size=1) \
        .model.test_cfg['object_chunk_size'] == 1
    video = write_video(str(tmp_path / 'clip.mp4'))
    labels = first_labels()
    labels[4:12, 26:34] = 2
    mask = tmp_path / 'first.png'
    write_mask(str(mask), labels)
    outputs = []
    for extra in ([], ['--object-chunk-size', 1]):
        out = tmp_path / f'out{len(outputs)}'
        proc = run_demo_here(capsys, video, mask, CONFIG, checkpoint,
                             '--out', out, *extra)
        assert proc.returncode == 0, proc.stderr
        outputs.append([read_mask(str(out / f'{t:05d}.png'))
                        for t in range(T)])
    assert set(np.unique(outputs[0][0])) == {0, 1, 2}
    differ = sum(int((a != b).sum()) for a, b in zip(*outputs))
    assert differ <= 0.002 * T * H * W, differ
    proc = run_demo_here(capsys, video, mask, CONFIG, checkpoint, '--out',
                         tmp_path / 'bad', '--object-chunk-size', 0)
    assert proc.returncode != 0
    assert '--object-chunk-size must be >= 1' in proc.stderr
