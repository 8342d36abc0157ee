"""The lab pages' charts, drawn here as SVG: heat maps and line plots.

Drawn by the server, not by a charting library in the browser: a page's
first Vega-Lite chart loads 0.8 MB of script and runs it (with the table
widget, most of what kept a cold lab page over twice a one-line page's time,
measured with Chromium's trace by ``bench/app_latency.py --trace``), its
first Plotly chart 4.7 MB. These charts change only when the page reruns,
so they are plain SVG that the browser shows as it shows text; hovering a
cell or a point shows its value through SVG's own ``<title>``.

What is drawn is also written into the SVG as ``data-`` attributes (a cell's
row, column and value, a curve's points), so that tests read the numbers a
chart shows rather than its pixels.

>>> import torch
>>> svg = heat_map(torch.eye(2), "I", "row", "column")
>>> svg.count('<rect class="cell"'), 'data-value="1.0"' in svg
(4, True)
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import math
from typing import Sequence

import numpy as np

HEIGHT = 380
WIDTH = 560          # of the viewBox: the chart stretches to its column (up to 1.25 times) and keeps its shape
MAX_CELLS = 2_500    # more, and a heat map's cells are one image (no hover) rather than one rect each
FONT = "font-size:12px;fill:#31333f"  # the page's own font, inherited

# ColorBrewer's RdBu, red for the lowest value and blue for the highest, white at zero: Vega's "redblue".
_RED_BLUE = np.array([[103, 0, 31], [178, 24, 43], [214, 96, 77], [244, 165, 130], [253, 219, 199],
                      [247, 247, 247], [209, 229, 240], [146, 197, 222], [67, 147, 195], [33, 102, 172],
                      [5, 48, 97]], dtype=float)
# Tableau 10, Vega's default colours for series.
_SERIES = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")


def heat_map(matrix, title: str, rows: str, cols: str, row_blocks: Sequence[tuple[str, int]] = (),
             col_blocks: Sequence[tuple[str, int]] = (), height: int = HEIGHT) -> str:
    """A matrix as coloured cells (red below zero, blue above, white at zero), hover for the value.

    ``row_blocks`` and ``col_blocks`` are ``(name, size)`` runs of rows and
    columns (the inputs of a Jacobian, the pairs of a Hessian): a line is
    drawn between two blocks, and each block's name labels its middle.
    """
    values = matrix.detach().double().cpu().numpy()
    n_rows, n_cols = values.shape
    left, top, right, bottom = 56, 34, 72, 44
    width, plot_h = WIDTH - left - right, height - top - bottom
    cw, ch = width / n_cols, plot_h / n_rows
    limit = float(np.abs(values).max()) if values.size else 0.0
    limit = limit if math.isfinite(limit) and limit > 0 else 1.0
    out = [_open(height, "heat-map", title, f'data-rows="{n_rows}" data-cols="{n_cols}"')]
    if values.size <= MAX_CELLS:
        for (i, j), v in np.ndenumerate(values):
            # a hair wider and taller than a cell: no white seams between neighbours when scaled
            out.append(f'<rect class="cell" x="{left + j * cw:.1f}" y="{top + i * ch:.1f}" width="{cw + 0.3:.1f}" '
                       f'height="{ch + 0.3:.1f}" fill="{_hex(_colour(v / limit))}" data-row="{i}" data-col="{j}" '
                       f'data-value="{float(v)!r}"><title>{_text(rows)} {i}, {_text(cols)} {j}: {v:.6g}</title></rect>')
    else:
        out.append(f'<image class="cells" x="{left}" y="{top}" width="{width}" height="{plot_h}" '
                   f'preserveAspectRatio="none" style="image-rendering:pixelated" href="{_png(values / limit)}"/>')
    for blocks, across in ((row_blocks, False), (col_blocks, True)):
        for end in list(itertools.accumulate(s for _, s in blocks))[:-1]:
            if across:
                x = left + end * cw
                out.append(f'<line class="block" x1="{x:.2f}" x2="{x:.2f}" y1="{top}" y2="{top + plot_h}" '
                           'stroke="#000" stroke-width="1.5"/>')
            else:
                y = top + end * ch
                out.append(f'<line class="block" x1="{left}" x2="{left + width}" y1="{y:.2f}" y2="{y:.2f}" '
                           'stroke="#000" stroke-width="1.5"/>')
    for at, label in _block_labels(col_blocks, n_cols):
        out.append(_label(left + (at + 0.5) * cw, top + plot_h + 14, label, "middle", "x"))
    for at, label in _block_labels(row_blocks, n_rows):
        out.append(_label(left - 6, top + (at + 0.5) * ch + 4, label, "end", "y"))
    out.append(_label(left + width / 2, height - 8, cols, "middle", "x-title", bold=True))
    out.append(_axis_title_y(16, top + plot_h / 2, rows))
    out += _colour_legend(left + width + 24, top, min(plot_h, 200), limit, _ident("scale", title, height))
    out.append("</svg>")
    return "".join(out)


def lines(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, x_title: str, y_title: str, *,
          log_x: bool = False, log_y: bool = False, reverse_x: bool = False, dashed: Sequence[str] = (),
          rule: tuple[float, str] | None = None, points: bool = False, height: int = HEIGHT) -> str:
    """Curves ``name -> (x, y)``, one colour each (``dashed`` names dashed), with an optional vertical
    ``rule`` ``(x, label)``; log axes where asked. Points that a log axis cannot show (zero, negative)
    and non-finite ones are left out, breaking the curve there."""
    legend_rows = _legend_rows(list(series))
    left, top, right, bottom = 64, 34, 16, 44 + 18 * len(legend_rows)
    width, plot_h = WIDTH - left - right, height - top - bottom
    kept = {name: [(float(x), float(y)) if _shown(x, log_x) and _shown(y, log_y) else None for x, y in zip(xs, ys)]
            for name, (xs, ys) in series.items()}
    xs = [p[0] for curve in kept.values() for p in curve if p] + ([rule[0]] if rule and _shown(rule[0], log_x) else [])
    ys = [p[1] for curve in kept.values() for p in curve if p]
    x_axis, y_axis = _Axis(xs, log_x, nice=log_x), _Axis(ys, log_y, nice=True)
    to_x = lambda v: left + width * (1 - x_axis.at(v) if reverse_x else x_axis.at(v))  # noqa: E731
    to_y = lambda v: top + plot_h * (1 - y_axis.at(v))  # noqa: E731
    clip = _ident("clip", title, height)  # ids are page-wide: each chart needs its own
    out = [_open(height, "lines", title),
           f'<clipPath id="{clip}"><rect x="{left}" y="{top}" width="{width}" height="{plot_h}"/></clipPath>']
    for v, label in y_axis.ticks():
        y = to_y(v)
        out.append(f'<line x1="{left}" x2="{left + width}" y1="{y:.2f}" y2="{y:.2f}" stroke="#e6e6e6"/>')
        out.append(_label(left - 6, y + 4, label, "end", "y"))
    for v, label in x_axis.ticks():
        x = to_x(v)
        out.append(f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{top}" y2="{top + plot_h}" stroke="#e6e6e6"/>')
        out.append(_label(x, top + plot_h + 14, label, "middle", "x"))
    out.append(f'<rect x="{left}" y="{top}" width="{width}" height="{plot_h}" fill="none" stroke="#ccc"/>')
    for k, (name, curve) in enumerate(kept.items()):
        colour, dash = _SERIES[k % len(_SERIES)], ' stroke-dasharray="6 4"' if name in dashed else ""
        drawn = [p for p in curve if p]
        data = (f'data-series="{_text(name)}" data-x="{" ".join(repr(x) for x, _ in drawn)}" '
                f'data-y="{" ".join(repr(y) for _, y in drawn)}"')
        runs = [list(run) for present, run in itertools.groupby(curve, key=bool) if present]
        path = " ".join("M" + " L".join(f"{to_x(x):.2f},{to_y(y):.2f}" for x, y in run) for run in runs)
        out.append(f'<path class="series" d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash} '
                   f'clip-path="url(#{clip})" {data}><title>{_text(name)}</title></path>')
        if points:
            out += [f'<circle cx="{to_x(x):.2f}" cy="{to_y(y):.2f}" r="3.5" fill="{colour}">'
                    f'<title>{_text(name)}: {x:.4g}, {y:.4g}</title></circle>' for x, y in drawn]
    if rule is not None and _shown(rule[0], log_x):
        x = to_x(rule[0])
        out.append(f'<line class="rule" x1="{x:.2f}" x2="{x:.2f}" y1="{top}" y2="{top + plot_h}" stroke="#888" '
                   'stroke-dasharray="2 3"/>')
        out.append(_label(x + 4, top + 14, rule[1], "start", "rule"))
    out.append(_label(left + width / 2, top + plot_h + 34, x_title, "middle", "x-title", bold=True))
    out.append(_axis_title_y(16, top + plot_h / 2, y_title))
    out += _legend(legend_rows, top + plot_h + 52, dashed)
    out.append("</svg>")
    return "".join(out)


class _Axis:
    """A linear or log scale over the values shown: ``at`` maps a value to [0, 1]; ``ticks`` are round values."""

    def __init__(self, values: Sequence[float], log: bool, nice: bool):
        self.log = log
        f = (lambda v: math.log10(v)) if log else float
        lo, hi = (min(map(f, values)), max(map(f, values))) if values else (0.0, 1.0)
        if hi - lo < 1e-12:
            lo, hi = lo - (0.5 if log or lo == 0 else abs(lo) / 2), hi + (0.5 if log or hi == 0 else abs(hi) / 2)
        if nice and log:
            lo, hi = math.floor(lo), math.ceil(hi)
        elif nice:
            step = _step(hi - lo)
            lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
        self.lo, self.hi = lo, hi

    def at(self, v: float) -> float:
        return ((math.log10(v) if self.log else v) - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[tuple[float, str]]:
        if self.log:
            return [(v, tick_label(v)) for v in log_ticks(10.0 ** self.lo, 10.0 ** self.hi)]
        step = _step(self.hi - self.lo)
        first = math.ceil(self.lo / step - 1e-9)
        return [(k * step, f"{k * step:.10g}") for k in range(first, math.floor(self.hi / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float, most: int = 9) -> list[float]:
    """Round values for a log axis from ``lo`` to ``hi``: 1, 2 and 5 times each power of ten where that
    makes at most ``most`` ticks, else the powers of ten (every one, or every second...). Only the values
    get labels: a minor tick's lone digit ("2", "5") reads as a value of its own.

    >>> log_ticks(0.9, 60)
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
    >>> log_ticks(1e-7, 1)
    [1e-07, 1e-06, 1e-05, 0.0001, 0.001, 0.01, 0.1, 1.0]
    >>> log_ticks(1e-12, 1e6)
    [1e-12, 1e-09, 1e-06, 0.001, 1.0, 1000.0, 1000000.0]
    """
    first, last = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    inside = lambda v: lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)  # noqa: E731
    fine = [float(f"{m}e{e}") for e in range(first, last + 1) for m in (1, 2, 5) if inside(float(f"{m}e{e}"))]
    if len(fine) <= most:
        return fine
    powers = [e for e in range(first, last + 1) if inside(10.0 ** e)]
    every = max(1, math.ceil(len(powers) / most))
    return [float(f"1e{e}") for e in powers if (e - powers[0]) % every == 0]


def tick_label(v: float) -> str:
    """A tick's value as people write it: ``0.001``, ``20``, ``5e+06``, ``1e-07``.

    >>> [tick_label(v) for v in (0.001, 20.0, 5e6, 1e-7)]
    ['0.001', '20', '5e+06', '1e-07']
    """
    return f"{v:.6g}"


def _step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts ``span`` into about six."""
    raw = span / 6
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _shown(v: float, log: bool) -> bool:
    return math.isfinite(v) and (v > 0 or not log)


