"""Streaming: a video is never held in memory. Frames are decoded one at a
time and dropped once segmented, and with ``max_memory_frames`` set, peak
memory does not grow with the video's length.

(Without ``max_memory_frames`` the STM protocol keeps every 5th frame's
keys and values, so memory does grow with the video; that is the memory
bank's policy, tested in test_memory_bank.py.)
"""
import os.path as osp
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from vosbench.inference import VideoStream, segment_video, stream_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class ToyNetwork(nn.Module):
    """A network with STM's streaming interface and almost no compute, so
    that the stream's own memory use is what is measured."""

    def __init__(self, **test_cfg):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.test_cfg = test_cfg

    def new_stream(self, object_ids, **overrides):
        return VideoStream(self, object_ids,
                           **stream_options(self.test_cfg, overrides))

    def encode_memory(self, frames, object_probs, valid=None,
                      other_probs=None):
        num = object_probs.shape[0] * object_probs.shape[1]
        size = (frames.shape[-2] // 16, frames.shape[-1] // 16)
        return (torch.zeros(num, 4, *size), torch.zeros(num, 8, *size))

    def encode_query(self, frames):
        size = (frames.shape[-2] // 16, frames.shape[-1] // 16)
        return torch.zeros(1, 4, *size), torch.zeros(1, 8, *size), []

    def decode_objects(self, memory_key, memory_value, query_key,
                       query_value, skips):
        height, width = (16 * d for d in query_key.shape[-2:])
        return torch.full((1, memory_key.shape[0], height, width), 0.25)

    @staticmethod
    def aggregate(object_probs, valid=None):
        from vosbench.models.vos import soft_aggregate
        return soft_aggregate(object_probs, valid)

    @staticmethod
    def probs_from_logits(logits, total_channels=None):
        return torch.softmax(logits, dim=1)


class CountingFrames:
    """Generated frames (no disk), with weak references to every frame
    handed out, to count how many are still alive. ``keep=True`` holds a
    float32 copy of every frame (what a source that loads the whole video
    as one float tensor does, as the original STM code does)."""

    def __init__(self, num_frames, height, width, keep=False):
        self.num_frames, self.size = num_frames, (height, width)
        self.refs = []
        self.kept = [] if keep else None

    def __iter__(self):
        rng = np.random.default_rng(0)
        for _ in range(self.num_frames):
            frame = rng.integers(0, 256, (*self.size, 3), dtype=np.uint8)
            self.refs.append(weakref.ref(frame))
            if self.kept is not None:
                self.kept.append(frame.astype(np.float32))
            yield frame
            del frame

    def alive(self):
        return sum(ref() is not None for ref in self.refs)


def test_frames_are_dropped_once_segmented():
    frames = CountingFrames(40, 48, 64)
    first = np.zeros((48, 64), np.uint8)
    first[8:24, 8:24] = 1
    most_alive = 0
    for labels in segment_video(ToyNetwork(), frames, first):
        assert labels.shape == (48, 64)
        most_alive = max(most_alive, frames.alive())
    assert len(frames.refs) == 40
    assert most_alive <= 1


PEAK_SCRIPT = '''
import os, sys
import numpy as np
sys.path.insert(0, 'tests/test_inference')
from test_streaming_memory import CountingFrames, ToyNetwork
from vosbench.inference import segment_video

def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

num_frames, keep = int(sys.argv[1]), sys.argv[2] == 'keep'
frames = CountingFrames(num_frames, 480, 854, keep=keep)
first = np.zeros((480, 854), np.uint8)
first[100:300, 200:500] = 1
first[300:400, 500:700] = 2
model = ToyNetwork(max_memory_frames=3)
early = late = 0
for t, labels in enumerate(segment_video(model, frames, first)):
    if 10 <= t < 40:
        early = max(early, rss_mb())
    elif t >= 50:
        late = max(late, rss_mb())
print(late - early)  # MB: peak of frames 50-79 over the peak of 10-39
'''


def _start(num_frames, keep=False):
    return subprocess.Popen(
        [sys.executable, '-c', textwrap.dedent(PEAK_SCRIPT), str(num_frames),
         'keep' if keep else 'stream'],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _growth_mb(process):
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return float(out.strip().splitlines()[-1])


@pytest.mark.skipif(not osp.exists('/proc/self/statm'),
                    reason='reads the resident size from /proc (Linux)')
def test_peak_memory_does_not_grow_with_video_length():
    """480x854 frames, 2 objects, max_memory_frames=3: the peak resident
    size of frames 50-79 is within 25 MB of the peak of frames 10-39 (the
    resident size wanders by about 20 MB from frame to frame, with no
    trend), where a source that keeps its decoded frames as floats grows
    by 4.9 MB a frame, about 195 MB between the two windows' last frames
    (the control: kept uint8 frames, 1.2 MB each, grew by only 45 MB
    once, too close to the wander)."""
    streaming, keeping = _start(80), _start(80, keep=True)
    assert _growth_mb(streaming) < 25
    assert _growth_mb(keeping) > 100
