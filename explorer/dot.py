"""DOT source of a captured graph, in two styles.

``"torchviz"`` is what ``torchviz.make_dot`` draws (grey operation boxes, blue
leaves, green outputs, orange saved tensors with ``show_saved``, attributes
with ``show_attrs``), kept from the live graph, with each saved tensor in a
node of its own. Where torchviz cannot draw (beyond ~1,000 levels it fails
with a RecursionError) the same look is drawn from the captured data.

``"annotated"`` labels every node with the user's name, its value and the
gradient it received, colours operations by the size of that gradient, tells
leaves, outputs and operations apart, and writes on each edge what flowed
back along it, with the broadcast sums the engine made.

Big graphs get a level-of-detail view: linear chains collapse into one box,
and only the ``max_nodes`` nodes nearest the outputs (or ``focus``) are drawn;
a note on the picture says what was left out.

>>> import torch
>>> from explorer.graph import capture
>>> x = torch.tensor([4.0], requires_grad=True)
>>> to_dot(capture([x * x], {"x": x}), "annotated").startswith("digraph")
True
"""
from __future__ import annotations

import math
from collections import Counter, deque

from explorer.graph import Graph, Node

STYLES = ("torchviz", "annotated")
DEFAULT_MAX_NODES = 300
# A colour-blind-safe sequential scale (light to dark) for |gradient|.
PALETTE = ("#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603")


