"""Each rule of the DAVIS J/F measures (REFERENCE.md section 2), on masks
small enough to check by hand."""
import math
import tracemalloc

import cv2
import numpy as np
import pytest

from vosbench.evaluation.functional import (SequenceEvaluationError,
                                            boundary_map, boundary_radius,
                                            disk_kernel, evaluate_sequence,
                                            f_measure, jaccard,
                                            sequence_statistics)


def mask_from(shape, pixels):
    mask = np.zeros(shape, dtype=bool)
    for y, x in pixels:
        mask[y, x] = True
    return mask


def pixels_of(mask):
    return {(int(y), int(x)) for y, x in zip(*np.nonzero(mask))}


# --------------------------------------------------------------------------
# boundary map
# --------------------------------------------------------------------------
def test_boundary_single_pixel_marks_itself_and_north_west_neighbours():
    # (1,1) differs from its east neighbour; (0,0) sees it south-east,
    # (0,1) south, (1,0) east. Its south/west/south-west neighbours do not
    # look north/west, so they are no boundary.
    bmap = boundary_map(mask_from((4, 4), [(1, 1)]))
    assert bmap.dtype == bool and bmap.shape == (4, 4)
    assert pixels_of(bmap) == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_boundary_image_border_is_no_boundary():
    assert not boundary_map(np.ones((5, 6), bool)).any()
    assert not boundary_map(np.zeros((5, 6), bool)).any()
    # Foreground filling the last column: only the column left of it (which
    # differs from its east neighbour) is boundary; the image edge is not.
    mask = np.zeros((3, 3), bool)
    mask[:, 2] = True
    assert pixels_of(boundary_map(mask)) == {(0, 1), (1, 1), (2, 1)}
    # Foreground filling the first row: the row below is no boundary (it
    # only looks south/east), the image top is no boundary, only the first
    # row itself (south neighbour differs).
    mask = np.zeros((3, 4), bool)
    mask[0, :] = True
    assert pixels_of(boundary_map(mask)) == {(0, 0), (0, 1), (0, 2), (0, 3)}


def test_boundary_last_row_looks_east_only():
    # bottom-left pixel: it differs from its east neighbour -> boundary;
    # (1, 0) sees it to the south.
    bmap = boundary_map(mask_from((3, 3), [(2, 0)]))
    assert pixels_of(bmap) == {(2, 0), (1, 0)}
    # A last-row pixel equal to its east neighbour is no boundary even if
    # its north neighbour differs.
    mask = np.zeros((3, 3), bool)
    mask[2, :] = True
    assert pixels_of(boundary_map(mask)) == {(1, 0), (1, 1), (1, 2)}


def test_boundary_last_column_looks_south_only_and_bottom_right_never():
    bmap = boundary_map(mask_from((3, 3), [(2, 2)]))
    # (2,2) is the bottom-right pixel: never boundary. (1,2) is in the last
    # column and sees it south; (2,1) in the last row sees it east; (1,1)
    # sees it south-east.
    assert pixels_of(bmap) == {(1, 1), (1, 2), (2, 1)}
    # last-column pixel (0,2) is foreground, its south neighbour is not.
    bmap = boundary_map(mask_from((3, 3), [(0, 2)]))
    assert pixels_of(bmap) == {(0, 1), (0, 2)}


def naive_boundary(mask):
    """Pixel loop straight from the rule, for comparison."""
    h, w = mask.shape
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            neighbours = []
            if x + 1 < w:
                neighbours.append(mask[y, x + 1])
            if y + 1 < h:
                neighbours.append(mask[y + 1, x])
            if x + 1 < w and y + 1 < h:
                neighbours.append(mask[y + 1, x + 1])
            out[y, x] = any(n != mask[y, x] for n in neighbours)
    return out


