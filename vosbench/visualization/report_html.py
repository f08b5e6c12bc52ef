"""A results report as one self-contained HTML file.

Input is what :func:`vosbench.evaluation.results_report.
gather_results_report` returns. The page needs nothing outside the file
(no network, fonts, style sheets or scripts from elsewhere): inline CSS,
one small inline script that sorts the per-sequence table, the curves as
inline SVG and the pictures as base64 JPEG data URIs. Numbers are printed
as ``tools/eval_results.py`` writes them (3 decimals) and kept at full
precision in ``data-value`` attributes.

Elements, for tools and tests that read the page:

- ``table#global``: ``tr.method`` per method (``data-method``), a cell per
  measure (``data-measure``, ``data-value``);
- ``table#per-sequence``: a ``tbody tr`` per object (``data-object``,
  ``data-sequence``); headers with ``data-type`` (``number`` / ``text``)
  and, per method, ``J&F``, ``J-Mean``, ``F-Mean`` columns
  (``data-method``, ``data-measure`` on the cells); sorted by the first
  method's J&F, lowest first; a click on a header sorts by it (again:
  the other way); a URL ending in ``#sort=<column>-<ascending|descending>``
  opens sorted so;
- ``section.sequence`` per sequence (``id="seq-<name>"``) with an
  ``svg.curve`` per object (``data-object``; a ``polyline`` per method and
  measure, classes ``j`` / ``f``, ``data-method``) and an
  ``img.worst-frame`` per worst frame and method (``data-method``,
  ``data-frame``): ground truth left, prediction right;
- ``body[data-sort-ready]`` is set once the script has run.
"""
import base64
import datetime
import html
import math
from typing import List, Optional, Sequence

import cv2
import numpy as np

from vosbench.evaluation.davis_results import read_label_png
from vosbench.evaluation.functional.davis_summary import (
    GLOBAL_MEASURES, global_table_rows, per_object_table_rows,
    write_text_atomically)
from vosbench.evaluation.results_report import object_jf
from .overlay import overlay_masks, side_by_side

__all__ = [
    'METHOD_COLOURS', 'worst_frame_thumbnail', 'jpeg_data_uri', 'curve_svg',
    'render_report_html', 'write_report_html'
]

#: Line colours of the methods, in order (then repeated).
METHOD_COLOURS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e',
                  '#17becf', '#8c564b', '#e377c2')


def _colour(index: int) -> str:
    return METHOD_COLOURS[index % len(METHOD_COLOURS)]


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _value_attr(value: float) -> str:
    """Full precision for ``data-value``; NaN is empty."""
    value = float(value)
    return '' if math.isnan(value) else repr(value)


def _fmt(value: float, sign: bool = False) -> str:
    if math.isnan(value):
        return ''
    return ('%+.3f' if sign else '%.3f') % value