def _colour(t: float) -> tuple[int, int, int]:
    """``t`` in [-1, 1] on the red-white-blue scale."""
    return tuple(int(round(np.interp((t + 1) / 2 * 10, range(11), _RED_BLUE[:, c]))) for c in range(3))


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % rgb


def _png(scaled: np.ndarray) -> str:
    """The cells as one PNG, a pixel each, as a data URI (a matrix with more cells than ``MAX_CELLS``)."""
    from PIL import Image

    t = (np.nan_to_num(scaled, nan=0.0).clip(-1, 1) + 1) / 2 * 10
    rgb = np.stack([np.interp(t, range(11), _RED_BLUE[:, c]) for c in range(3)], axis=-1).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _block_labels(blocks: Sequence[tuple[str, int]], size: int) -> list[tuple[float, str]]:
    """Labels: each block's name at its middle when there are blocks, else every index of a small
    matrix and some of a large one."""
    if len(blocks) > 1:
        ends = itertools.accumulate(s for _, s in blocks)
        return [(end - s / 2 - 0.5, name) for end, (name, s) in zip(ends, blocks)]
    return [(i, str(i)) for i in range(0, size, max(1, size // 20))]


def _legend_rows(names: list[str]) -> list[list[str]]:
    """The legend's entries, as many to a row as fit across the chart."""
    rows, width = [[]], 0.0
    for name in names:
        w = _legend_width(name)
        if rows[-1] and width + w > WIDTH - 64 - 16:
            rows, width = rows + [[]], 0.0
        rows[-1].append(name)
        width += w
    return rows


def _legend_width(name: str) -> float:
    return 44 + 7.5 * len(name)  # a swatch, a gap, and the name at about 7.5 px a character of 12 px text


def _legend(rows: list[list[str]], y: float, dashed: Sequence[str]) -> list[str]:
    out, k = [], 0
    for r, names in enumerate(rows):
        x = 64
        for name in names:
            dash = ' stroke-dasharray="6 4"' if name in dashed else ""
            out.append(f'<line x1="{x}" x2="{x + 24}" y1="{y + r * 18 - 4}" y2="{y + r * 18 - 4}" '
                       f'stroke="{_SERIES[k % len(_SERIES)]}" stroke-width="2"{dash}/>')
            out.append(_label(x + 30, y + r * 18, name, "start", "legend"))
            x += _legend_width(name)
            k += 1
    return out


def _colour_legend(x: float, top: float, height: float, limit: float, ident: str) -> list[str]:
    stops = "".join(f'<stop offset="{k / 10:.1f}" stop-color="{_hex(tuple(int(c) for c in _RED_BLUE[10 - k]))}"/>'
                    for k in range(11))
    return [f'<linearGradient id="{ident}" x1="0" x2="0" y1="0" y2="1">{stops}</linearGradient>',
            f'<rect x="{x}" y="{top}" width="12" height="{height}" fill="url(#{ident})" stroke="#ccc"/>',
            _label(x + 16, top + 9, f"{limit:.3g}", "start", "scale"),
            _label(x + 16, top + height / 2 + 4, "0", "start", "scale"),
            _label(x + 16, top + height, f"{-limit:.3g}", "start", "scale")]


def _ident(kind: str, title: str, height: int) -> str:
    """An id made from what the chart is, the same on every run (figures of the docs compare bytes)."""
    return f"{kind}-" + hashlib.sha1(f"{title}|{height}".encode()).hexdigest()[:10]


def _open(height: int, kind: str, title: str, data: str = "") -> str:
    return (f'<svg class="explorer-chart {kind}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="100%" style="max-width:{WIDTH * 5 // 4}px" role="img" aria-label="{_text(title)}" {data}>'
            f'<text class="title" x="8" y="20" style="{FONT};font-size:14px;font-weight:600">{_text(title)}</text>')


def _label(x: float, y: float, text: str, anchor: str, kind: str, bold: bool = False) -> str:
    weight = ";font-weight:600" if bold else ""
    return (f'<text class="{kind}" x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}" style="{FONT}{weight}">'
            f"{_text(text)}</text>")


def _axis_title_y(x: float, y: float, text: str) -> str:
    return (f'<text class="y-title" transform="translate({x},{y:.2f}) rotate(-90)" text-anchor="middle" '
            f'style="{FONT};font-weight:600">{_text(text)}</text>')


def _text(value: str) -> str:
    return html.escape(str(value), quote=True)


__all__ = ["heat_map", "lines", "log_ticks", "tick_label"]