def to_dot(graph: Graph, style: str = "annotated", *, show_attrs: bool = False, show_saved: bool = False,
           highlight: int | None = None, max_nodes: int = DEFAULT_MAX_NODES, focus: int | None = None,
           depth: int | None = None) -> str:
    """DOT source of ``graph`` in ``style``.

    ``highlight`` marks one node (the current step of a step-through);
    ``max_nodes``, ``focus`` (a node id: draw its neighbourhood) and ``depth``
    (levels from the outputs or the focus) bound what is drawn.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    small = len(graph.nodes) <= max_nodes and focus is None and depth is None
    if style == "torchviz" and small and highlight is None and (show_attrs, show_saved) in graph.torchviz_dot:
        return graph.torchviz_dot[(show_attrs, show_saved)]
    shown, groups, note = _level_of_detail(graph, max_nodes, focus, depth)
    lines = ["digraph {", '\tgraph [size="12,12" rankdir=BT]',
             '\tnode [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box style=filled]']
    if style == "annotated":
        lines += _annotated(graph, shown, groups, highlight)
    else:
        lines += _torchviz_look(graph, shown, groups, highlight)
    if note:
        lines.append(f'\tnote [label="{_escape(note)}" shape=note fillcolor="#ffffcc"]')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _short(t) -> str:
    if t is None:
        return "–"
    if t.numel() == 1:
        return f"{t.item():.4g}"
    flat = t.reshape(-1)[:3].tolist()
    return f"[{', '.join(f'{v:.3g}' for v in flat)}{', …' if t.numel() > 3 else ''}] {tuple(t.shape)}"


def _size(t) -> float:
    return 0.0 if t is None or t.numel() == 0 else float(t.detach().abs().max())


def _colour(value: float, top: float) -> str:
    if top <= 0 or value <= 0 or not math.isfinite(value):
        return PALETTE[0]
    # log scale over six decades below the largest gradient
    level = 1 + math.log10(max(value / top, 1e-6)) / 6
    return PALETTE[min(len(PALETTE) - 1, max(0, round(level * (len(PALETTE) - 1))))]


def _level_of_detail(graph: Graph, max_nodes: int, focus: int | None, depth: int | None):
    """Which nodes to draw, chains collapsed into groups, and a note on what was left out."""
    by_id = {n.id: n for n in graph.nodes}
    total = len(by_id)
    groups: dict[int, list[int]] = {}
    notes = []
    if total > max_nodes or depth is not None or focus is not None:
        # Collapse linear runs: a node with one input whose input has only it as consumer.
        member_of: dict[int, int] = {}
        for node in graph.nodes:
            if node.id in member_of or node.kind != "intermediate":
                continue
            run, cur = [node.id], node
            while True:
                ins = [i for i in cur.inputs if i is not None]
                if len(ins) != 1:
                    break
                nxt = by_id[ins[0]]
                if nxt.kind != "intermediate" or len(nxt.consumers) != 1 or nxt.id in member_of:
                    break
                run.append(nxt.id)
                cur = nxt
            if len(run) >= 3:
                for member in run:
                    member_of[member] = run[0]
                groups[run[0]] = run
        start = [focus] if focus is not None else list(graph.outputs)
        limit = depth if depth is not None else math.inf
        kept: list[int] = []
        seen = set()
        queue = deque((s, 0) for s in start if s in by_id)
        while queue and len(kept) < max_nodes:
            node_id, level = queue.popleft()
            head = member_of.get(node_id, node_id)
            if head in seen or level > limit:
                continue
            seen.add(head)
            kept.append(head)
            members = groups.get(head, [head])
            for member in members:
                node = by_id[member]
                neighbours = [i for i in node.inputs if i is not None]
                if focus is not None:
                    neighbours += node.consumers
                for i in neighbours:
                    if member_of.get(i, i) not in seen:
                        queue.append((i, level + 1))
        drawn = sum(len(groups.get(h, [h])) for h in kept)
        if groups:
            notes.append(f"{sum(len(g) for g in groups.values() if g[0] in seen)} nodes in linear chains "
                         f"are collapsed into {sum(1 for g in groups if g in seen)} boxes")
        if drawn < total:
            notes.append(f"{total - drawn} of {total} nodes are not shown"
                         + (f" (more than {depth} levels away)" if depth is not None else "")
                         + ": raise max_nodes or focus on a node to see them")
        shown = kept
    else:
        shown = [n.id for n in graph.nodes]
    return shown, {h: g for h, g in groups.items() if h in set(shown)}, "\n".join(notes)


def _group_label(graph: Graph, members: list[int]) -> str:
    by_id = {n.id: n for n in graph.nodes}
    counts = Counter(by_id[m].op for m in members)
    kinds = ", ".join(f"{op} ×{k}" for op, k in counts.most_common(3))
    return f"… {len(members)} ops in a chain: {kinds}{', …' if len(counts) > 3 else ''}"


def _edges(graph: Graph, shown: list[int], groups: dict[int, list[int]]):
    """(source, target, sending node, input index) for every edge between drawn boxes."""
    by_id = {n.id: n for n in graph.nodes}
    box = {}
    for head in shown:
        for member in groups.get(head, [head]):
            box[member] = head
    for head in shown:
        for member in groups.get(head, [head]):
            node = by_id[member]
            for index, i in enumerate(node.inputs):
                if i is not None and i in box and box[i] != box[member]:
                    yield box[i], box[member], node, index


def _annotated(graph: Graph, shown: list[int], groups: dict[int, list[int]], highlight: int | None) -> list[str]:
    by_id = {n.id: n for n in graph.nodes}
    top = max((_size(n.grad) for n in graph.nodes), default=0.0)
    lines = ['\tlegend [shape=plaintext style="" label="fill: |gradient received| (light = small, dark = large)"]']
    for head in shown:
        node = by_id[head]
        attrs = []
        if head in groups:
            label = _group_label(graph, groups[head])
            attrs.append('fillcolor="#eeeeee" style="filled,dashed"')
        elif node.kind == "leaf":
            label = f"{node.label} = {_short(node.value)}\ngrad {_short(node.grad)}"
            attrs.append(f'shape=ellipse fillcolor=lightblue color="{_colour(_size(node.grad), top)}" penwidth=3')
        else:
            title = f"{node.label} · {node.op}" if node.label else node.op
            label = f"{title}\nvalue {_short(node.value)}\ngrad {_short(node.grad)}"
            fill = _colour(_size(node.grad), top)
            attrs.append(f'fillcolor="{fill}"')
            if node.kind == "output":
                attrs.append("peripheries=2 color=darkgreen")
        if head == highlight:
            attrs.append('color=red penwidth=4')
        lines.append(f'\t{head} [label="{_escape(label)}" {" ".join(attrs)}]')
    for source, target, sender, index in _edges(graph, shown, groups):
        send = sender.sends[index] if index < len(sender.sends) else None
        text = f"← {_short(send)}" if send is not None else ""
        reduced = sender.reduced[index] if index < len(sender.reduced) else None
        if reduced is not None:
            text += f"\nsummed {reduced[0]} → {reduced[1]}"
        style = ' color=red penwidth=2' if sender.id == highlight else ""
        lines.append(f'\t{source} -> {target} [label="{_escape(text)}" fontsize=9{style}]')
    return lines


def _torchviz_look(graph: Graph, shown: list[int], groups: dict[int, list[int]], highlight: int | None) -> list[str]:
    """torchviz's colours and labels, drawn from the captured data (for graphs torchviz cannot draw)."""
    by_id = {n.id: n for n in graph.nodes}
    lines = []
    for head in shown:
        node = by_id[head]
        extra = ' color=red penwidth=4' if head == highlight else ""
        if head in groups:
            lines.append(f'\t{head} [label="{_escape(_group_label(graph, groups[head]))}" fillcolor=lightgrey'
                         f' style="filled,dashed"{extra}]')
            continue
        lines.append(f'\t{head} [label="{node.op}" fillcolor=lightgrey{extra}]')
        if node.kind == "leaf":
            shape = ", ".join(map(str, node.shape or ()))
            lines.append(f'\tvar{head} [label="{_escape(node.label)}\\n ({shape})" fillcolor=lightblue]')
            lines.append(f"\tvar{head} -> {head}")
        if head in graph.outputs:
            shape = ", ".join(map(str, node.shape or ()))
            lines.append(f'\tout{head} [label=" ({shape})" fillcolor=darkolivegreen1]')
            lines.append(f"\t{head} -> out{head}")
    for source, target, _, _ in _edges(graph, shown, groups):
        lines.append(f"\t{source} -> {target}")
    return lines