# ----------------------------------------------------------------------
# pictures
# ----------------------------------------------------------------------
def worst_frame_thumbnail(image_path: Optional[str],
                          gt_path: str,
                          pred_path: str,
                          binary: bool = False,
                          max_width: int = 320) -> np.ndarray:
    """Ground truth (left) and prediction (right) overlaid on a frame
    (:func:`~vosbench.visualization.overlay.overlay_masks`,
    :func:`~vosbench.visualization.overlay.side_by_side`), each side
    downscaled to at most ``max_width`` pixels wide.

    Args:
        image_path (str, optional): The frame; None gives a grey frame.
        gt_path (str): Ground-truth label PNG.
        pred_path (str): Predicted label PNG (same size).
        binary (bool): DAVIS 2016 masks (every non-zero value is the
            object).
        max_width (int): Width of one side at most.

    Returns:
        np.ndarray: ``(h, 2 * w, 3)`` uint8 RGB.
    """
    # read as the evaluator reads them (binary: every non-zero value is 1)
    gt = read_label_png(gt_path, binary)
    pred = read_label_png(pred_path, binary)
    height, width = gt.shape
    frame = None
    if image_path is not None:
        bgr = cv2.imread(image_path, cv2.IMREAD_COLOR)
        if bgr is not None and bgr.shape[:2] == gt.shape:
            frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if frame is None:
        frame = np.full((height, width, 3), 128, np.uint8)
    scale = min(1.0, max_width / float(width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        gt = cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST)
        pred = cv2.resize(pred, size, interpolation=cv2.INTER_NEAREST)
    return side_by_side(overlay_masks(frame, gt), overlay_masks(frame, pred))


def jpeg_data_uri(rgb: np.ndarray, quality: int = 75) -> str:
    """``data:image/jpeg;base64,...`` of an ``(H, W, 3)`` uint8 RGB
    image."""
    ok, data = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError('JPEG encoding failed')
    return 'data:image/jpeg;base64,' + base64.b64encode(
        data.tobytes()).decode('ascii')


# ----------------------------------------------------------------------
# curves
# ----------------------------------------------------------------------
_PLOT = dict(width=560, height=190, left=36, right=12, top=10, bottom=52)


def _runs(values: np.ndarray) -> List[List[int]]:
    """Index runs where ``values`` is not NaN (a polyline each)."""
    runs, current = [], []
    for i, v in enumerate(values):
        if math.isnan(v):
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def _legend(series: Sequence[dict], left: int, right: int,
            top: int) -> tuple:
    """Per method its name, a solid line (J) and a dashed one (F), in rows
    from ``top`` between ``left`` and ``right``. Returns the SVG text and
    the number of rows."""
    parts, lx, ly, rows = [], left, top, 1
    for entry in series:
        name = str(entry['name'])
        width = 6 * len(name) + 8 + 66  # about 6 px a character
        if lx > left and lx + width > right:
            lx, ly, rows = left, ly + 14, rows + 1
        nx = lx + 6 * len(name) + 8
        parts.append(
            f'<text class="legend" x="{lx}" y="{ly}">{_esc(name)}</text>'
            f'<line class="j" stroke="{entry["colour"]}" x1="{nx}" '
            f'x2="{nx + 18}" y1="{ly - 4}" y2="{ly - 4}"/>'
            f'<text class="legend" x="{nx + 21}" y="{ly}">J</text>'
            f'<line class="f" stroke="{entry["colour"]}" x1="{nx + 33}" '
            f'x2="{nx + 51}" y1="{ly - 4}" y2="{ly - 4}"/>'
            f'<text class="legend" x="{nx + 54}" y="{ly}">F</text>')
        lx += width + 8
    return ''.join(parts), rows


def curve_svg(object_name: str, frame_names: Sequence[str],
              series: Sequence[dict]) -> str:
    """Per-frame J (solid) and F (dashed) of one object, one colour per
    method, as inline SVG (y from 0 to 1, the scored frames on x).

    Args:
        object_name (str): ``<seq>_<id>``.
        frame_names (Sequence[str]): The ``S`` scored frames.
        series (Sequence[dict]): Per method ``name``, ``colour``, ``J`` and
            ``F`` (``S`` values each, NaN where not scored).
    """
    p = _PLOT
    plot_w = p['width'] - p['left'] - p['right']
    plot_h = p['height'] - p['top'] - p['bottom']
    bottom = p['top'] + plot_h
    count = len(frame_names)

    def x(i: int) -> float:
        if count <= 1:
            return p['left'] + plot_w / 2
        return p['left'] + plot_w * i / (count - 1)

    def y(v: float) -> float:
        return p['top'] + plot_h * (1.0 - min(max(v, 0.0), 1.0))

    legend, legend_rows = _legend(series, p['left'], p['width'] - p['right'],
                                  bottom + 34)
    height = p['height'] + 14 * (legend_rows - 1)
    parts = [
        f'<svg class="curve" data-object="{_esc(object_name)}" '
        f'width="{p["width"]}" height="{height}" '
        f'viewBox="0 0 {p["width"]} {height}" '
        f'role="img"><title>{_esc(object_name)}: J and F per frame</title>',
        f'<rect class="plot" x="{p["left"]}" y="{p["top"]}" '
        f'width="{plot_w}" height="{plot_h}"/>'
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<line class="grid" x1="{p["left"]}" x2="{p["left"] + plot_w}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="tick" x="{p["left"] - 4}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:g}</text>')
    if count:
        parts.append(
            f'<text class="tick" x="{x(0):.1f}" y="{bottom + 14}" '
            f'text-anchor="start">{_esc(frame_names[0])}</text>')
        if count > 1:
            parts.append(
                f'<text class="tick" x="{x(count - 1):.1f}" '
                f'y="{bottom + 14}" text-anchor="end">'
                f'{_esc(frame_names[-1])}</text>')
        parts.append(
            f'<text class="tick" x="{p["left"] + plot_w / 2:.1f}" '
            f'y="{bottom + 14}" text-anchor="middle">frame</text>')
    for entry in series:
        for measure, cls in (('J', 'j'), ('F', 'f')):
            values = np.asarray(entry[measure], dtype=np.float64)
            for run in _runs(values):
                points = ' '.join(f'{x(i):.1f},{y(values[i]):.1f}'
                                  for i in run)
                if len(run) == 1:  # a lone frame: a short stroke
                    cx, cy = x(run[0]), y(values[run[0]])
                    points = f'{cx - 2:.1f},{cy:.1f} {cx + 2:.1f},{cy:.1f}'
                parts.append(
                    f'<polyline class="{cls}" '
                    f'data-method="{_esc(entry["name"])}" '
                    f'stroke="{entry["colour"]}" points="{points}"/>')
    parts.append(legend)
    if not count or not any(
            (~np.isnan(np.asarray(e['J'], dtype=np.float64))).any()
            for e in series):
        parts.append(
            f'<text class="note" x="{p["left"] + plot_w / 2:.1f}" '
            f'y="{p["top"] + plot_h / 2:.1f}" text-anchor="middle">'
            'scored in no frame</text>')
    parts.append('</svg>')
    return ''.join(parts)


# ----------------------------------------------------------------------
# the page
# ----------------------------------------------------------------------
_STYLE = """
body { font-family: sans-serif; margin: 16px 24px; color: #222;
       background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 18px; margin: 22px 0 8px 0; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; margin: 18px 0 6px 0; }
p.settings, p.note { color: #555; font-size: 13px; margin: 2px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.low { background: #fde0dc; }
td.better { color: #1a7f37; }
td.worse { color: #b42318; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
span.swatch { display: inline-block; width: 10px; height: 10px;
              margin-right: 4px; vertical-align: middle; }
div.curves, div.worst { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; }
figcaption { font-size: 12px; color: #444; }
svg.curve rect.plot { fill: #fafafa; stroke: #999; }
svg.curve line.grid { stroke: #ddd; }
svg.curve text { font-size: 11px; fill: #444; }
svg.curve polyline, svg.curve line.j, svg.curve line.f {
    fill: none; stroke-width: 1.5; }
svg.curve .f { stroke-dasharray: 5 3; }
img.worst-frame { display: block; border: 1px solid #ccc; }
"""

# sorts table.sortable by a clicked header; numbers by data-value, empty
# (not scored) last in either direction
_SCRIPT = """
(function () {
  var table = document.getElementById('per-sequence');
  if (table) {
    var heads = table.tHead.rows[0].cells;
    var body = table.tBodies[0];
    var key = function (row, col, numeric) {
      var cell = row.cells[col];
      if (!numeric) { return cell.textContent; }
      var value = parseFloat(cell.getAttribute('data-value'));
      return isNaN(value) ? null : value;
    };
    var sortBy = function (col, order) {
      var numeric = heads[col].getAttribute('data-type') === 'number';
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, col, numeric), y = key(b, col, numeric);
        if (x === null || y === null) {
          return (x === null) - (y === null);
        }
        var diff = numeric ? x - y : x.localeCompare(y);
        return order === 'ascending' ? diff : -diff;
      });
      rows.forEach(function (row) { body.appendChild(row); });
      for (var i = 0; i < heads.length; i++) {
        heads[i].removeAttribute('aria-sort');
      }
      heads[col].setAttribute('aria-sort', order);
    };
    Array.prototype.forEach.call(heads, function (head, col) {
      head.addEventListener('click', function () {
        sortBy(col, head.getAttribute('aria-sort') === 'ascending' ?
               'descending' : 'ascending');
      });
    });
    var wanted = /^#sort=(\\d+)-(ascending|descending)$/.exec(
      window.location.hash);
    if (wanted && +wanted[1] < heads.length) {
      sortBy(+wanted[1], wanted[2]);
    }
  }
  document.body.setAttribute('data-sort-ready', '1');
})();
"""


def _swatch(index: int) -> str:
    return (f'<span class="swatch" style="background:{_colour(index)}">'
            '</span>')


def _global_table(methods: Sequence[dict]) -> List[str]:
    out = ['<table id="global"><thead><tr><th>Method</th>']
    out += [f'<th>{_esc(m)}</th>' for m in GLOBAL_MEASURES]
    out.append('<th>Scored objects</th></tr></thead><tbody>')
    for index, method in enumerate(methods):
        stats = method['global_stats']
        texts = global_table_rows(stats)[1]  # as in the global CSV
        out.append(f'<tr class="method" data-method="{_esc(method["name"])}">'
                   f'<td>{_swatch(index)}{_esc(method["name"])}</td>')
        for measure, text in zip(GLOBAL_MEASURES, texts):
            out.append(f'<td class="num" data-measure="{_esc(measure)}" '
                       f'data-value="{_value_attr(stats[measure])}">'
                       f'{_esc(text)}</td>')
        scored = len(method['object_stats']) - len(method['unscored'])
        out.append(f'<td class="num">{scored}</td></tr>')
    out.append('</tbody></table>')
    return out


def _per_sequence_table(report: dict) -> List[str]:
    methods = report['methods']
    multi = len(methods) > 1
    rows_by_method = []
    for method in methods:
        # the per-sequence CSV's texts of J-Mean and F-Mean
        texts = per_object_table_rows(method['object_stats'])[1:]
        rows_by_method.append({
            stat['name']: (stat, text)
            for stat, text in zip(method['object_stats'], texts)
        })

    def label(measure: str, method: dict) -> str:
        return f'{measure} {_esc(method["name"])}' if multi else measure

    head = ['<th data-type="text">Object</th>']
    measures = ('J&F', 'J-Mean', 'F-Mean')
    for measure in measures:
        for index, method in enumerate(methods):
            default = ' data-default-sort="1" aria-sort="ascending"' \
                if measure == 'J&F' and index == 0 else ''
            head.append(f'<th data-type="number" data-measure="'
                        f'{_esc(measure)}" data-method="'
                        f'{_esc(method["name"])}"{default}>'
                        f'{label(_esc(measure), method)}</th>')
    for method in methods[1:]:
        head.append(f'<th data-type="number" data-measure="delta-J&amp;F" '
                    f'data-method="{_esc(method["name"])}">&Delta;J&amp;F '
                    f'{_esc(method["name"])}</th>')
    head.append('<th data-type="number">Frames</th>')

    def jf_of(name: str, index: int) -> float:
        return object_jf(rows_by_method[index][name][0])

    objects = list(report['objects'])
    # failures first: the first method's J&F, lowest first, unscored last
    objects.sort(key=lambda o: (math.isnan(jf_of(o['name'], 0)),
                                jf_of(o['name'], 0) if not math.isnan(
                                    jf_of(o['name'], 0)) else 0.0))
    out = ['<table id="per-sequence" class="sortable"><thead><tr>',
           ''.join(head), '</tr></thead><tbody>']
    for obj in objects:
        name = obj['name']
        cells = [f'<td><a href="#seq-{_esc(obj["seq_name"])}">{_esc(name)}'
                 '</a></td>']
        for measure in measures:
            for index, method in enumerate(methods):
                stat, text = rows_by_method[index][name]
                if measure == 'J&F':
                    value = object_jf(stat)
                    shown = _fmt(value)
                else:
                    value = stat[measure]
                    shown = text[1] if measure == 'J-Mean' else text[2]
                low = ' low' if measure == 'J&F' and not math.isnan(
                    value) and value < 0.5 else ''
                cells.append(
                    f'<td class="num{low}" data-method="'
                    f'{_esc(method["name"])}" data-measure="{_esc(measure)}"'
                    f' data-value="{_value_attr(value)}">{_esc(shown)}</td>')
        for index, method in enumerate(methods[1:], start=1):
            delta = jf_of(name, index) - jf_of(name, 0)
            tone = '' if math.isnan(delta) or delta == 0 else (
                ' better' if delta > 0 else ' worse')
            cells.append(f'<td class="num{tone}" data-measure="delta-J&amp;F"'
                         f' data-value="{_value_attr(delta)}">'
                         f'{_fmt(delta, sign=True)}</td>')
        frames = rows_by_method[0][name][0]['num_frames']
        cells.append(f'<td class="num" data-value="{frames}">{frames}</td>')
        out.append(f'<tr data-object="{_esc(name)}" data-sequence="'
                   f'{_esc(obj["seq_name"])}">{"".join(cells)}</tr>')
    out.append('</tbody></table>')
    return out


def _sequence_section(report: dict, seq_index: int, max_width: int,
                      jpeg_quality: int) -> List[str]:
    methods = report['methods']
    seq = report['sequences'][seq_index]
    binary = report['settings']['year'] == '2016'
    results = [m['results'][seq_index] for m in methods]
    first = results[0]
    out = [f'<section class="sequence" id="seq-{_esc(seq)}" '
           f'data-sequence="{_esc(seq)}"><h3>{_esc(seq)}</h3>',
           '<div class="curves">']
    for row, obj_id in enumerate(first['object_ids']):
        name = f'{seq}_{obj_id}'
        series = [
            dict(name=m['name'], colour=_colour(i),
                 J=np.asarray(r['J'], dtype=np.float64)[row],
                 F=np.asarray(r['F'], dtype=np.float64)[row])
            for i, (m, r) in enumerate(zip(methods, results))
        ]
        out.append(f'<figure>{curve_svg(name, first["frame_names"], series)}'
                   f'<figcaption>{_esc(name)}</figcaption></figure>')
    out.append('</div>')
    picks = [(i, m, pick) for i, m in enumerate(methods)
             for pick in m['worst_frames'].get(seq, [])]
    if picks:
        out.append('<p class="note">Worst frames (lowest J over the '
                   'objects), ground truth left, prediction right:</p>'
                   '<div class="worst">')
        for index, method, pick in picks:
            thumb = worst_frame_thumbnail(pick['image'], pick['ground_truth'],
                                          pick['prediction'], binary,
                                          max_width)
            caption = (f'{method["name"]}, frame {pick["frame"]}: '
                       f'J {pick["J"]:.3f}, F {pick["F"]:.3f}')
            out.append(
                f'<figure><img class="worst-frame" data-method="'
                f'{_esc(method["name"])}" data-frame="{_esc(pick["frame"])}"'
                f' width="{thumb.shape[1]}" height="{thumb.shape[0]}" '
                f'alt="{_esc(seq)}: {_esc(caption)}" '
                f'src="{jpeg_data_uri(thumb, jpeg_quality)}">'
                f'<figcaption>{_swatch(index)}{_esc(caption)}</figcaption>'
                '</figure>')
        out.append('</div>')
    out.append('</section>')
    return out


def render_report_html(report: dict,
                       max_width: int = 320,
                       jpeg_quality: int = 75,
                       title: str = 'vosbench results report') -> str:
    """The report page (see the module docstring).

    Args:
        report (dict): From :func:`~vosbench.evaluation.results_report.
            gather_results_report`.
        max_width (int): Width of one side of a worst-frame picture at
            most. Defaults to 320.
        jpeg_quality (int): JPEG quality of the pictures. Defaults to 75.
        title (str): Page title.

    Returns:
        str: The HTML text.
    """
    settings = report['settings']
    methods = report['methods']
    protocol = [f'DAVIS {settings["year"]}', f'split {settings["split"]}',
                settings['resolution']]
    if settings.get('sparse'):
        protocol.append('sparse')
    if not settings.get('skip_last_frame', True):
        protocol.append('last frame scored')
    protocol = ', '.join(protocol)
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           f'<title>{_esc(title)}</title>',
           f'<style>{_STYLE}</style></head>',
           f'<body data-methods="{len(methods)}">',
           f'<h1>{_esc(title)}</h1>',
           f'<p class="settings">Ground truth: {_esc(settings["gt_root"])} '
           f'({_esc(protocol)}); {len(report["sequences"])} sequence(s), '
           f'{len(report["objects"])} object(s); written '
           f'{datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}.</p>']
    for index, method in enumerate(methods):
        out.append(f'<p class="settings">{_swatch(index)}'
                   f'{_esc(method["name"])}: {_esc(method["results_dir"])}'
                   '</p>')
    out.append('<h2>Global results</h2>')
    out += _global_table(methods)
    unscored = methods[0]['unscored']
    if unscored:
        out.append(f'<p class="note">Scored in no frame (fewer than 3 '
                   f'annotated frames, or first seen in the last), left out '
                   f'of the global numbers: {_esc(", ".join(unscored))}.</p>')
    out.append('<h2>Per object</h2><p class="note">Click a header to sort; '
               'J&amp;F of an object is the mean of its J-Mean and F-Mean. '
               'Lowest J&amp;F first.</p>')
    out += _per_sequence_table(report)
    out.append('<h2>Sequences</h2><p class="note">Per-frame J (solid) and F '
               '(dashed) over the scored frames, one colour per method.</p>')
    for seq_index in range(len(report['sequences'])):
        out += _sequence_section(report, seq_index, max_width, jpeg_quality)
    out.append(f'<script>{_SCRIPT}</script></body></html>')
    return '\n'.join(out) + '\n'


def write_report_html(report: dict, path: str, **kwargs) -> str:
    """Write :func:`render_report_html` to ``path`` (through a temporary
    file and a rename, so a failure leaves no partial page). Returns
    ``path``."""
    write_text_atomically(path, render_report_html(report, **kwargs))
    return path
