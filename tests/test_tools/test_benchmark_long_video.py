"""tools/analysis/benchmark_long_video.py: per-frame time and memory of a
capped and an uncapped memory."""
import argparse
import os.path as osp

from tool_loading import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(REPO, 'configs', '_base_', 'models', 'stm_r18-tiny.py')


def test_child_measures_every_frame_with_the_cap_applied(monkeypatch):
    tool = load_tool('tools/analysis/benchmark_long_video.py')
    args = argparse.Namespace(config=TINY, size=[32, 48], frames=12,
                              objects=2, threads=1, child=3)
    seen = {}
    from vosbench.inference import video_stream
    original = video_stream.VideoStream.__init__

    def spy(self, *a, **kw):
        seen.update(kw)
        original(self, *a, **kw)

    monkeypatch.setattr(video_stream.VideoStream, '__init__', spy)
    run = tool.run_child(args)
    assert seen['max_memory_frames'] == 3
    assert run['max_memory_frames'] == 3
    assert len(run['seconds']) == len(run['rss_mb']) == 12
    assert all(s > 0 for s in run['seconds'])


def test_summary_gives_window_means_and_the_rss_slope():
    tool = load_tool('tools/analysis/benchmark_long_video.py')
    run = dict(max_memory_frames=None, seconds=[0.1] * 20 + [0.3] * 20,
               rss_mb=[100.0 + 0.5 * t for t in range(40)])
    summary = tool.summarise(run, [20, 40])
    assert abs(summary['at'][20]['seconds'] - 0.1) < 1e-9
    assert abs(summary['at'][40]['seconds'] - 0.3) < 1e-9
    assert summary['at'][40]['rss_mb'] == 119.5
    assert abs(summary['rss_mb_per_frame'] - 0.5) < 1e-9
    assert abs(summary['total_seconds'] - 8.0) < 1e-9