@pytest.mark.parametrize('shape', [(1, 1), (1, 7), (6, 1), (2, 2), (9, 13)])
def test_boundary_matches_pixel_loop(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        mask = rng.random(shape) < 0.4
        np.testing.assert_array_equal(boundary_map(mask),
                                      naive_boundary(mask))


# --------------------------------------------------------------------------
# disk kernel and radius
# --------------------------------------------------------------------------
def test_disk_kernel_counts_and_shape():
    kernel = disk_kernel(8)
    assert kernel.shape == (17, 17) and kernel.dtype == np.uint8
    assert int(kernel.sum()) == 197
    # not OpenCV's ellipse of the same size
    ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17))
    assert int(ellipse.sum()) == 213
    assert int(disk_kernel(1).sum()) == 5  # a plus: no diagonals
    assert int(disk_kernel(2).sum()) == 13
    np.testing.assert_array_equal(disk_kernel(0), [[1]])
    # x^2 + y^2 <= r^2 exactly: (8, 0) in, (7, 4) out (65 > 64), (4, 6) in
    assert kernel[8, 16] == 1 and kernel[8 + 4, 8 + 7] == 0
    assert kernel[8 + 6, 8 + 4] == 1


def test_disk_kernel_returns_fresh_array():
    kernel = disk_kernel(3)
    kernel[:] = 0
    assert int(disk_kernel(3).sum()) == 29


def test_boundary_radius():
    assert boundary_radius(480, 854) == 8
    assert boundary_radius(480, 854, 0.016) == 16  # 15.67 -> 16
    assert boundary_radius(6, 7, 0.1) == 1  # ceil(0.92)


