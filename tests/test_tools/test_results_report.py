"""tools/analysis/results_report.py (and ``tools/test.py --report``): the
page's numbers are the evaluator's, one row / curve / picture where there
should be one, several folders give several method columns, the file is
self-contained, wrong folders are named; and the page renders in headless
Chromium (skipped where it is not installed)."""
import base64
import csv
import math
import os
import os.path as osp
import shutil
import subprocess
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
from PIL import Image

from vosbench.evaluation.davis_results import evaluate_results_folder
from vosbench.evaluation.functional.davis_summary import GLOBAL_MEASURES
from vosbench.evaluation.results_report import method_names, worst_frames
from vosbench.utils.mask_io import read_mask, write_mask

from tool_loading import load_tool, run_tool_main
from tool_run_helpers import (save_tiny_checkpoint, write_synthetic_davis,
                              write_test_config)

report_tool = load_tool('tools/analysis/results_report.py',
                        'vosbench_tool_results_report')
eval_tool = load_tool('tools/eval_results.py',
                      'vosbench_tool_eval_results_for_report')
DAVIS_SAMPLE = '/work/shared/data/davis_sample'
NUM_VAL, NUM_FRAMES = 3, 6


# --------------------------------------------------------------------------
# a small DOM of the page (the standard library's HTML parser)
# --------------------------------------------------------------------------
class Node:

    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text_parts = [], []

    @property
    def classes(self):
        return self.attrs.get('class', '').split()

    def text(self):
        return ''.join(self.text_parts + [c.text() for c in self.children])

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag, cls=None, **attrs):
        return [n for n in self.iter() if n.tag == tag and (
            cls is None or cls in n.classes) and all(
                n.attrs.get(k.replace('_', '-')) == v
                for k, v in attrs.items())]

    def find(self, tag, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        assert found, f'no <{tag}> {cls or ""} {attrs}'
        return found[0]


class DomBuilder(HTMLParser):
    VOID = {'meta', 'img', 'br', 'hr', 'link', 'input'}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node('#root', {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse_html(text):
    builder = DomBuilder()
    builder.feed(text)
    return builder.root


# --------------------------------------------------------------------------
# data: a synthetic DAVIS and two "methods"
# --------------------------------------------------------------------------
def write_methods(gt_root, out_root):
    """``copy``: the first mask in every frame; ``shift``: each frame's
    ground truth moved right by ``t % 3`` pixels."""
    folders = {}
    for method in ('copy', 'shift'):
        folders[method] = osp.join(out_root, method)
    ann = osp.join(gt_root, 'Annotations', '480p')
    for seq in sorted(os.listdir(ann)):
        files = sorted(os.listdir(osp.join(ann, seq)))
        first = read_mask(osp.join(ann, seq, files[0]))
        for t, name in enumerate(files):
            gt = read_mask(osp.join(ann, seq, name))
            write_mask(osp.join(folders['copy'], seq, name), first)
            write_mask(osp.join(folders['shift'], seq, name),
                       np.roll(gt, t % 3, axis=1))
    return folders


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('report_data')
    gt_root = write_synthetic_davis(str(root / 'gt'), NUM_VAL, NUM_FRAMES)
    return gt_root, write_methods(gt_root, str(root / 'results'))


@pytest.fixture(scope='module')
def two_method_report(dataset, tmp_path_factory):
    gt_root, folders = dataset
    out = str(tmp_path_factory.mktemp('report') / 'report.html')
    report = report_tool.main([gt_root, folders['copy'], folders['shift'],
                               '--out', out, '--quiet'])
    with open(out, encoding='utf-8') as f:
        text = f.read()
    return report, text, parse_html(text), out


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def value(cell):
    text = cell.attrs['data-value']
    return math.nan if text == '' else float(text)


# --------------------------------------------------------------------------
# the numbers
# --------------------------------------------------------------------------
def test_numbers_equal_the_evaluator_and_its_csv(dataset, two_method_report,
                                                 tmp_path, capsys):
    gt_root, folders = dataset
    _, _, dom, _ = two_method_report
    rows = {tr.attrs['data-method']: tr
            for tr in dom.find('table', id='global').find_all(
                'tr', 'method')}
    assert list(rows) == ['copy', 'shift']
    per_seq = dom.find('table', id='per-sequence').find('tbody')
    for name in ('copy', 'shift'):
        expected = evaluate_results_folder(gt_root, folders[name])
        code, _, _ = run_tool_main(eval_tool, [gt_root, folders[name], '--quiet',
                                          '--out-dir', tmp_path / name],
                              capsys)
        assert code == 0
        csv_global = read_csv(tmp_path / name / 'global_results-val.csv')
        cells = rows[name].find_all('td', 'num')[:len(GLOBAL_MEASURES)]
        assert [c.attrs['data-measure'] for c in cells] == \
            list(GLOBAL_MEASURES) == csv_global[0]
        # full precision: the evaluator's floats; text: the CSV's
        assert [value(c) for c in cells] == [
            expected['global_stats'][k] for k in GLOBAL_MEASURES]
        assert [c.text() for c in cells] == csv_global[1]
        csv_objects = read_csv(tmp_path / name /
                               'per-sequence_results-val.csv')[1:]
        assert len(csv_objects) == len(expected['object_stats']) >= NUM_VAL
        for (obj, j_text, f_text), stat in zip(csv_objects,
                                               expected['object_stats']):
            tr = per_seq.find('tr', data_object=obj)
            j = tr.find('td', data_method=name, data_measure='J-Mean')
            f = tr.find('td', data_method=name, data_measure='F-Mean')
            jf = tr.find('td', data_method=name, data_measure='J&F')
            assert (j.text(), f.text()) == (j_text, f_text)
            assert (value(j), value(f)) == (stat['J-Mean'], stat['F-Mean'])
            assert value(jf) == (stat['J-Mean'] + stat['F-Mean']) / 2
    # the two methods differ, so a mixed-up column would show
    assert value(rows['copy'].find('td', data_measure='J&F-Mean')) != \
        value(rows['shift'].find('td', data_measure='J&F-Mean'))


def test_rows_curves_and_pictures_are_counted_right(two_method_report):
    report, text, dom, _ = two_method_report
    objects = report['objects']
    body = dom.find('table', id='per-sequence').find('tbody')
    assert len(body.find_all('tr')) == len(objects) > NUM_VAL - 1
    # one J&F column per method, plus the difference to the first
    heads = dom.find('table', id='per-sequence').find('thead').find_all('th')
    jf_heads = [h for h in heads if h.attrs.get('data-measure') == 'J&F']
    assert [h.attrs['data-method'] for h in jf_heads] == ['copy', 'shift']
    assert jf_heads[0].attrs.get('aria-sort') == 'ascending'
    # one curve per object; in each, J and F of both methods
    curves = dom.find_all('svg', 'curve')
    assert [c.attrs['data-object'] for c in curves] == [
        o['name'] for o in objects]
    scored_frames = NUM_FRAMES - 2
    for curve in curves:
        lines = curve.find_all('polyline')
        assert sorted((p.attrs['data-method'], p.attrs['class'])
                      for p in lines) == [('copy', 'f'), ('copy', 'j'),
                                          ('shift', 'f'), ('shift', 'j')]
        for line in lines:
            points = [tuple(map(float, p.split(',')))
                      for p in line.attrs['points'].split()]
            assert len(points) == scored_frames
            assert all(10 <= y <= 10 + 128 for _, y in points)  # 0..1
    # 3 worst frames per sequence and method, lowest J first
    sections = dom.find_all('section', 'sequence')
    assert [s.attrs['data-sequence'] for s in sections] == \
        report['sequences']
    for section in sections:
        for method in report['methods']:
            imgs = section.find_all('img', 'worst-frame',
                                    data_method=method['name'])
            picks = method['worst_frames'][section.attrs['data-sequence']]
            assert [i.attrs['data-frame'] for i in imgs] == [
                p['frame'] for p in picks]
            assert len(imgs) == 3
            js = [p['J'] for p in picks]
            assert js == sorted(js)
    images = dom.find_all('img', 'worst-frame')
    assert len(images) == NUM_VAL * 2 * 3
    # JPEG data URIs of ground truth | prediction at the frames' size
    prefix = 'data:image/jpeg;base64,'
    for img in images:
        assert img.attrs['src'].startswith(prefix)
        data = np.frombuffer(base64.b64decode(img.attrs['src'][len(prefix):]),
                             np.uint8)
        picture = cv2.imdecode(data, cv2.IMREAD_COLOR)
        assert picture.shape == (32, 96, 3)
        assert (int(img.attrs['width']), int(img.attrs['height'])) == (96, 32)


def test_per_object_rows_start_with_the_lowest_jf(two_method_report):
    _, _, dom, _ = two_method_report
    rows = dom.find('table', id='per-sequence').find('tbody').find_all('tr')
    jfs = [value(r.find('td', data_method='copy', data_measure='J&F'))
           for r in rows]
    assert jfs == sorted(jfs) and len(set(jfs)) > 1


def test_the_page_is_self_contained(two_method_report):
    _, text, dom, _ = two_method_report
    lowered = text.lower()
    for needle in ('http://', 'https://', '<script src', '<link', '@import',
                   'url('):
        assert needle not in lowered, needle
    scripts = dom.find_all('script')
    assert len(scripts) == 1 and 'src' not in scripts[0].attrs
    assert all(i.attrs['src'].startswith('data:')
               for i in dom.find_all('img'))
    assert text.lstrip().startswith('<!DOCTYPE html>')


def test_pictures_are_downscaled_and_optional(dataset, tmp_path):
    gt_root, folders = dataset
    out = str(tmp_path / 'small.html')
    report_tool.main([gt_root, folders['copy'], '--out', out, '--quiet',
                      '--thumb-width', '24', '--worst-frames', '1',
                      '--names', 'baseline'])
    dom = parse_html(open(out, encoding='utf-8').read())
    images = dom.find_all('img', 'worst-frame')
    assert len(images) == NUM_VAL
    assert {(i.attrs['width'], i.attrs['height']) for i in images} == {
        ('48', '16')}
    assert dom.find('tr', 'method').attrs['data-method'] == 'baseline'
    out = str(tmp_path / 'none.html')
    report_tool.main([gt_root, folders['copy'], '--out', out, '--quiet',
                      '--worst-frames', '0'])
    dom = parse_html(open(out, encoding='utf-8').read())
    assert dom.find_all('img') == []
    assert len(dom.find_all('svg', 'curve')) >= NUM_VAL


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
def test_missing_results_folder_is_named(dataset, tmp_path, capsys):
    gt_root, folders = dataset
    missing = tmp_path / 'no_such_results'
    out = tmp_path / 'report.html'
    code, _, err = run_tool_main(report_tool, [gt_root, folders['copy'], missing,
                                          '--out', out], capsys)
    assert code == 1
    assert 'results folder not found' in err and str(missing) in err
    assert "'no_such_results'" in err  # the method
    assert not out.exists()


def test_missing_sequence_is_named(dataset, tmp_path, capsys):
    gt_root, folders = dataset
    partial = tmp_path / 'partial'
    shutil.copytree(folders['shift'], partial)
    seq = sorted(os.listdir(partial))[1]
    shutil.rmtree(partial / seq)
    out = tmp_path / 'report.html'
    code, _, err = run_tool_main(report_tool, [gt_root, folders['copy'], partial,
                                          '--out', out], capsys)
    assert code == 1
    assert f'sequence {seq!r} has no predictions' in err
    assert str(partial / seq) in err and not out.exists()
    # a sequence named on the command line that the ground truth lacks
    code, _, err = run_tool_main(report_tool, [gt_root, folders['copy'],
                                          '--sequences', 'nope', '--out',
                                          out], capsys)
    assert code == 1 and "'nope'" in err


def test_names_must_fit_the_folders(dataset, tmp_path, capsys):
    gt_root, folders = dataset
    code, _, err = run_tool_main(report_tool, [gt_root, folders['copy'],
                                          folders['shift'], '--names', 'a',
                                          '--out', tmp_path / 'r.html'],
                            capsys)
    assert code == 2 and '--names has 1 name(s) for 2' in err
    assert method_names(['/x/plain/results', '/x/tta/results']) == [
        'plain/results', 'tta/results']
    with pytest.raises(ValueError, match="name 'a'"):
        method_names(['/x/a', '/y/b'], ['a', 'a'])


def test_worst_frames_skip_unscored_columns():
    nan = math.nan
    result = dict(frame_names=['a', 'b', 'c', 'd'],
                  J=np.array([[0.9, nan, 0.2, 0.5], [0.7, nan, 0.4, 0.3]]),
                  F=np.array([[1.0, nan, 0.0, 0.5], [0.5, nan, 0.2, 0.5]]))
    picks = worst_frames(result, 3)
    assert [p['frame'] for p in picks] == ['c', 'd', 'a']
    assert picks[0]['J'] == pytest.approx(0.3)
    assert picks[0]['F'] == pytest.approx(0.1)
    assert worst_frames(result, 0) == []


# --------------------------------------------------------------------------
# DAVIS 2016 masks and the real sample
# --------------------------------------------------------------------------
def test_davis2016_binary_masks(tmp_path):
    gt_root, results = tmp_path / 'gt', tmp_path / 'results'
    os.makedirs(gt_root / 'ImageSets' / '2016')
    (gt_root / 'ImageSets' / '2016' / 'val.txt').write_text('box\n')
    for t in range(5):
        gt = np.zeros((24, 40), np.uint8)
        gt[4:14, 3 + t:15 + t] = 255
        for folder, mask in ((gt_root / 'Annotations' / '480p' / 'box', gt),
                             (results / 'box', np.roll(gt, 2 * t, axis=1))):
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(mask, 'L').save(folder / f'{t:05d}.png')
    out = str(tmp_path / 'report.html')
    report_tool.main([str(gt_root), str(results), '--year', '2016', '--out',
                      out, '--quiet'])
    dom = parse_html(open(out, encoding='utf-8').read())
    expected = evaluate_results_folder(str(gt_root), str(results),
                                       year='2016')
    cells = dom.find('tr', 'method').find_all('td', 'num')
    assert [value(c) for c in cells[:len(GLOBAL_MEASURES)]] == [
        expected['global_stats'][k] for k in GLOBAL_MEASURES]
    # no images in the ground truth: the masks over a grey frame
    assert len(dom.find_all('img', 'worst-frame')) == 3


def test_real_davis_sample(tmp_path):
    if not osp.isdir(DAVIS_SAMPLE):
        pytest.skip(f'DAVIS sample not found at {DAVIS_SAMPLE}')
    results = tmp_path / 'copy-first-mask'
    ann = osp.join(DAVIS_SAMPLE, 'Annotations', '480p')
    for seq in ('blackswan', 'tennis'):
        files = sorted(os.listdir(osp.join(ann, seq)))
        first = read_mask(osp.join(ann, seq, files[0]))
        first[first == 255] = 0
        for name in files:
            write_mask(str(results / seq / name), first)
    out = str(tmp_path / 'report.html')
    report_tool.main([DAVIS_SAMPLE, str(results), '--out', out, '--quiet'])
    dom = parse_html(open(out, encoding='utf-8').read())
    expected = evaluate_results_folder(DAVIS_SAMPLE, str(results))
    cells = dom.find('tr', 'method').find_all('td', 'num')
    assert [value(c) for c in cells[:len(GLOBAL_MEASURES)]] == [
        expected['global_stats'][k] for k in GLOBAL_MEASURES]
    rows = dom.find('table', id='per-sequence').find('tbody').find_all('tr')
    # tennis (2 frames) is scored in no frame: listed last, empty
    assert [r.attrs['data-object'] for r in rows] == [
        'blackswan_1', 'tennis_1', 'tennis_2']
    assert rows[-1].find('td', data_measure='J&F').text() == ''
    images = dom.find_all('img', 'worst-frame')
    assert [i.attrs['data-frame'] for i in images] == [
        p['frame'] for p in worst_frames(expected['results'][0], 3)]
    assert {(i.attrs['width'], i.attrs['height']) for i in images} == {
        ('640', '180')}  # 854x480 at 320 pixels a side
    assert osp.getsize(out) < 400 * 1024


# --------------------------------------------------------------------------
# tools/test.py --report
# --------------------------------------------------------------------------
test_tool = load_tool('tools/test.py', 'vosbench_tool_test_report')


def test_test_tool_report_needs_out(tmp_path):
    with pytest.raises(SystemExit, match='--report reads the predictions '
                       'of --out'):
        test_tool.main(['config.py', str(tmp_path / 'missing.pth'),
                        '--report'])


def test_test_tool_report_needs_a_davis_test_set():
    from mmengine.config import Config
    args = test_tool.parse_args(['config.py', 'ckpt.pth', '--out', 'out',
                                 '--report'])
    cfg = Config(dict(test_evaluator=dict(type='YouTubeVOSMetric')))

    class YouTubeVOSLike:
        pass

    with pytest.raises(SystemExit, match='DAVIS layout.*YouTubeVOSLike'):
        test_tool.report_settings(args, cfg, YouTubeVOSLike())
    args = test_tool.parse_args(['config.py', 'ckpt.pth', '--out', 'out'])
    assert test_tool.report_settings(args, cfg, YouTubeVOSLike()) is None


def test_test_tool_writes_the_report(tmp_path, one_torch_thread):
    data_root = write_synthetic_davis(str(tmp_path / 'data'), 2, 4)
    config = write_test_config(tmp_path, 'tiny_report', data_root)
    checkpoint = save_tiny_checkpoint(str(tmp_path / 'tiny.pth'), seed=3)
    out = tmp_path / 'out'
    test_tool.main([config, checkpoint, '--out', str(out), '--work-dir',
                    str(tmp_path / 'work'), '--report'])
    page = out / 'report.html'
    dom = parse_html(page.read_text(encoding='utf-8'))
    row = dom.find('tr', 'method')
    assert row.attrs['data-method'] == 'tiny_report'
    # the numbers of the CSV the test run's metric wrote
    written = read_csv(out / 'global_results-val.csv')
    cells = row.find_all('td', 'num')[:len(GLOBAL_MEASURES)]
    assert [c.text() for c in cells] == written[1]
    assert len(dom.find_all('svg', 'curve')) == len(read_csv(
        out / 'per-sequence_results-val.csv')) - 1
    assert len(dom.find_all('img', 'worst-frame')) == 2 * 2


# --------------------------------------------------------------------------
# in a browser
# --------------------------------------------------------------------------
def chromium_binary():
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get('VOSBENCH_INSTALL_CHROMIUM') == '1':
        for command in (['apt-get', 'update'],
                        ['apt-get', 'install', '-y', 'chromium']):
            subprocess.run(command, check=False, timeout=600)
        return shutil.which('chromium')
    return None


def run_chromium(binary, *args):
    return subprocess.run(
        [binary, '--headless', '--no-sandbox', '--disable-gpu',
         '--window-size=1200,2000', *args],
        capture_output=True, text=True, timeout=60)


def test_report_renders_in_headless_chromium(two_method_report, tmp_path):
    binary = chromium_binary()
    if binary is None:
        pytest.skip('no Chromium: install the Debian package "chromium" '
                    '(apt-get install chromium), or set '
                    'VOSBENCH_INSTALL_CHROMIUM=1 to let this test do it')
    report, _, _, path = two_method_report
    url = 'file://' + osp.abspath(path)
    shot = tmp_path / 'shot.png'
    run_chromium(binary, f'--screenshot={shot}', url)
    assert shot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    pixels = np.asarray(Image.open(shot).convert('RGB'))
    assert pixels.shape == (2000, 1200, 3)
    assert pixels.std() > 10 and (pixels < 250).any(axis=2).mean() > 0.02
    # the DOM after the script ran, opened sorted by the object name,
    # last first
    dumped = run_chromium(binary, '--dump-dom', url + '#sort=0-descending')
    dom = parse_html(dumped.stdout)
    assert dom.find('body').attrs.get('data-sort-ready') == '1'
    rows = dom.find('table', id='per-sequence').find('tbody').find_all('tr')
    names = [r.attrs['data-object'] for r in rows]
    assert names == sorted((o['name'] for o in report['objects']),
                           reverse=True)
    heads = dom.find('table', id='per-sequence').find_all('th')
    assert heads[0].attrs.get('aria-sort') == 'descending'
    assert len(dom.find_all('img', 'worst-frame')) == NUM_VAL * 2 * 3
    assert len(dom.find_all('svg', 'curve')) == len(report['objects'])
