"""Segment your own video: a video file (or a folder of frames) and the
first frame's mask in, one palette PNG per frame and an overlay video out.

    python demo/video_demo.py VIDEO FIRST_MASK CONFIG CKPT --out DIR
        [--overlay DIR/overlay.webm] [--side-by-side] [--show-ids]
        [--masks DIR] [--resize-masks] [--device cpu|cuda:0]
        [--max-memory-frames 10] [--max-size 480] [--top-k 30]
        [--precision fp32|bf16|fp16]
        [--cfg-options k=v ...]

VIDEO is anything OpenCV opens (mp4, avi, mov, webm) or a folder of frames.
FIRST_MASK is a palette PNG, a 0/255 grey PNG (one object) or an RGB mask
(each colour one object). ``--masks DIR`` gives masks of later frames
(``<frame>.png``; a video file's frames are named 00000, 00001, ...) for
objects that appear there. CONFIG is a config file or a config name under
configs/. The overlay's codec follows its extension: ``.webm`` (VP8) plays
in browsers and common players; ``.mp4`` is H.264 where this OpenCV build
has it, else MPEG-4 Part 2 (common players only); the log says which.

Memory: ``--max-memory-frames`` (default 10) caps the frames the model
keeps as memory, so memory and time per frame stay flat on long videos; 0
keeps every memory frame (the STM paper's protocol, as ``tools/test.py``).
``--max-size N`` processes frames whose shorter side is larger than N at N
(the masks come out at the video's size); ``--top-k K`` reads only the K
most similar memory positions per query position (STCN, XMem). At the end
the frames per second and the peak memory are printed. On an
error the PNGs already written stay, and the message names the file.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

#: Memory frames kept by default: long videos stay flat in memory and time
#: per frame (docs/user_guides/inference.md has the measurement).
DEFAULT_MAX_MEMORY_FRAMES = 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Segment the objects of a video given the first '
        "frame's mask.")
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('first_mask', help='mask of the first frame')
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True,
                        help='folder for the <frame>.png masks')
    parser.add_argument('--overlay', help='overlay video to write '
                        '(.webm, .mp4, .mov or .avi)')
    parser.add_argument('--side-by-side', action='store_true',
                        help='the input beside the overlay')
    parser.add_argument('--show-ids', action='store_true',
                        help='write object ids on the overlay')
    parser.add_argument('--masks', help='folder of <frame>.png masks of '
                        'later frames (objects that appear there)')
    parser.add_argument('--resize-masks', action='store_true',
                        help='resize masks of another size than the video '
                        '(nearest neighbour) instead of refusing them')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--max-memory-frames', type=int,
                        default=DEFAULT_MAX_MEMORY_FRAMES,
                        help='memory frames kept (default '
                        f'{DEFAULT_MAX_MEMORY_FRAMES}; 0: all)')
    parser.add_argument('--max-size', type=int,
                        help='process frames at this shorter side at most')
    parser.add_argument('--top-k', type=int,
                        help='memory positions read per query position')
    parser.add_argument('--object-chunk-size', type=int,
                        help='objects encoded and decoded at a time, so '
                        'that memory stays flat with many objects '
                        '(default: all at once)')
    parser.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'],
                        help='network precision (default: the config\'s, '
                        'fp32); bf16 pays only on CPUs with AVX-512 BF16 '
                        'or AMX, fp16 is CUDA only')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, help='config overrides, key=value')
    args = parser.parse_args(argv)
    if args.max_memory_frames < 0:
        parser.error('--max-memory-frames must be >= 0')
    for key in ('max_size', 'top_k', 'object_chunk_size'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from vosbench.apis import VOSInferencer
    from vosbench.utils import keep_freed_memory
    keep_freed_memory()  # see vosbench/utils/allocator.py
    options = dict(args.cfg_options)
    options['model.test_cfg.max_memory_frames'] = \
        args.max_memory_frames or None
    try:
        inferencer = VOSInferencer(args.config, args.checkpoint,
                                   device=args.device, max_size=args.max_size,
                                   top_k=args.top_k,
                                   precision=args.precision,
                                   object_chunk_size=args.object_chunk_size,
                                   cfg_options=options)
        result = inferencer(args.video, args.first_mask, masks=args.masks,
                            resize_masks=args.resize_masks)
        print(f'{args.video}: {len(result)} frames at {result.fps:g} fps, '
              f'objects {result.object_ids}, given at frames '
              f'{[result.names[t] for t in sorted(result.given)]}',
              file=sys.stderr)
        summary = result.save(args.out, overlay=args.overlay,
                              side_by_side=args.side_by_side,
                              show_ids=args.show_ids, progress=True)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f'\nerror: {exc}', file=sys.stderr)
        sys.exit(1)
    memory = summary['memory']
    line = (f'\n{summary["written"]} masks written to {args.out}; '
            f'{summary["fps"]:.2f} frames/s; peak RSS '
            f'{memory["rss_mb"]:.0f} MB')
    if 'cuda_mb' in memory:
        line += f', peak GPU memory {memory["cuda_mb"]:.0f} MB'
    print(line, file=sys.stderr)
    if args.overlay:
        print(f'overlay: {args.overlay} ({summary["codec"]}: '
              f'{summary["codec_note"]})', file=sys.stderr)
    return summary


if __name__ == '__main__':
    main()
