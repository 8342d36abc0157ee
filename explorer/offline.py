"""A view as one offline HTML file: no server, no network, everything inline.

The file holds the annotated graph as SVG in the app's own viewer
(:mod:`explorer.pan_zoom`: drag to pan, wheel or buttons to zoom, Fit), the outputs and gradients, the node table, and a
panel that shows a node's local derivative and its step's chain rule when
the node is clicked (in the graph or the table). Its Content-Security-Policy
allows no fetch at all: what it shows is what it carries.

>>> import explorer
>>> page = offline_html(explorer.explore("x**3 + 2*x**2 + 8*x", x=4))
>>> "x.grad = 72" in page and "<svg" in page and "default-src 'none'" in page
True
"""
from __future__ import annotations

import html
import json
from typing import Any

from explorer.export import render
from explorer.format import cell
from explorer.pan_zoom import viewer_parts
from explorer.table import node_rows

MAX_NODES = 2000   # nodes drawn in the file's graph: Graphviz's layout and the file's size grow with them
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
pre, code, td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
#graph { position: relative; border: 1px solid #ccc; height: 70vh; min-height: 320px; }
#graph g.node { cursor: pointer; }
#graph g.node.chosen polygon, #graph g.node.chosen ellipse { stroke: #d62728; stroke-width: 4; }
#details { border: 1px solid #ccc; padding: 8px 12px; margin: 12px 0; min-height: 3em; }
#details pre { white-space: pre-wrap; margin: 4px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
tbody tr { cursor: pointer; }
tbody tr.chosen { background: #fde0dd; }
"""

# A click (a press and release without a drag) on a node, or on a row of the table, shows its details.
_SCRIPT = """
(() => {
  const nodes = JSON.parse(document.getElementById("nodes").textContent);
  const view = document.getElementById("view"), svg = view.querySelector("svg");
  const details = document.getElementById("details");
  const choose = id => {
    const n = nodes[id]; if (!n) return;
    details.replaceChildren();
    const head = document.createElement("strong"); head.textContent = `${n.name}: ${n.op}`; details.append(head);
    for (const [label, text] of [["local derivative", n.local], ["chain rule of its step", n.chain],
                                 ["value", n.value], ["gradient received", n.grad]]) {
      if (!text) continue;
      const p = document.createElement("div"); p.textContent = label + ":"; details.append(p);
      const pre = document.createElement("pre"); pre.textContent = text; details.append(pre);
    }
    for (const g of svg.querySelectorAll("g.node")) g.classList.toggle("chosen", g.querySelector("title").textContent === id);
    for (const tr of document.querySelectorAll("tbody tr")) tr.classList.toggle("chosen", tr.dataset.node === id);
  };
  let down = null;
  view.addEventListener("pointerdown", e => { down = {x: e.clientX, y: e.clientY}; });
  view.addEventListener("pointerup", e => {
    if (down && Math.hypot(e.clientX - down.x, e.clientY - down.y) < 4) {
      const g = document.elementsFromPoint(e.clientX, e.clientY).map(el => el.closest("g.node")).find(Boolean);
      if (g) choose(g.querySelector("title").textContent);
    }
    down = null;
  });
  for (const tr of document.querySelectorAll("tbody tr")) tr.onclick = () => choose(tr.dataset.node);
})();
"""


def _viewer(ex: Any) -> tuple[str, str, str]:
    """The annotated graph in the app's pan-and-zoom viewer: its style, body and script."""
    return viewer_parts(render(ex.to_dot("annotated", max_nodes=MAX_NODES), "svg").decode("utf-8"))


def _rows(ex: Any) -> list[dict]:
    """The node table, as the app's Node table tab shows it."""
    return node_rows(ex.graph)


def _node_details(ex: Any, rows: list[dict]) -> dict[str, dict[str, str]]:
    """What the panel shows of each node, by the id Graphviz writes as the node's ``<title>``."""
    rows = {row["step"]: row for row in rows}
    details = {}
    for node in ex.nodes:
        row = rows.get(node.step, {})
        ran = ex.graph.step(node.id)
        details[str(node.id)] = {
            "name": node.name, "op": node.op, "value": row.get("value", ""), "grad": row.get("grad received", ""),
            "local": row.get("local derivative", "").replace("; ", "\n"),
            "chain": ran.text if ran is not None else "",
        }
    return details


def _table(ex: Any, rows: list[dict]) -> str:
    if not rows:
        return ""
    by_step = {n.step: n.id for n in ex.nodes}
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "\n".join(
        f'<tr data-node="{by_step.get(row["step"], "")}">'
        + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _results(ex: Any) -> list[str]:
    """``f = 128`` and ``x.grad = 72``: the outputs and the inputs' gradients, as the node table writes numbers."""
    lines = [f"{name} = {cell(out)}" for name, out in zip(ex.output_labels(), ex.outputs)]
    return lines + [f"{name}.grad = {cell(ex.grads[name])}" for name in ex.inputs if name in ex.grads]


def offline_html(ex: Any, *, title: str | None = None, link: str | None = None) -> str:
    """One self-contained HTML page of ``ex``: graph (pan, zoom), results, node table, a node's derivatives on
    click. ``link`` (the view's address in the app) is written on the page, never fetched."""
    title = title or (f"Autograd Explorer: {ex.source}" if ex.source else "Autograd Explorer")
    rows = _rows(ex)
    data = json.dumps(_node_details(ex, rows), ensure_ascii=False).replace("</", "<\\/")
    source = f"<pre>{html.escape(ex.source)}</pre>" if ex.source else ""
    where = (f'<p>Open it live: <a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>'
             if link else "")
    results = "\n".join(html.escape(line) for line in _results(ex))
    source_meta = f'<meta name="source" content="{html.escape(link, quote=True)}">\n' if link else ""
    viewer_style, viewer_body, viewer_script = _viewer(ex)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
{source_meta}<title>{html.escape(title)}</title>
<style>{viewer_style}{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{source}<pre id="results">{results}</pre>
<p>Computed on {html.escape(ex.device)} in {html.escape(ex.dtype)}; {len(ex.nodes)} autograd nodes.
Drag to pan, wheel to zoom; click a node (or a row of the table) for its local derivative.</p>
<div id="graph">{viewer_body}</div>
<div id="details">Click a node of the graph or a row of the table.</div>
<h2>Node table</h2>
<p>In the order PyTorch's engine ran the backward pass.</p>
{_table(ex, rows)}
{where}
<script type="application/json" id="nodes">{data}</script>
<script>{viewer_script}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


__all__ = ["MAX_NODES", "offline_html"]
