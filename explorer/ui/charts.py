"""The lab pages' charts, as Vega-Lite: heat maps and line plots.

Vega-Lite, not Plotly: a page's first Plotly chart loads 4.7 MB of script
into the browser, Vega-Lite's 0.8 MB (measured with Chromium on a cold
visit), and both draw these charts alike. Each function returns
``(data, spec)`` for ``st.vega_lite_chart(data, spec)``: the data a plain
table, the spec plain dicts, so that tests read both.

>>> import torch
>>> data, spec = heat_map(torch.eye(2), "I", "row", "column")
>>> len(data), spec["layer"][0]["mark"]["type"]
(4, 'rect')
"""
from __future__ import annotations

import itertools
from typing import Sequence

import pandas as pd

HEIGHT = 380


def heat_map(matrix, title: str, rows: str, cols: str, row_blocks: Sequence[tuple[str, int]] = (),
             col_blocks: Sequence[tuple[str, int]] = (), height: int = HEIGHT) -> tuple[pd.DataFrame, dict]:
    """A matrix as coloured cells (red below zero, blue above, white at zero), hover for the value.

    ``row_blocks`` and ``col_blocks`` are ``(name, size)`` runs of rows and
    columns (the inputs of a Jacobian, the pairs of a Hessian): a line is
    drawn between two blocks, and each block's name labels its middle.
    """
    values = matrix.detach().double().cpu()
    n_rows, n_cols = values.shape
    data = pd.DataFrame({"row": [i for i in range(n_rows) for _ in range(n_cols)],
                         "col": list(range(n_cols)) * n_rows, "value": values.reshape(-1).tolist()})
    limit = float(values.abs().max()) or 1.0
    cells = dict(
        mark=dict(type="rect"),
        encoding=dict(
            x=dict(field="col", type="ordinal", title=cols, axis=_block_axis(col_blocks, n_cols)),
            y=dict(field="row", type="ordinal", title=rows, axis=_block_axis(row_blocks, n_rows)),
            color=dict(field="value", type="quantitative", title=None,
                       scale=dict(scheme="redblue", domain=[-limit, limit])),
            tooltip=[dict(field="row", title=rows), dict(field="col", title=cols),
                     dict(field="value", format=".6g")]))
    layers = [cells]
    for blocks, channel, size in ((row_blocks, "y", n_rows), (col_blocks, "x", n_cols)):
        ends = list(itertools.accumulate(s for _, s in blocks))[:-1]
        if ends:
            # between two cells of an ordinal scale: offset half a band from the block's last cell
            layers.append(dict(data=dict(values=[{"at": end - 1} for end in ends]),
                               mark=dict(type="rule", color="black", strokeWidth=1.5),
                               encoding={channel: dict(field="at", type="ordinal", bandPosition=1,
                                                       scale=dict(domain=list(range(size))))}))
    return data, dict(title=title, height=height, width="container", layer=layers,
                      config=dict(view=dict(stroke=None)))


def _block_axis(blocks: Sequence[tuple[str, int]], size: int) -> dict:
    """Labels: every index for a small matrix, some for a large one, the block names when there are blocks."""
    if len(blocks) > 1:
        middles = [end - (s + 1) // 2 for end, (_, s) in zip(itertools.accumulate(s for _, s in blocks), blocks)]
        names = " : ".join(f"datum.value == {m} ? {_quoted(name)}" for m, (name, _) in zip(middles, blocks))
        return dict(values=middles, labelExpr=f"{names} : ''", labelAngle=0, ticks=False)
    step = max(1, size // 20)
    return dict(values=list(range(0, size, step)), labelAngle=0)


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lines(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, x_title: str, y_title: str, *,
          log_x: bool = False, log_y: bool = False, reverse_x: bool = False, dashed: Sequence[str] = (),
          rule: tuple[float, str] | None = None, points: bool = False,
          height: int = HEIGHT) -> tuple[pd.DataFrame, dict]:
    """Curves ``name -> (x, y)``, one colour each (``dashed`` names dashed), with an optional vertical
    ``rule`` ``(x, label)``; log axes where asked."""
    data = pd.DataFrame([{"series": name, "x": x, "y": y} for name, (xs, ys) in series.items()
                         for x, y in zip(xs, ys)])
    order = list(series)
    scale = lambda log, reverse=False: {**({"type": "log"} if log else {}), **({"reverse": True} if reverse else {})}  # noqa: E731
    curves = dict(
        mark=dict(type="line", point=points, clip=True),
        encoding=dict(
            x=dict(field="x", type="quantitative", title=x_title, scale=scale(log_x, reverse_x),
                   axis=dict(format="~e") if log_x else {}),
            y=dict(field="y", type="quantitative", title=y_title, scale={**scale(log_y), "zero": False},
                   axis=dict(format="~e") if log_y else {}),
            color=dict(field="series", type="nominal", title=None, sort=order, legend=dict(orient="bottom")),
            strokeDash=dict(condition=dict(test=" || ".join(f"datum.series == {_quoted(n)}" for n in dashed),
                                           value=[6, 4]), value=[1, 0]) if dashed else dict(value=[1, 0]),
            tooltip=[dict(field="series"), dict(field="x", format=".4g"), dict(field="y", format=".4g")]))
    layers = [curves]
    if rule is not None:
        at, label = rule
        mark = dict(values=[{"x": at, "label": label}])
        layers.append(dict(data=mark, mark=dict(type="rule", color="grey", strokeDash=[2, 3]),
                           encoding=dict(x=dict(field="x", type="quantitative"))))
        layers.append(dict(data=mark, mark=dict(type="text", align="left", dx=4, dy=-6, color="grey", baseline="top"),
                           encoding=dict(x=dict(field="x", type="quantitative"), y=dict(value=0),
                                         text=dict(field="label"))))
    return data, dict(title=title, height=height, width="container", layer=layers)


__all__ = ["heat_map", "lines"]