# --------------------------------------------------------------------------
# J
# --------------------------------------------------------------------------
def test_jaccard_values():
    assert jaccard(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0
    gt = mask_from((4, 4), [(0, 0), (0, 1), (1, 0), (1, 1)])
    pred = mask_from((4, 4), [(1, 0), (1, 1), (2, 0), (2, 1)])
    assert jaccard(gt, pred) == pytest.approx(2 / 6)
    assert jaccard(gt, np.zeros_like(gt)) == 0.0
    batch = jaccard(np.stack([np.zeros_like(gt), gt]),
                    np.stack([np.zeros_like(gt), pred]))
    np.testing.assert_allclose(batch, [1.0, 1 / 3])
    with pytest.raises(ValueError):
        jaccard(gt, pred[:3])


# --------------------------------------------------------------------------
# F
# --------------------------------------------------------------------------
def test_f_empty_cases_by_boundary_counts():
    empty = np.zeros((6, 7), bool)
    blob = mask_from((6, 7), [(2, 2), (2, 3), (3, 2), (3, 3)])
    assert f_measure(empty, empty) == 1.0
    assert f_measure(blob, empty) == 0.0  # prediction empty only
    assert f_measure(empty, blob) == 0.0  # ground truth empty only
    # a full-image mask has no boundary: empty by boundary count -> 1
    assert f_measure(empty, np.ones((6, 7), bool)) == 1.0


def test_f_precision_recall_by_hand_exact_match():
    # bound_th = 0 -> radius 0, boundaries must coincide.
    # gt pixel (2,2): Bg = {(1,1),(1,2),(2,1),(2,2)} (4 pixels)
    # pred pixels (2,2),(3,2): Bp = Bg + {(3,1),(3,2)} (6 pixels)
    # precision 4/6, recall 4/4 -> F = 2*(2/3)/(5/3) = 0.8
    gt = mask_from((6, 6), [(2, 2)])
    pred = mask_from((6, 6), [(2, 2), (3, 2)])
    assert pixels_of(boundary_map(pred)) == {(1, 1), (1, 2), (2, 1), (2, 2),
                                             (3, 1), (3, 2)}
    assert f_measure(gt, pred, bound_th=0) == pytest.approx(0.8, abs=1e-15)
    # with radius 1 every boundary pixel has a partner -> 1
    assert f_measure(gt, pred, bound_th=0.1) == 1.0


def test_f_precision_recall_by_hand_radius_one():
    # 6x7 image, bound_th 0.1 -> radius 1 (a plus-shaped disk).
    # gt pixel (2,2): Bg = {(1,1),(1,2),(2,1),(2,2)}
    # pred pixel (2,4): Bp = {(1,3),(1,4),(2,3),(2,4)}
    # (1,3),(2,3) are 1 pixel east of Bg -> precision 2/4;
    # (1,2),(2,2) are 1 pixel west of Bp -> recall 2/4 -> F = 0.5
    gt = mask_from((6, 7), [(2, 2)])
    pred = mask_from((6, 7), [(2, 4)])
    assert f_measure(gt, pred, bound_th=0.1) == pytest.approx(0.5, abs=1e-15)
    # diagonal offset (1,1) is outside the radius-1 disk (a square kernel
    # would match (3,3) with (2,2)): nothing matches -> 0
    pred = mask_from((6, 7), [(4, 4)])
    assert f_measure(gt, pred, bound_th=0.1) == 0.0
    # ... but inside the radius-2 disk (1 + 1 <= 4)
    assert boundary_radius(6, 7, 0.2) == 2
    assert f_measure(gt, pred, bound_th=0.2) > 0.0


def brute_force_f(gt, pred, radius):
    """F from pairwise pixel distances: no dilation, no windows."""
    bg, bp = boundary_map(gt), boundary_map(pred)
    n_gt, n_pred = int(bg.sum()), int(bp.sum())
    if n_gt == 0 or n_pred == 0:
        return 1.0 if n_gt == n_pred else 0.0
    pg = np.argwhere(bg)
    pp = np.argwhere(bp)
    d2 = ((pp[:, None, :] - pg[None, :, :])**2).sum(-1)
    precision = int((d2.min(1) <= radius * radius).sum()) / n_pred
    recall = int((d2.min(0) <= radius * radius).sum()) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def full_image_f(gt, pred, bound_th=0.008):
    """F with full-image boundary maps and full-image cv2 dilation."""
    radius = math.ceil(bound_th * math.sqrt(gt.shape[0]**2 + gt.shape[1]**2))
    kernel = disk_kernel(radius)
    bg = boundary_map(gt).astype(np.uint8)
    bp = boundary_map(pred).astype(np.uint8)
    n_gt, n_pred = int(bg.sum()), int(bp.sum())
    if n_gt == 0 or n_pred == 0:
        return 1.0 if n_gt == n_pred else 0.0
    precision = int((bp & cv2.dilate(bg, kernel)).sum()) / n_pred
    recall = int((bg & cv2.dilate(bp, kernel)).sum()) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize('shape,bound_th', [((12, 17), 0.2), ((30, 25), 0.1),
                                            ((1, 9), 0.5), ((7, 1), 0.5),
                                            ((20, 20), 0.0)])
def test_f_matches_brute_force_distances(shape, bound_th):
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    radius = boundary_radius(*shape, bound_th)
    for density in (0.05, 0.3, 0.7):
        gt = rng.random(shape) < density
        pred = rng.random(shape) < density
        assert f_measure(gt, pred, bound_th) == brute_force_f(
            gt, pred, radius)


def random_blobs(rng, shape, n):
    mask = np.zeros(shape, np.uint8)
    for _ in range(n):
        cx, cy = int(rng.integers(-20, shape[1] + 20)), int(
            rng.integers(-20, shape[0] + 20))
        axes = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
        cv2.ellipse(mask, (cx, cy), axes, float(rng.integers(0, 180)), 0,
                    360, 1, -1)
    return mask.astype(bool)


def test_window_restricted_f_equals_full_image_dilation():
    # Blobs near and across the border, far apart, empty and full masks:
    # the windowed computation must give exactly the full-image result.
    rng = np.random.default_rng(0)
    shape = (120, 213)
    cases = [(random_blobs(rng, shape, int(rng.integers(0, 4))),
              random_blobs(rng, shape, int(rng.integers(0, 4))))
             for _ in range(60)]
    cases.append((np.ones(shape, bool), random_blobs(rng, shape, 2)))
    cases.append((np.zeros(shape, bool), np.ones(shape, bool)))
    corner = np.zeros(shape, bool)
    corner[-5:, -5:] = True
    cases.append((corner, np.roll(corner, -3, axis=1)))
    for gt, pred in cases:
        assert f_measure(gt, pred, 0.04) == full_image_f(gt, pred, 0.04)
        assert f_measure(gt, pred) == full_image_f(gt, pred)


# --------------------------------------------------------------------------
# per-object statistics
# --------------------------------------------------------------------------
def test_statistics_recall_is_strict():
    _, recall, _ = sequence_statistics(np.array([0.5, 0.5000001, 0.2, 1.0]))
    assert recall == 0.5


def test_statistics_mean_ignores_nan():
    mean, _, _ = sequence_statistics(np.array([np.nan, 1.0, 0.0]))
    assert mean == 0.5


def test_decay_bins_share_their_edge_element():
    # n = 5: e = [0, 1, 2, 3, 4]; bin 0 = v[0:2], bin 3 = v[3:5]
    values = np.array([1.0, 0.5, 0.0, 0.25, 0.75])
    _, _, decay = sequence_statistics(values)
    assert decay == pytest.approx(0.75 - 0.5, abs=1e-15)


def test_decay_rounds_half_up():
    # n = 3: linspace(1, 3, 5) = [1, 1.5, 2, 2.5, 3] -> [1, 2, 2, 3, 3] - 1
    # (numpy's half-to-even would give [1, 2, 2, 2, 3] - 1).
    # bin 0 = v[0:2] -> 0.8, bin 3 = v[2:3] -> 0.0
    _, _, decay = sequence_statistics(np.array([1.0, 0.6, 0.0]))
    assert decay == pytest.approx(0.8, abs=1e-15)
    # n = 7: [1, 2.5, 4, 5.5, 7] -> e = [0, 2, 3, 5, 6]
    # bin 0 = v[0:3] -> 0.8, bin 3 = v[5:7] -> 0.35
    values = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    _, _, decay = sequence_statistics(values)
    assert decay == pytest.approx(0.45, abs=1e-12)


def test_statistics_short_sequences():
    assert sequence_statistics(np.array([0.7])) == (0.7, 1.0, 0.0)
    assert all(math.isnan(v) for v in sequence_statistics(np.array([])))


def straightforward_decay(values):
    """Decay from the rule with plain Python integers and round-half-up."""
    n = len(values)
    edges = [math.floor(1 + k * (n - 1) / 4 + 0.5) - 1 for k in range(5)]
    first = values[edges[0]:edges[1] + 1]
    last = values[edges[3]:edges[4] + 1]
    return sum(first) / len(first) - sum(last) / len(last)


@pytest.mark.parametrize('num_frames', [300, 1001])
def test_decay_beyond_256_frames(num_frames):
    # a uint8 edge index would wrap (299 -> 43) and leave the last bin empty
    rng = np.random.default_rng(num_frames)
    values = rng.random(num_frames)
    mean, recall, decay = sequence_statistics(values)
    assert decay == pytest.approx(straightforward_decay(list(values)),
                                  abs=1e-12)
    assert mean == pytest.approx(values.mean(), abs=1e-12)
    assert recall == np.count_nonzero(values > 0.5) / num_frames


# --------------------------------------------------------------------------
# sequences
# --------------------------------------------------------------------------
def names(n):
    return [f'{t:05d}' for t in range(n)]


def test_void_is_background_and_prediction_over_void_is_false_positive():
    first = np.array([[1, 1, 255, 0],
                      [0, 2, 255, 0],
                      [0, 0, 0, 0]], np.uint8)
    middle = np.array([[1, 1, 255, 255],
                       [0, 0, 0, 0],
                       [0, 0, 0, 2]], np.uint8)
    pred = np.array([[1, 1, 1, 1],
                     [0, 0, 0, 0],
                     [0, 0, 0, 2]], np.uint8)
    res = evaluate_sequence([first, middle, first], [first, pred, first],
                            'seq', names(3))
    assert res['object_ids'] == [1, 2]  # 255 is no object
    # object 1: 2 pixels right, 2 predicted over void -> 2 / 4
    assert res['J'][0, 0] == 0.5
    assert res['J'][1, 0] == 1.0
    gt1 = np.array(middle == 1)
    assert res['F'][0, 0] == f_measure(gt1, pred == 1)
    assert res['F'][0, 0] < 1.0


def test_first_and_last_frames_are_not_scored():
    gt = np.zeros((5, 6), np.uint8)
    gt[1:3, 1:4] = 1
    wrong = np.zeros_like(gt)
    wrong[4, 0] = 1
    preds = [wrong, gt, gt, gt, wrong]
    res = evaluate_sequence([gt] * 5, preds, 'seq', names(5))
    assert res['frame_names'] == ['00001', '00002', '00003']
    assert res['J'].shape == res['F'].shape == (1, 3)
    assert (res['J'] == 1).all() and (res['F'] == 1).all()
    # unscored frames are not even checked for labels
    bad = np.full_like(gt, 9)
    evaluate_sequence([gt] * 3, [bad, gt, bad], 'seq', names(3))


def test_missing_ground_truth_frames_are_skipped():
    gt = np.zeros((4, 4), np.uint8)
    gt[1:3, 1:3] = 1
    gts = [gt, None, gt, None, gt, gt]
    preds = [gt] * 6
    res = evaluate_sequence(gts, preds, 'seq', names(6))
    assert res['frame_names'] == ['00002', '00004']
    assert res['J'].shape == (1, 2)


def test_prediction_lacking_an_object_scores_zero_for_it():
    gt = np.zeros((6, 6), np.uint8)
    gt[0:2, 0:2] = 1
    gt[3:5, 3:5] = 2
    pred = np.where(gt == 2, 0, gt).astype(np.uint8)
    res = evaluate_sequence([gt] * 3, [gt, pred, gt], 'seq', names(3))
    np.testing.assert_array_equal(res['J'], [[1.0], [0.0]])
    np.testing.assert_array_equal(res['F'], [[1.0], [0.0]])


def test_object_absent_from_both_masks_scores_one():
    first = np.zeros((6, 6), np.uint8)
    first[0:2, 0:2] = 1
    first[3:5, 3:5] = 2
    gone = np.where(first == 2, 0, first).astype(np.uint8)  # 2 left
    res = evaluate_sequence([first, gone, first], [first, gone, first],
                            'seq', names(3))
    np.testing.assert_array_equal(res['J'], [[1.0], [1.0]])
    np.testing.assert_array_equal(res['F'], [[1.0], [1.0]])


def test_label_above_object_count_raises_naming_the_frame():
    gt = np.zeros((480, 854), np.uint8)
    gt[100:200, 100:300] = 1
    gt[300:400, 500:600] = 2
    pred = gt.copy()
    pred[0, 0] = 255  # a stray label must not allocate a 255-object volume
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"'blackswan'.*'00002'.*255"):
            evaluate_sequence([gt] * 4, [gt, gt, pred, gt], 'blackswan',
                              names(4))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * gt.size  # a few frame-sized masks at most
    pred[0, 0] = 3
    with pytest.raises(ValueError, match='00001'):
        evaluate_sequence([gt] * 3, [gt, pred, gt], 'bike', names(3))


