"""What a page shows, read back for the AppTest tests: monospace blocks, tables and SVG charts."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas


def blocks(at) -> list[str]:
    """Each monospace block of the page, in order: ``st.code`` values and ``widgets.text_block`` texts."""
    out = []
    for element in at.main:  # every element, nested ones included, in the page's order
        kind = type(element).__name__
        if kind == "Code":
            out.append(element.value)
        elif kind == "Html" and 'class="explorer-text"' in element.value:
            out.append(html.unescape(re.sub(r"<[^>]+>", "", element.value)))
    return out


def monospace(at) -> str:
    """All of :func:`blocks`, one after the other."""
    return "\n".join(blocks(at))


def tables(at) -> list["pandas.DataFrame"]:
    """Each table of ``widgets.table`` on the page, as a frame; a cell the page wrote as a number is a float."""
    import pandas as pd

    out = []
    for element in at.main:
        if type(element).__name__ == "Html" and 'class="explorer-table"' in element.value:
            head, body = element.value.split("<tbody>", 1)
            columns = [html.unescape(c) for c in re.findall(r"<th style=[^>]*>(.*?)</th>", head)]
            rows = [[float(text) if "text-align:right" in style else html.unescape(text)
                     for style, text in re.findall(r'<td style="([^"]*)">(.*?)</td>', row)]
                    for row in re.findall(r"<tr>(.*?)</tr>", body)]
            out.append(pd.DataFrame(rows, columns=columns))
    return out


@dataclass
class Chart:
    """A chart of ``explorer.ui.charts`` as drawn: its title, the labels along each axis, its lines between
    blocks, and its numbers (a heat map's cells: row, col, value; curves' points: series, x, y)."""

    title: str
    x_labels: list[str]
    y_labels: list[str]
    block_lines: int
    cells: "pandas.DataFrame | None"
    points: "pandas.DataFrame | None"


def charts(at) -> list[Chart]:
    """Each SVG chart of the page (``widgets.chart``), read back from what the page sends the browser."""
    import xml.etree.ElementTree as ET

    import pandas as pd

    out = []
    for element in at.main:
        if type(element).__name__ != "Markdown" or 'class="explorer-chart ' not in element.value:
            continue
        svg = ET.fromstring(element.value[element.value.index("<svg"):element.value.rindex("</svg>") + 6])
        tag = lambda name: f"{{http://www.w3.org/2000/svg}}{name}"  # noqa: E731
        texts = lambda kind: [t.text or "" for t in svg.iter(tag("text")) if t.get("class") == kind]  # noqa: E731
        cells = [(int(r.get("data-row")), int(r.get("data-col")), float(r.get("data-value")))
                 for r in svg.iter(tag("rect")) if r.get("class") == "cell"]
        points = [(p.get("data-series"), float(x), float(y)) for p in svg.iter(tag("path")) if p.get("class") == "series"
                  for x, y in zip(p.get("data-x").split(), p.get("data-y").split())]
        out.append(Chart(texts("title")[0], texts("x"), texts("y"),
                         sum(1 for line in svg.iter(tag("line")) if line.get("class") == "block"),
                         pd.DataFrame(cells, columns=["row", "col", "value"]) if cells else None,
                         pd.DataFrame(points, columns=["series", "x", "y"]) if points else None))
    return out
