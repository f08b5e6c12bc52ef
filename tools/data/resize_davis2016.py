"""Make a smaller resolution of a DAVIS 2016 download, in the same layout.

    python tools/data/resize_davis2016.py DAVIS_ROOT [--src 480p]
        [--dst 240p] [--height 240]

Writes ``JPEGImages/<dst>``, ``Annotations/<dst>`` and
``ImageSets/<dst>/<split>.txt`` (every split file of ``ImageSets/<src>``,
its paths rewritten) next to the source resolution, as the shared 240p copy
of the train videos was made: frames resized with area interpolation and
saved as JPEG quality 90, masks resized with area interpolation and
thresholded at 128 (0/255 grey PNGs). Aspect is kept (854x480 -> 427x240).
A frame already written is not written again, so an interrupted run
continues; files are written under a temporary name and renamed.
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from vosbench.utils.frame_lists import read_split_sequences  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='the DAVIS 2016 folder')
    parser.add_argument('--src', default='480p')
    parser.add_argument('--dst', default='240p')
    parser.add_argument('--height', type=int, default=240,
                        help='height of the written frames (default: 240)')
    return parser.parse_args(argv)


def _write(path: str, image: np.ndarray, params=()) -> None:
    tmp = f'{path}.tmp{os.getpid()}{osp.splitext(path)[1]}'
    if not cv2.imwrite(tmp, image, list(params)):
        raise OSError(f'cannot write {tmp}')
    os.replace(tmp, path)


def resize_frame(src: str, dst: str, height: int, is_mask: bool) -> None:
    flag = cv2.IMREAD_GRAYSCALE if is_mask else cv2.IMREAD_COLOR
    image = cv2.imread(src, flag)
    if image is None:
        raise SystemExit(f'error: cannot read {src}')
    width = int(round(image.shape[1] * height / image.shape[0]))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if is_mask:
        small = np.where(small >= 128, 255, 0).astype(np.uint8)
        _write(dst, small)
    else:
        _write(dst, small, (cv2.IMWRITE_JPEG_QUALITY, 90))


def main(argv=None) -> None:
    args = parse_args(argv)
    split_dir = osp.join(args.root, 'ImageSets', args.src)
    if not osp.isdir(split_dir):
        raise SystemExit(f'error: {split_dir} not found (is {args.root} a '
                         f'DAVIS 2016 folder with the {args.src} release?)')
    splits = sorted(f for f in os.listdir(split_dir) if f.endswith('.txt'))
    out_split_dir = osp.join(args.root, 'ImageSets', args.dst)
    os.makedirs(out_split_dir, exist_ok=True)
    for split in splits:
        path = osp.join(split_dir, split)
        read_split_sequences(path, args.root)  # every line points to a file
        with open(path) as f:
            lines = [line.split() for line in f if line.split()]
        for number, (image, mask) in enumerate(lines, start=1):
            for rel, is_mask in ((image, False), (mask, True)):
                if f'/{args.src}/' not in rel:
                    raise SystemExit(f'error: {path}, line {number}: {rel} '
                                     f'is not a {args.src} path')
                dst = osp.join(args.root, rel.lstrip('/').replace(
                    f'/{args.src}/', f'/{args.dst}/', 1))
                if osp.isfile(dst):
                    continue
                os.makedirs(osp.dirname(dst), exist_ok=True)
                resize_frame(osp.join(args.root, rel.lstrip('/')), dst,
                             args.height, is_mask)
            if number % 200 == 0 or number == len(lines):
                print(f'[{split}] {number}/{len(lines)} frames',
                      flush=True)
        rewritten = [' '.join(p.replace(f'/{args.src}/', f'/{args.dst}/', 1)
                              for p in line) + '\n' for line in lines]
        tmp = osp.join(out_split_dir, f'{split}.tmp{os.getpid()}')
        with open(tmp, 'w') as f:
            f.writelines(rewritten)
        os.replace(tmp, osp.join(out_split_dir, split))
    print(f'written: {args.dst} frames, masks and {", ".join(splits)} '
          f'under {args.root}')


if __name__ == '__main__':
    main()
