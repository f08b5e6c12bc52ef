"""The built-in synthetic dataset generator."""
import hashlib
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from vosbench.datasets.synthetic import (generate_synthetic_davis,
                                         generate_synthetic_static,
                                         render_synthetic_video)
from vosbench.utils.image_io import read_frame
from vosbench.utils.mask_io import read_mask

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = dict(num_train=3, num_val=2, num_frames=12, height=64, width=96)


def _tree_digest(root):
    digest = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = osp.join(dirpath, name)
            digest.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        generate_synthetic_davis(str(tmp_path / name), seed=seed,
                                 progress=False, **SMALL)
    assert _tree_digest(tmp_path / 'a') == _tree_digest(tmp_path / 'b')
    assert _tree_digest(tmp_path / 'a') != _tree_digest(tmp_path / 'c')


def test_layout_labels_and_first_frame(tmp_path):
    root = str(tmp_path)
    generate_synthetic_davis(root, progress=False, **SMALL)
    with open(osp.join(root, 'ImageSets', '2017', 'train.txt')) as f:
        train = f.read().split()
    with open(osp.join(root, 'ImageSets', '2017', 'val.txt')) as f:
        val = f.read().split()
    assert len(train) == 3 and len(val) == 2
    for seq in train + val:
        frames = sorted(os.listdir(osp.join(root, 'JPEGImages', '480p', seq)))
        masks = sorted(os.listdir(osp.join(root, 'Annotations', '480p', seq)))
        assert frames == [f'{t:05d}.jpg' for t in range(12)]
        assert masks == [f'{t:05d}.png' for t in range(12)]
        first = read_mask(osp.join(root, 'Annotations', '480p', seq,
                                   '00000.png'))
        ids = [i for i in np.unique(first) if i]
        assert 1 <= len(ids) <= 3
        assert ids == list(range(1, len(ids) + 1))  # contiguous 1..N
        for i in ids:  # every object clearly visible in frame 0
            assert np.count_nonzero(first == i) >= 0.01 * first.size
        frame = read_frame(osp.join(root, 'JPEGImages', '480p', seq,
                                    '00000.jpg'))
        assert frame.shape == (64, 96, 3)
        # the mask is aligned with the image: each object's pixels differ
        # in colour from the background's
        background = frame[first == 0].mean(0)
        for i in ids:
            inside = frame[first == i].mean(0)
            assert np.abs(inside - background).max() > 10


def test_objects_leave_and_come_back():
    found = False
    for index in range(6):
        _, masks = render_synthetic_video('train', index, num_frames=30)
        ids = [i for i in np.unique(masks[0]) if i]
        for i in ids:
            present = np.array([(m == i).any() for m in masks])
            gone = np.flatnonzero(~present)
            if gone.size and present[gone[-1]:].any():
                found = True
    assert found, 'no synthetic video has an object that leaves and returns'


def test_resume_skips_complete_and_redoes_partial(tmp_path):
    root = str(tmp_path)
    first = generate_synthetic_davis(root, progress=False, **SMALL)
    assert first['generated'] == 5 and first['skipped'] == 0
    reference = _tree_digest(root)
    # an interrupted video: a frame missing from a final dir and a stale .tmp
    seq_dir = osp.join(root, 'JPEGImages', '480p', 'synth_train_0001')
    os.remove(osp.join(seq_dir, '00005.jpg'))
    os.makedirs(seq_dir + '.tmp', exist_ok=True)
    again = generate_synthetic_davis(root, progress=False, **SMALL)
    assert again['generated'] == 1 and again['skipped'] == 4
    assert not osp.exists(seq_dir + '.tmp')
    assert _tree_digest(root) == reference
    with pytest.raises(ValueError, match='made with'):
        generate_synthetic_davis(root, progress=False, seed=3, **SMALL)


def test_static_set_loads_with_pycocotools(tmp_path):
    from pycocotools.coco import COCO
    info = generate_synthetic_static(str(tmp_path), num_images=4, height=64,
                                     width=96, progress=False)
    coco = COCO(info['ann_file'])
    assert len(coco.getImgIds()) == 4
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == info['num_annotations'] >= 4
    for ann in anns:
        mask = coco.annToMask(ann)
        assert mask.shape == (64, 96)
        # polygons rasterise to about the drawn area
        assert abs(int(mask.sum()) - ann['area']) <= 0.25 * ann['area'] + 20


def test_cli_writes_both_sets(tmp_path):
    out = str(tmp_path / 'syn')
    subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'data', 'make_synthetic.py'),
         '--out', out, '--num-train', '1', '--num-val', '1', '--frames', '4',
         '--height', '64', '--width', '96', '--static-images', '2',
         '--quiet'], check=True, cwd=REPO, timeout=120)
    assert osp.isfile(osp.join(out, 'ImageSets', '2017', 'val.txt'))
    assert osp.isfile(osp.join(out, 'static', 'annotations.json'))


def test_cli_default_makes_as_many_stills_as_the_recipes_train_on():
    """`make_synthetic.py` with no options writes the still images the
    pre-training recipes are measured with; the recipe scripts, which make
    their own, agree on the number."""
    from tool_loading import load_tool
    counts = {path: load_tool(path).parse_args([]).static_images
              for path in ('tools/data/make_synthetic.py',
                           'tools/analysis/recipe_demo.py',
                           'tools/analysis/recipe_davis16.py')}
    assert len(set(counts.values())) == 1, counts
