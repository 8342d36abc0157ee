"""The module view of a model's graph: DOT with nodes grouped by the module that made them.

It reads a finished capture of :func:`explorer.trace_model` and
draws, for a depth ``k``:

* every module down to depth ``k`` (or opened by name) as a cluster holding
  its nodes and its children;
* every module deeper than ``k`` as one box: its name, class, parameter
  count, output shape, the largest gradient it received (at the nodes whose
  output leaves it) and its share of the bytes saved for backward;
* every run of identical sibling blocks (:func:`explorer.modules.runs`) as
  one box, ``first … last ×N``, unless the run is opened;
* edges between boxes labelled with the shapes that flow along them.

``depth=None`` opens every module. :func:`default_depth` is the deepest
depth whose drawing fits ``max_nodes`` boxes. Each box and run carries an
SVG id, ``open:<key>``, that a page turns into a click which opens it
(:func:`key_of` / the ``opened`` argument): a module's key is its path, a
run's is ``first..last``.

>>> import torch
>>> from explorer import trace_model
>>> model = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()) for _ in range(3)])
>>> ex = trace_model(model, torch.ones(2, 4), loss=lambda y: y.sum())
>>> plan(ex.graph, 0).boxes["0..2"].members
('0', '1', '2')
>>> 'label="0 … 2 ×3' in to_dot(ex.graph, depth=0)
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from explorer import dot
from explorer.format import count, nbytes, shape
from explorer.modules import Module, ancestors, runs

if TYPE_CHECKING:
    from explorer.graph import Graph

COLOURS = ("gradient", "saved")
# ColorBrewer's Blues (sequential, colour-blind safe), for a module's share of the saved bytes.
SAVED_PALETTE = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c")
CLUSTER_FILL = "#f7f7f7"
DEFAULT_BOXES = 80      # boxes of a module view at its default depth: a model read at a glance


@dataclass
class Box:
    """A module, or a run of identical modules, drawn as one box: ``members`` are the module paths."""

    key: str
    members: tuple[str, ...]
    name: str = ""                 # its DOT name
    nodes: list[int] = field(default_factory=list)


@dataclass
class Plan:
    """What the module view draws: ``box_of[node id]`` is the DOT name of the box a node is drawn in
    (its own id when drawn alone), ``boxes`` the module and run boxes by key, ``clusters`` the open
    modules, ``home`` the cluster (a module path, ``""`` for none) each box and lone node sits in."""

    depth: int | None
    box_of: dict[int, str]
    boxes: dict[str, Box]
    clusters: list[str]
    home: dict[str, str]
    singles: list[int]

    @property
    def size(self) -> int:
        """How many boxes the drawing has: module and run boxes, and lone nodes."""
        return len(self.boxes) + len(self.singles)


def key_of(run: tuple[str, ...]) -> str:
    """The key that opens a module (its path) or a run (``first..last``).

    >>> key_of(("layer3",)), key_of(("h.0", "h.1", "h.2"))
    ('layer3', 'h.0..h.2')
    """
    return run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}"


def max_depth(graph: Graph) -> int:
    """The deepest module of the graph (0 when only the model itself ran)."""
    return max((m.depth for m in graph.modules.values()), default=0)


def plan(graph: Graph, depth: int | None, opened: Iterable[str] = ()) -> Plan:
    """Which node is drawn in which box at module depth ``depth`` with the keys ``opened`` open."""
    modules = graph.modules
    opened = set(opened)
    folded = {}
    for run in runs(graph):   # folded, unless it or one of its blocks is opened
        if key_of(run) not in opened and opened.isdisjoint(run):
            for path in run:
                folded[path] = run
    chains: dict[str, list[str]] = {}
    box_of: dict[int, str] = {}
    boxes: dict[str, Box] = {}
    home: dict[str, str] = {}
    clusters: dict[str, None] = {}
    singles = []
    for node in graph.nodes:
        chain = chains.get(node.module)
        if chain is None:
            chain = chains[node.module] = ancestors(modules, node.module)
        where = ""
        for path in chain:
            run = folded.get(path)
            if run is None and (depth is None or modules[path].depth <= depth or path in opened):
                clusters[path] = None
                where = path
                continue
            key = key_of(run or (path,))
            if key not in boxes:
                boxes[key] = Box(key=key, members=run or (path,), name=f"m_{len(boxes)}")
                home[boxes[key].name] = where
            boxes[key].nodes.append(node.id)
            box_of[node.id] = boxes[key].name
            break
        else:
            box_of[node.id] = str(node.id)
            home[str(node.id)] = where
            singles.append(node.id)
    return Plan(depth=depth, box_of=box_of, boxes=boxes, clusters=list(clusters), home=home, singles=singles)


def default_depth(graph: Graph, max_nodes: int = DEFAULT_BOXES, opened: Iterable[str] = ()) -> int:
    """The deepest module depth whose drawing has at most ``max_nodes`` boxes (0 if none has)."""
    for depth in range(max_depth(graph), 0, -1):
        if plan(graph, depth, opened).size <= max_nodes:
            return depth
    return 0


def to_dot(graph: Graph, style: str = "annotated", *, depth: int | None = None, opened: Iterable[str] = (),
           colour: str = "gradient", highlight: int | None = None, show_attrs: bool = False,
           show_saved: bool = False, max_attr_chars: int = 50) -> str:
    """DOT of the module view at ``depth`` (see the module's notes); ``colour`` fills boxes by the largest
    gradient received (``"gradient"``) or by the share of saved bytes (``"saved"``)."""
    if colour not in COLOURS:
        raise ValueError(f"colour must be one of {', '.join(COLOURS)}, not {colour!r}")
    layout = plan(graph, depth, opened)
    by_id = graph.by_id
    modules = graph.modules
    total_saved = graph.saved_bytes
    outside = _received_at(graph, layout)
    sizes = graph.largest_gradients({*layout.singles, *(n for nodes in outside.values() for n in nodes)})
    received = {name: max((sizes[n] for n in nodes if sizes[n] is not None), default=None)
                for name, nodes in outside.items()}
    tops = [v for v in [*received.values(), *(sizes[n] for n in layout.singles)] if v is not None and math.isfinite(v)]
    top = max(tops, default=0.0)
    body: dict[str, list[str]] = {}   # the lines of each cluster ("" for the top level)
    for n in layout.singles:
        lines = (dot.annotated_node(graph, n, top, highlight=highlight, show_attrs=show_attrs, show_saved=show_saved,
                                    max_attr_chars=max_attr_chars, sizes=sizes) if style == "annotated"
                 else _torchviz_node(graph, n, highlight))
        body.setdefault(layout.home[str(n)], []).extend(lines)
    for key, box in layout.boxes.items():
        name = box.name
        saved = sum(by_id[n].saved_bytes for n in box.nodes)
        label = _box_label(modules, box, received.get(name), saved, total_saved)
        if colour == "saved":
            level = min(len(SAVED_PALETTE) - 1, int(len(SAVED_PALETTE) * saved / max(total_saved, 1)))
            paint = f'fillcolor="{SAVED_PALETTE[level]}"' + (" fontcolor=white" if level >= 6 else "")
        else:
            paint = dot.fill(received.get(name), top)
        mark = " color=red penwidth=4" if highlight in box.nodes else ""
        shape_ = "box3d" if len(box.members) > 1 else "box"
        body.setdefault(layout.home[name], []).append(
            f'\t{name} [label="{dot.escape(label)}" shape={shape_} style="filled,rounded" {paint}{mark} '
            f'id="open:{dot.escape(key)}" tooltip="{dot.escape("click to open " + key)}"]')
    lines = [_legend(top, colour, graph.saved_bytes)] if style == "annotated" else []
    lines += _clusters(modules, layout.clusters, body)
    lines += _edges(graph, layout, style, highlight)
    head = ["digraph {", '\tgraph [size="12,12" compound=true]', dot.HEADER]
    return "\n".join(head + lines + ["}"]) + "\n"


def _received_at(graph: Graph, layout: Plan) -> dict[str, list[int]]:
    """For each box, its nodes whose output leaves it (or is an output): where it receives its gradient."""
    by_id = graph.by_id
    found: dict[str, list[int]] = {}
    for n, name in layout.box_of.items():
        node = by_id[n]
        if n in graph.outputs or any(layout.box_of[c] != name for c in node.consumers):
            found.setdefault(name, []).append(n)
    return found


def _box_label(modules: dict[str, Module], box: Box, grad: float | None, saved: int, total: int) -> str:
    first = modules[box.members[0]]
    if len(box.members) > 1:
        rows = [f"{box.members[0]} … {box.members[-1]} ×{len(box.members)}",
                f"{first.kind} · {count(first.params)} params each"]
    else:
        rows = [first.path, f"{first.kind} · {count(first.params)} params"]
    last = modules[box.members[-1]]
    if last.output_shape is not None:
        rows.append(f"out {shape(last.output_shape)}")
    if grad is not None:
        rows.append(f"|grad| received ≤ {grad:.3g}")
    if saved:
        rows.append(f"saved {nbytes(saved)} ({100 * saved / max(total, 1):.0f}%)")
    return "\n".join(rows)


def _clusters(modules: dict[str, Module], open_: list[str], body: dict[str, list[str]]) -> list[str]:
    """The clusters, nested as the modules are, each holding its lines; the top level's lines last."""
    children: dict[str, list[str]] = {}
    for path in open_:
        children.setdefault(modules[path].parent or "", []).append(path)

    def write(path: str, indent: str) -> list[str]:
        m = modules[path]
        out = [f"{indent}subgraph cluster_{open_.index(path)} {{",
               f'{indent}\tlabel="{dot.escape(f"{path} ({m.kind})")}" style="rounded,filled" '
               f'fillcolor="{CLUSTER_FILL}" color="#888888" fontname=monospace fontsize=11 labeljust=l']
        out += [indent + line for line in body.get(path, [])]
        for child in sorted(children.get(path, []), key=lambda p: modules[p].order):
            out += write(child, indent + "\t")
        return out + [f"{indent}}}"]

    lines = []
    for path in sorted(children.get("", []), key=lambda p: modules[p].order):
        lines += write(path, "\t")
    return body.get("", []) + lines


def _edges(graph: Graph, layout: Plan, style: str, highlight: int | None) -> list[str]:
    """Edges between boxes, producer to consumer: one per pair of boxes, labelled with the shapes that flow
    (between two lone nodes, what was sent back, as the annotated style writes it)."""
    by_id = graph.by_id
    pairs: dict[tuple[str, str], dict[str, None]] = {}
    lines = []
    for node in graph.nodes:
        target = layout.box_of[node.id]
        for k, i in enumerate(node.inputs):
            if i is None:
                continue
            source = layout.box_of[i]
            if source == target:
                continue
            if source.isdigit() and target.isdigit():
                text = dot.sent_label(node, k) if style == "annotated" else ""
                mark = " color=red penwidth=2" if node.id == highlight else ""
                lines.append(f'\t{source} -> {target} [label="{dot.escape(text)}" fontsize=9{mark}]')
            else:
                pairs.setdefault((source, target), {})[shape(by_id[i].shape)] = None
    for (source, target), shapes in pairs.items():
        text = ", ".join(list(shapes)[:3]) + (" …" if len(shapes) > 3 else "")
        lines.append(f'\t{source} -> {target} [label="{dot.escape(text)}" fontsize=9]')
    return lines


def _torchviz_node(graph: Graph, n: int, highlight: int | None) -> list[str]:
    """A lone node as ``torchviz.make_dot`` draws it: a leaf's name and shape in blue, an operation in grey."""
    node = graph.by_id[n]
    mark = " color=red penwidth=4" if n == highlight else ""
    if node.kind == "leaf":
        return [f'\t{n} [label="{dot.escape(f"{node.name}{chr(10)} {shape(node.shape)}")}" fillcolor=lightblue{mark}]']
    return [f'\t{n} [label="{dot.escape(node.op)}"{mark}]']


def _legend(top: float, colour: str, saved: int) -> str:
    if colour == "gradient":
        return dot.legend(top)
    white = ' COLOR="white"'
    cells = "".join(f'<TD BGCOLOR="{c}"><FONT{white if k >= 6 else ""}>≥{100 * k // len(SAVED_PALETTE)}%</FONT></TD>'
                    for k, c in enumerate(SAVED_PALETTE))
    return ('\tlegend [shape=plaintext style="" margin=0 label=<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" '
            f'CELLPADDING="3"><TR><TD COLSPAN="{len(SAVED_PALETTE)}">fill: share of the {nbytes(saved)} saved for '
            f'backward</TD></TR><TR>{cells}</TR></TABLE>>]')


__all__ = ["Box", "COLOURS", "DEFAULT_BOXES", "Plan", "default_depth", "key_of", "max_depth", "plan", "to_dot"]