def test_ids_absent_from_first_frame_are_not_objects():
    first = np.zeros((5, 5), np.uint8)
    first[0, 0] = 1
    first[4, 4] = 3
    later = first.copy()
    later[2, 2] = 2  # id 2 appears in later ground truth: background
    res = evaluate_sequence([first, later, first], [first, first, first],
                            'seq', names(3))
    # no phantom object 2 (the official toolkit would score it as 1.0)
    assert res['object_ids'] == [1, 3]
    assert res['J'].shape == (2, 1)
    np.testing.assert_array_equal(res['J'], [[1.0], [1.0]])


@pytest.mark.parametrize('label,extra', [(2, 'objects: \\[1, 3\\]'),
                                         (4, 'above the largest object id'),
                                         (255, 'DAVIS 2016')])
def test_predicted_label_that_is_no_object_raises(label, extra):
    # a label in a gap of non-contiguous ids, above the largest id, or 255
    first = np.zeros((5, 5), np.uint8)
    first[0, 0] = 1
    first[4, 4] = 3
    pred = first.copy()
    pred[2, 2] = label
    with pytest.raises(SequenceEvaluationError,
                       match=rf"'seq', frame '00001': predicted label {label}"
                       rf' is not an object.*{extra}'):
        evaluate_sequence([first] * 3, [first, pred, first], 'seq', names(3))
    # the same label in an unscored frame is not looked at
    evaluate_sequence([first] * 3, [pred, first, pred], 'seq', names(3))


def test_contiguous_ids_take_the_fast_label_check_and_still_catch_errors():
    gt = np.zeros((6, 6), np.uint8)
    gt[0, 0], gt[1, 1], gt[2, 2] = 1, 2, 3
    pred = gt.copy()
    pred[5, 5] = 2  # labels 1..3 only: fine
    evaluate_sequence([gt] * 3, [gt, pred, gt], 'seq', names(3))
    pred[5, 4] = 7
    with pytest.raises(SequenceEvaluationError, match='predicted label 7'):
        evaluate_sequence([gt] * 3, [gt, pred, gt], 'seq', names(3))


def test_sequence_input_errors():
    gt = np.zeros((4, 4), np.uint8)
    gt[1, 1] = 1
    with pytest.raises(ValueError, match=r"'seq'.*'00001'.*shape"):
        evaluate_sequence([gt] * 3, [gt, np.zeros((4, 5), np.uint8), gt],
                          'seq', names(3))
    with pytest.raises(ValueError, match='must match'):
        evaluate_sequence([gt] * 3, [gt] * 2, 'seq', names(3))
    with pytest.raises(ValueError, match='no object'):
        evaluate_sequence([np.zeros_like(gt)] * 3, [gt] * 3, 'seq',
                          names(3))
    with pytest.raises(ValueError, match='no ground-truth frame'):
        evaluate_sequence([None] * 3, [gt] * 3, 'seq', names(3))


def test_sequence_scores_equal_per_mask_measures():
    rng = np.random.default_rng(5)
    shape = (90, 160)
    gts, preds = [], []
    for _ in range(6):
        gt = np.zeros(shape, np.uint8)
        pred = np.zeros(shape, np.uint8)
        for obj in (1, 2, 3):
            gt[random_blobs(rng, shape, 1)] = obj
            pred[random_blobs(rng, shape, 1)] = obj
        gt[random_blobs(rng, shape, 1) & (rng.random(shape) < 0.5)] = 255
        gts.append(gt)
        preds.append(pred)
    gts[0][0, :3] = (1, 2, 3)  # make sure all objects are in frame 0
    res = evaluate_sequence(gts, preds, 'seq', names(6))
    assert res['object_ids'] == [1, 2, 3]
    assert res['J'].dtype == np.float64
    for row, obj in enumerate(res['object_ids']):
        for col, t in enumerate(range(1, 5)):
            gt_obj, pred_obj = gts[t] == obj, preds[t] == obj
            assert res['J'][row, col] == jaccard(gt_obj, pred_obj)
            assert res['F'][row, col] == full_image_f(gt_obj, pred_obj)
