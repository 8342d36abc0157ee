"""DOT source of a captured graph, in two styles, readable at any size.

``"torchviz"`` is what ``torchviz.make_dot`` draws: grey operation boxes, blue
leaves with name and shape, green outputs, orange saved tensors with
``show_saved``, attribute tables with ``show_attrs``. For small graphs it is
torchviz's own drawing of the live graph, made when first asked for;
otherwise the same look is drawn from the captured data. Either way each saved tensor is a box of
its own (torchviz merges a saved leaf into the leaf's box).

``"annotated"`` labels every node with the user's name, its value and the
gradient it received, fills it by the size of that gradient (a sequential
scale, with a legend), tells leaves (ellipses), outputs (double border) and
constants (grey diamonds) apart, and writes on each edge what flowed back
along it, with the broadcast sums the engine made.

Big graphs (more than ``max_nodes``) get a level-of-detail view, built
without recursion:

1. small branches that feed one node only (a weight and its transpose, a
   bias) ride along with that node: the *spine* is what remains;
2. a node of the spine that every path from the outputs to what lies below it
   passes through cuts the spine into blocks (one node each for a plain
   chain, one layer each for a residual network);
3. the blocks nearest the outputs (or around ``focus``) and the last ones are
   drawn in full, each run of blocks between them collapses into one box that
   names its repeating pattern ("[TanhBackward0 → AddmmBackward0] ×3,996");
4. if that is still more than ``max_nodes`` boxes, the boxes nearest the
   outputs are kept, and a "… N more" stub marks every cut edge.

A note on the picture says what was collapsed and what was left out.

>>> import torch
>>> from explorer.graph import capture
>>> x = torch.tensor([4.0], requires_grad=True)
>>> to_dot(capture([x * x], {"x": x}), "annotated").startswith("digraph")
True
"""
from __future__ import annotations

import math
import re
import warnings
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from explorer.checks import whole_number
from explorer.format import shape, short, summed_dims
from explorer.graph import collector_paused

if TYPE_CHECKING:  # the graph's types only: a drawing reads a finished capture
    from explorer.graph import Graph, Node

STYLES = ("torchviz", "annotated")
DEFAULT_MAX_NODES = 300
TORCHVIZ_MAX_NODES = 300         # torchviz's own drawing is made up to here; beyond, we draw its look
TORCHVIZ_MAX_DEPTH = 800         # torchviz recurses once per level and fails near 1,000
SIDE_MAX = 4        # nodes in a branch that rides along with the one node it feeds
HUB_CONSUMERS = 8   # a node used this often is not allowed to hold the spine's blocks apart
PROXY_USES = 8      # a node feeding more boxes than this is drawn again beside each of them
HEAD_SHARE, TAIL_SHARE = 0.6, 0.15  # of max_nodes, drawn in full near the outputs and near the inputs
# ColorBrewer's Oranges (sequential, colour-blind safe), light to dark, for |gradient|.
PALETTE = ("#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603")
DECADES = 6         # the scale spans this many powers of ten below the largest |gradient|
LEAF_BORDER = ' color="#2166ac" penwidth=2'
MAX_SIZE = 60       # inches: torchviz grows its drawing with its content
HEADER = '\tnode [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box style=filled]'


def to_dot(graph: Graph, style: str = "annotated", *, show_attrs: bool = False, show_saved: bool = False,
           highlight: int | None = None, max_nodes: int = DEFAULT_MAX_NODES, focus: int | None = None,
           depth: int | None = None, max_attr_chars: int = 50) -> str:
    """DOT source of ``graph`` in ``style`` (``"torchviz"`` or ``"annotated"``).

    ``show_attrs`` and ``show_saved`` are torchviz's options (the annotated
    style honours them too); ``highlight`` marks one node (the current step of
    a step-through); ``max_nodes`` bounds the boxes drawn, ``depth`` the
    levels below the outputs (or around ``focus``, a node id whose
    neighbourhood is drawn).

    >>> import torch
    >>> from explorer.graph import capture
    >>> x = torch.ones(1, requires_grad=True)
    >>> y = x
    >>> for _ in range(2000):
    ...     y = y.sin()
    >>> "collapsed" in to_dot(capture(y, {"x": x}), "torchviz")
    True
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    with collector_paused():   # a big view makes many small objects that live on
        return _to_dot(graph, style, show_attrs=show_attrs, show_saved=show_saved, highlight=highlight,
                       max_nodes=max_nodes, focus=focus, depth=depth, max_attr_chars=max_attr_chars)


def _to_dot(graph: Graph, style: str, *, show_attrs: bool, show_saved: bool, highlight: int | None,
            max_nodes: int, focus: int | None, depth: int | None, max_attr_chars: int) -> str:
    whole_number(max_nodes, "max_nodes", least=1)
    whole_number(depth, "depth", least=0, none=True)
    whole_number(max_attr_chars, "max_attr_chars", least=3)
    for name, node_id in (("highlight", highlight), ("focus", focus)):
        if node_id is not None and node_id not in graph.by_id:
            raise ValueError(f"{name} must be the id of a node (0 to {len(graph.nodes) - 1}), not {node_id!r}")
    whole = len(graph.nodes) <= max_nodes and focus is None and depth is None
    if style == "torchviz" and whole and highlight is None and max_attr_chars == 50:
        own = torchviz_own(graph, show_attrs=show_attrs, show_saved=show_saved)
        if own:
            return own
    view = level_of_detail(graph, max_nodes=max_nodes, focus=focus, depth=depth)
    draw = _annotated if style == "annotated" else _torchviz_look
    body = draw(graph, view, show_attrs=show_attrs, show_saved=show_saved, highlight=highlight,
                max_attr_chars=max_attr_chars)
    if view.note:
        body.append(f'\tnote [label="{escape(view.note)}" shape=note fillcolor="#ffffcc" fontsize=11]')
    # torchviz's resize_graph, bounded: a level-of-detail view is meant to be read at one size
    size = min(MAX_SIZE, max(12, len(body) * 0.15)) if style == "torchviz" else 12
    head = ["digraph {", f'\tgraph [size="{size},{size}"]', HEADER]
    return "\n".join(head + body + ["}"]) + "\n"


def torchviz_own(graph: Graph, *, show_attrs: bool = False, show_saved: bool = False) -> str | None:
    """torchviz's own ``make_dot`` of a small graph, with each saved tensor in a box of its own; None where
    it cannot be had (a big graph, or one no longer live and never drawn while it was).

    torchviz walks the live autograd graph, so its four drawings (each
    option on or off) are made together the first time one is asked for
    while the capture is live, and kept with the capture's other plain data
    (``Graph.torchviz_dot``): a completed or pickled graph keeps them.
    """
    key = (show_attrs, show_saved)
    if key not in graph.torchviz_dot and (live := graph.live_tensors()) is not None:
        outputs, params, levels = live
        if len(graph.nodes) <= TORCHVIZ_MAX_NODES and levels <= TORCHVIZ_MAX_DEPTH:
            graph.torchviz_dot.update(_torchviz_drawings(outputs, params))
    return graph.torchviz_dot.get(key)


def _torchviz_drawings(outputs: list, params: dict) -> dict[tuple[bool, bool], str]:
    """torchviz's own drawing of the live graph, with each option, while its buffers exist."""
    try:
        import torchviz
    except ImportError:
        return {}
    params = {name: t for name, t in params.items() if t.requires_grad}
    target = tuple(outputs) if len(outputs) > 1 else outputs[0]
    drawings = {}
    with warnings.catch_warnings():
        # torchviz 0.0.3 compares versions with distutils on every call.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        for show_attrs in (False, True):
            for show_saved in (False, True):
                try:
                    dot = torchviz.make_dot(target, params=params, show_attrs=show_attrs, show_saved=show_saved)
                except (RecursionError, RuntimeError, AssertionError):
                    return {}
                drawings[(show_attrs, show_saved)] = separate_saved(dot.source)
    return drawings


# ---------------------------------------------------------------------------
# Level of detail.

@dataclass
class View:
    """What to draw of a graph: single nodes, collapsed groups, stubs for cut edges, and a note.

    ``box`` maps each drawn node to its box's DOT name: its own id, or
    ``group<k>`` for the nodes of ``groups[k]``. ``stubs`` are ``(box, hidden
    inputs, hidden consumers)``; ``crossings`` the edges between two boxes,
    ``(input's box, box, node, input index)``, box by box.
    """

    singles: list[int]
    groups: list[list[int]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    box: dict[int, str] = field(default_factory=dict)
    stubs: list[tuple[str, int, int]] = field(default_factory=list)
    note: str = ""
    crossings: list[tuple[str, str, int, int]] = field(default_factory=list)


def level_of_detail(graph: Graph, *, max_nodes: int = DEFAULT_MAX_NODES, focus: int | None = None,
                    depth: int | None = None) -> View:
    """The boxes to draw: everything for a small graph; blocks, groups and stubs for a big one.

    >>> import torch
    >>> from explorer.graph import capture
    >>> x = torch.ones(3, requires_grad=True)
    >>> y = x
    >>> for _ in range(1000):
    ...     y = y.tanh()
    >>> view = level_of_detail(capture(y.sum(), {"x": x}), max_nodes=50)
    >>> len(view.singles) <= 50 and len(view.groups)
    1
    """
    by_id = graph.by_id
    start = [focus] if focus is not None else [o for o in graph.outputs if o in by_id]
    visible = _within(graph, start, depth, both_ways=focus is not None)
    view = View(singles=sorted(visible)) if len(visible) <= max_nodes else \
        _collapse(graph, visible, start, focus, max_nodes)
    view.box = {n: str(n) for n in view.singles}
    for k, members in enumerate(view.groups):
        view.box.update(dict.fromkeys(members, f"group{k}"))
    reasons = []
    if len(visible) < len(graph.nodes):
        reasons.append(f"more than {depth} levels from the {'focus' if focus is not None else 'outputs'}")
    if len(view.singles) + len(view.groups) > max_nodes:
        _keep_nearest(graph, view, start, focus, max_nodes)
        reasons.append(f"beyond max_nodes={max_nodes}")
    notes = []
    if view.groups:
        collapsed = sum(map(len, view.groups))
        notes.append(f"{len(graph.nodes):,} nodes: {collapsed:,} of them collapsed into "
                     f"{len(view.groups)} dashed box{'es' if len(view.groups) > 1 else ''}")
    hidden = len(graph.nodes) - len(view.box)
    _cut(graph, view)
    if hidden:
        notes.append(f"{hidden:,} nodes not drawn ({' and '.join(reasons)}): "
                     "raise max_nodes or depth, or focus on a node")
    view.note = "\n".join(notes)
    return view


def _cut(graph: Graph, view: View) -> None:
    """Every edge of the graph out of each box, once: between boxes (``view.crossings``) or to a node
    not drawn (``view.stubs``, counted by the nodes hidden on each side)."""
    by_id, box = graph.by_id, view.box
    for name, members in _boxes(view):
        ins, outs = set(), set()
        for m in members:
            node = by_id[m]
            for index, i in enumerate(node.inputs):
                if i is not None:
                    source = box.get(i)
                    if source is None:
                        ins.add(i)
                    elif source != name:
                        view.crossings.append((source, name, m, index))
            for c in node.consumers:
                if c not in box:
                    outs.add(c)
        if ins or outs:
            view.stubs.append((name, len(ins), len(outs)))


def _boxes(view: View):
    """``(DOT name, node ids)`` of every box of the view."""
    for n in view.singles:
        yield str(n), (n,)
    for k, members in enumerate(view.groups):
        yield f"group{k}", members


def _within(graph: Graph, start: list[int], depth: int | None, both_ways: bool) -> set[int]:
    """Ids of the nodes at most ``depth`` edges from ``start`` (down through inputs, or both ways)."""
    if depth is None:
        return set(graph.by_id)
    by_id = graph.by_id
    level = dict.fromkeys(start, 0)
    queue = deque(start)
    while queue:
        n = queue.popleft()
        if level[n] == depth:
            continue
        near = [i for i in by_id[n].inputs if i is not None] + (by_id[n].consumers if both_ways else [])
        for i in near:
            if i not in level:
                level[i] = level[n] + 1
                queue.append(i)
    return set(level)


def _collapse(graph: Graph, visible: set[int], start: list[int], focus: int | None, max_nodes: int) -> View:
    """Draw the blocks of the spine nearest the outputs (or the focus) and the last ones; collapse the rest."""
    by_id = graph.by_id
    ids = sorted(visible)   # node ids are a topological order: consumers before producers
    whole = len(ids) == len(by_id)
    inputs: dict[int, list[int]] = {}
    consumers: dict[int, list[int]] = {}   # each once, in order
    leaves: set[int] = set()
    for n in ids:   # one pass, and none of the filtering when every node is visible (the default view)
        node = by_id[n]
        if whole:
            ins, uses = node.inputs, node.consumers
            inputs[n] = ins if None not in ins else [i for i in ins if i is not None]
        else:
            inputs[n] = [i for i in node.inputs if i is not None and i in visible]
            uses = [c for c in node.consumers if c in visible]
        consumers[n] = uses if len(uses) <= 1 else list(dict.fromkeys(uses))
        if node.kind == "leaf":
            leaves.add(n)
    shared = {n for n in leaves if len(consumers[n]) > 1}

    # 1. Small branches feeding one node ride along with it (producers first).
    size: dict[int, int] = {}
    starts = set(start)
    for n in reversed(ids):
        if len(consumers[n]) != 1 or n in starts:
            continue
        if n in leaves:
            size[n] = 1
            continue
        for i in inputs[n]:
            if i not in size and i not in shared:
                break
        else:   # every input rides already
            total = 1 + sum(size.get(i, 0) for i in set(inputs[n]))
            if total <= SIDE_MAX:
                size[n] = total
    owner: dict[int, int] = {}
    riders: dict[int, list[int]] = {}   # the nodes riding along with each node of the spine
    spine = []
    for n in ids:   # consumers first: a branch's owner is known before the branch
        if n in size:
            (c,) = consumers[n]
            owner[n] = head = owner.get(c, c)
            riders.setdefault(head, []).append(n)
        elif n not in shared:
            owner[n] = n
            spine.append(n)
    if not spine:
        return View(singles=ids)

    # 2. Cut points: no edge of the spine jumps over them.
    position = {n: k for k, n in enumerate(spine)}
    hubs = {n for n in spine if len(consumers[n]) >= HUB_CONSUMERS}
    blocks: list[list[int]] = []
    weight: list[int] = []
    reach = 0
    for k, n in enumerate(spine):
        if reach <= k or not blocks:
            blocks.append([])
            weight.append(0)
        blocks[-1].append(n)
        weight[-1] += 1 + len(riders.get(n, ()))
        for i in inputs[n]:
            if i not in hubs:
                k_i = position.get(i)
                if k_i is not None and k_i > reach:
                    reach = k_i

    # 3. Keep the blocks nearest the outputs (or around the focus) and the last ones.
    keep: set[int] = set()
    if focus is not None:
        anchor = owner[focus] if focus in owner else \
            next((owner[c] for c in sorted(consumers[focus]) if c in owner), spine[0])
        centre = next(k for k, block in enumerate(blocks) if anchor in block)
        _grow(keep, weight, [centre], range(centre - 1, -1, -1), range(centre + 1, len(blocks)),
              (HEAD_SHARE + TAIL_SHARE) * max_nodes)
    else:
        firsts = sorted({k for s in starts if s in position for k in (_block_of(blocks, position[s]),)} or {0})
        _grow(keep, weight, firsts, range(1, len(blocks)), (), HEAD_SHARE * max_nodes)
        _grow(keep, weight, [], range(len(blocks) - 1, -1, -1), (), TAIL_SHARE * max_nodes, avoid=set(keep))
    view = View(singles=[])
    run: list[int] = []
    for k in range(len(blocks) + 1):
        if k < len(blocks) and k not in keep:
            run.append(k)
            continue
        if len(run) > 1:   # a run of blocks; one block too big to draw is cut by the budget instead
            group = _with_riders([n for j in run for n in blocks[j]], riders)
            view.groups.append(group)
            view.labels.append(_pattern(graph, [blocks[j] for j in run], group))
        elif run:
            view.singles += _with_riders(blocks[run[0]], riders)
        if k < len(blocks):
            view.singles += _with_riders(blocks[k], riders)
        run = []
    view.singles += sorted(shared)
    return view


def _block_of(blocks: list[list[int]], k: int) -> int:
    """The block holding the ``k``-th node of the spine."""
    seen = 0
    for b, block in enumerate(blocks):
        seen += len(block)
        if k < seen:
            return b
    return len(blocks) - 1


def _with_riders(spine_part: list[int], riders: dict[int, list[int]]) -> list[int]:
    """Nodes of the spine, each followed by the nodes riding along with it."""
    if not riders:
        return list(spine_part)
    out = []
    for n in spine_part:
        out.append(n)
        out += riders.get(n, ())
    return out


def _grow(keep: set[int], weight: list[int], first: list[int], before, after, budget: float,
          avoid: set[int] = frozenset()) -> None:
    """Add blocks to ``keep`` (``first``, then alternately from ``before`` and ``after``) within ``budget`` nodes."""
    used = 0
    for k in first:
        keep.add(k)
        used += weight[k]
    sides = [iter(before), iter(after)]
    while sides:
        for side in list(sides):
            k = next(side, None)
            if k is None or k in avoid or used + weight[k] > budget:
                sides.remove(side)
                continue
            keep.add(k)
            used += weight[k]


def _pattern(graph: Graph, blocks: list[list[int]], group: list[int]) -> str:
    """What a collapsed run holds: its repeating block, or its commonest operations."""
    by_id = graph.by_id
    # A block's operations; a block of one node (most of them) is just its operation's name.
    signatures = [by_id[block[0]].op if len(block) == 1 else tuple(by_id[n].op for n in block) for block in blocks]

    def ops_of(signatures) -> list[str]:
        return [op for signature in signatures for op in ((signature,) if isinstance(signature, str) else signature)]

    spine = sum(len(block) for block in blocks)
    text = f"… {len(group):,} nodes collapsed: {spine:,} in a chain of blocks"
    for period in range(1, min(12, len(signatures) // 2) + 1):
        if signatures[period:] == signatures[:-period]:
            ops = ops_of(signatures[:period])
            shown = " → ".join(ops[:6]) + (" → …" if len(ops) > 6 else "")
            text += f"\n[{shown}] ×{len(signatures) // period:,}"
            if len(signatures) % period:
                text += f" and {len(signatures) % period} more block{'s' if len(signatures) % period > 1 else ''}"
            break
    else:
        counts = Counter(ops_of(signatures))
        text += "\n" + ", ".join(f"{op} ×{k:,}" for op, k in counts.most_common(3)) + (", …" if len(counts) > 3 else "")
    if len(group) > spine:   # ties in the order the operations first appear in the group
        on_spine = {n for block in blocks for n in block}
        side = Counter(by_id[n].op for n in group if n not in on_spine)
        counts = Counter({op: side[op] for op in dict.fromkeys(by_id[n].op for n in group) if op in side})
        text += f"\nwith {len(group) - spine:,} nodes on its side inputs (" + ", ".join(
            f"{op} ×{k:,}" for op, k in counts.most_common(2)) + (", …" if len(counts) > 2 else "") + ")"
    return text


def _keep_nearest(graph: Graph, view: View, start: list[int], focus: int | None, max_nodes: int) -> None:
    """Keep only the ``max_nodes`` boxes nearest ``start`` (breadth first over boxes)."""
    by_id = graph.by_id
    members = dict(_boxes(view))
    first = [view.box[s] for s in start if s in view.box]
    seen = dict.fromkeys(first)
    queue = deque(first)
    while queue and len(seen) < max_nodes:
        name = queue.popleft()
        for m in members[name]:
            near = by_id[m].inputs + (by_id[m].consumers if focus is not None else [])
            for i in near:
                if i is not None and i in view.box and view.box[i] not in seen and len(seen) < max_nodes:
                    seen[view.box[i]] = None
                    queue.append(view.box[i])
    view.singles = [n for n in view.singles if str(n) in seen]
    keep = [k for k in range(len(view.groups)) if f"group{k}" in seen]
    view.groups = [view.groups[k] for k in keep]
    view.labels = [view.labels[k] for k in keep]
    view.box = {n: str(n) for n in view.singles}
    for k, group in enumerate(view.groups):
        view.box.update(dict.fromkeys(group, f"group{k}"))


def _edges(graph: Graph, view: View) -> tuple[list[tuple], list[tuple[str, int, int]]]:
    """The edges between boxes, ``(source box, target box, sending node or None, input index)``, and
    the proxies ``(DOT name, node id, uses)`` that stand in for a much-used node.

    Between two single nodes every edge is drawn (``x * x`` has two); into or
    out of a group, one edge per pair of boxes. A node feeding more than
    ``PROXY_USES`` boxes (an RNN's shared weight) keeps its first edge; each
    other box gets a copy of it beside it: a long edge per use would make
    Graphviz's layout slow (seconds at a hundred uses) and the picture a web.
    """
    by_id = graph.by_id
    seen = set()
    edges = []
    for source, name, m, index in view.crossings:
        if source.startswith("group") or name.startswith("group"):
            if (source, name) in seen:
                continue
            seen.add((source, name))
            edges.append((source, name, None, index))
        else:
            edges.append((source, name, by_id[m], index))
    targets: dict[str, dict[str, None]] = {}
    for source, target, _, _ in edges:
        targets.setdefault(source, {})[target] = None
    proxies, proxy_of = [], {}
    for source, uses in targets.items():
        if len(uses) > PROXY_USES and not source.startswith("group"):
            for target in list(uses)[1:]:
                proxy_of[source, target] = f"use{source}_{len(proxies)}"
                proxies.append((proxy_of[source, target], int(source), len(by_id[int(source)].consumers)))
    return [(proxy_of.get((s, t), s), t, sender, index) for s, t, sender, index in edges], proxies


# ---------------------------------------------------------------------------
# Drawing.

def sent_label(sender: Node, index: int) -> str:
    """What ``sender`` sent back along the edge to its input ``index``, with the broadcast sum the engine
    made there: the label of an edge of the annotated style."""
    send = sender.sends[index] if index < len(sender.sends) else None
    text = f"grad {short(send)}" if send is not None else ""
    reduced = sender.reduced[index] if index < len(sender.reduced) else None
    if reduced is not None:
        dims = ", ".join(map(str, summed_dims(reduced)))
        text += f"\nsum over dim {dims}\n{shape(reduced[0])} → {shape(reduced[1])}"
    return text


def annotated_node(graph: Graph, n: int, top: float, *, highlight: int | None = None, show_attrs: bool = False,
                   show_saved: bool = False, max_attr_chars: int = 50, sizes: Mapping | None = None) -> list[str]:
    """The DOT lines of node ``n`` in the annotated style: its box (name, value, gradient received, filled
    by that gradient's size against ``top``), its constant inputs and, with ``show_saved``, its saved
    tensors. Edges between nodes are the caller's. ``sizes``: the largest |gradient| by node id, where
    the caller has them (all of the graph's otherwise)."""
    node = graph.by_id[n]
    sizes = graph.grad_sizes if sizes is None else sizes
    mark = " color=red penwidth=4" if n == highlight else ""
    colour = fill(sizes[n], top)
    if node.kind == "leaf":
        label = f"{node.name} = {short(node.value)}\ngrad {short(node.grad)}"
        extra = " peripheries=2" if n in graph.outputs else ""
        return [f'\t{n} [label="{escape(label)}" shape=ellipse {colour}{extra}{mark or LEAF_BORDER}]']
    title = f"{node.label} = {node.op}" if node.label else node.op
    rows = [title] + (_attr_lines(node, max_attr_chars) if show_attrs else [])
    if node.value is not None:
        rows.append(f"value {short(node.value)}")
    elif node.shape is not None:
        rows.append(f"shape {shape(node.shape)}")
    if node.grad is not None or len(node.received) <= 1:
        rows.append(f"grad {short(node.grad)}")
    else:
        rows += [f"grad[{k}] {short(g)}" for k, g in enumerate(node.received)]
    extra = " peripheries=2" + ("" if mark else " color=darkgreen") if node.kind == "output" else ""
    lines = [f'\t{n} [label="{escape(chr(10).join(rows))}" {colour}{extra}{mark}]']
    for k, i in enumerate(node.inputs):
        if i is None:
            lines.append(f'\tconst{n}_{k} [label="{escape(_constant_label(node, k))}" shape=diamond '
                         'fillcolor="#eeeeee" fontsize=9 height=0.1]')
            lines.append(f'\tconst{n}_{k} -> {n} [style=dashed color=grey label="no grad" fontsize=8]')
    if show_saved:
        for k, s in enumerate(node.saved):
            text = f"{s.name} {shape(s.shape)}" + (f"\n{short(s.value)}" if s.value is not None else "")
            lines.append(f'\tsaved{n}_{k} [label="{escape(text)}" fillcolor=orange fontsize=8]')
            lines.append(f"\t{n} -> saved{n}_{k} [dir=none style=dotted]")
    return lines


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _level(value: float | None, top: float) -> int | None:
    """The palette index of |gradient| ``value`` on a log scale of ``DECADES`` below ``top``."""
    if value is None or not math.isfinite(value):
        return None if value is None else len(PALETTE) - 1
    if top <= 0 or value <= 0:
        return 0
    place = 1 + math.log10(max(value / top, 10.0 ** -DECADES)) / DECADES
    return min(len(PALETTE) - 1, max(0, round(place * (len(PALETTE) - 1))))


def fill(value: float | None, top: float) -> str:
    level = _level(value, top)
    if level is None:
        return 'fillcolor=white'
    return f'fillcolor="{PALETTE[level]}"' + (" fontcolor=white" if level >= len(PALETTE) - 2 else "")


def legend(top: float) -> str:
    """A table node: the colour scale with the |gradient| each colour starts at, and the shapes."""
    cells = []
    for k, colour in enumerate(PALETTE):
        bound = top * 10.0 ** (DECADES * ((k - 0.5) / (len(PALETTE) - 1) - 1)) if k else 0.0
        text = "0" if k == 0 else f"≥{bound:.2g}"
        font = ' COLOR="white"' if k >= len(PALETTE) - 2 else ""
        cells.append(f'<TD BGCOLOR="{colour}"><FONT{font}>{_html(text)}</FONT></TD>')
    return ('\tlegend [shape=plaintext style="" margin=0 label=<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" '
            f'CELLPADDING="3"><TR><TD COLSPAN="{len(PALETTE)}">fill: |gradient received| (largest entry)</TD></TR>'
            f'<TR>{"".join(cells)}</TR><TR><TD COLSPAN="{len(PALETTE)}">ellipse: leaf · double border: output · '
            'diamond: constant · dashed: collapsed</TD></TR></TABLE>>]')


def _attr_lines(node: Node, max_chars: int) -> list[str]:
    """torchviz's attribute table: ``name: value`` lines under a rule (``get_fn_name``)."""
    if not node.attrs:
        return []
    width = max(len(k) for k in node.attrs)
    values = min(max(len(v) for v in node.attrs.values()), max_chars)
    rule = "-" * max(width + values + 2, len(node.op))

    def cut(v: str) -> str:
        return v[:values - 3] + "..." if len(v) > values else v

    return [rule] + [f"{k:<{width}}: {cut(v):>{values}}" for k, v in node.attrs.items()]


def _constant_label(node: Node, index: int) -> str:
    """The constant at input ``index``: its label where the caller gave one (``y.detach()``: the gradient
    stops there), and its value where the node saved exactly one constant."""
    title = f"{node.constants[index]}\nconstant" if index in node.constants else "constant"
    constants = [s for s in node.saved if s.of is None]
    nones = [k for k, i in enumerate(node.inputs) if i is None]
    if len(constants) == 1 and len(nones) == 1 and constants[0].value is not None:
        return f"{title}\n{short(constants[0].value)}"
    return title


def _annotated(graph: Graph, view: View, *, show_attrs: bool, show_saved: bool, highlight: int | None,
               max_attr_chars: int) -> list[str]:
    by_id = graph.by_id
    drawn = [by_id[n] for n in view.singles] + [by_id[m] for g in view.groups for m in g]
    sizes = graph.grad_sizes
    top = max((s for s in (sizes[n.id] for n in drawn) if s is not None and math.isfinite(s)), default=0.0)
    lines = [legend(top)]
    red = " color=red penwidth=4"
    for n in view.singles:
        lines += annotated_node(graph, n, top, highlight=highlight, show_attrs=show_attrs, show_saved=show_saved,
                                max_attr_chars=max_attr_chars)
    for k, (members, label) in enumerate(zip(view.groups, view.labels)):
        biggest = max((s for s in (sizes[m] for m in members) if s is not None), default=None)
        text = label + (f"\n|grad| up to {biggest:.3g}" if biggest is not None else "")
        mark = red if highlight in members else ""
        lines.append(f'\tgroup{k} [label="{escape(text)}" style="filled,dashed" '
                     f'{fill(biggest, top)}{mark}]')
    edges, proxies = _edges(graph, view)
    for name, n, uses in proxies:
        node = by_id[n]
        lines.append(f'\t{name} [label="{escape(node.name)}\\n(used {uses:,}×)" shape=ellipse '
                     f'style="filled,dashed" {fill(sizes[n], top)} fontsize=9{LEAF_BORDER}]')
    for source, target, sender, index in edges:
        if sender is None:
            lines.append(f"\t{source} -> {target} [style=dashed]")
            continue
        style = " color=red penwidth=2" if sender.id == highlight else ""
        lines.append(f'\t{source} -> {target} [label="{escape(sent_label(sender, index))}" fontsize=9{style}]')
    lines += _stub_lines(view)
    return lines


def _torchviz_look(graph: Graph, view: View, *, show_attrs: bool, show_saved: bool, highlight: int | None,
                   max_attr_chars: int) -> list[str]:
    """torchviz's ``make_dot`` drawing, from the captured data: for graphs torchviz cannot draw."""
    by_id = graph.by_id
    lines = []
    red = " color=red penwidth=4"
    for k, out in enumerate(graph.outputs):
        if out in view.box and by_id[out].kind != "leaf":
            node = by_id[out]
            lines.append(f'\tout{k} [label="\\n {shape(node.shape)}" fillcolor=darkolivegreen1]')
            lines.append(f"\t{view.box[out]} -> out{k}")
    for n in view.singles:
        node = by_id[n]
        mark = red if n == highlight else ""
        rows = [node.op] + (_attr_lines(node, max_attr_chars) if show_attrs else [])
        lines.append(f'\t{n} [label="{escape(chr(10).join(rows))}"{mark}]')
        if node.kind == "leaf":
            fill = "darkolivegreen1" if n in graph.outputs else "lightblue"
            lines.append(f'\tvar{n} [label="{escape(node.label)}\\n {shape(node.shape)}" fillcolor={fill}]')
            lines.append(f"\tvar{n} -> {n}")
        if show_saved:
            for k, s in enumerate(node.saved):
                lines.append(f'\tsaved{n}_{k} [label="{escape(s.name)}\\n {shape(s.shape)}" fillcolor=orange]')
                lines.append(f"\t{n} -> saved{n}_{k} [dir=none]")
    for k, label in enumerate(view.labels):
        mark = red if highlight in view.groups[k] else ""
        lines.append(f'\tgroup{k} [label="{escape(label)}" fillcolor=lightgrey style="filled,dashed"{mark}]')
    edges, proxies = _edges(graph, view)
    for name, n, _ in proxies:
        node = by_id[n]
        label = f"{node.label}\\n {shape(node.shape)}" if node.kind == "leaf" else node.op
        fill = "lightblue" if node.kind == "leaf" else "lightgrey"
        lines.append(f'\t{name} [label="{escape(label)}" fillcolor={fill} style="filled,dashed"]')
    lines += [f"\t{source} -> {target}" for source, target, _, _ in edges]
    lines += _stub_lines(view)
    return lines


def _stub_lines(view: View) -> list[str]:
    """A "… N more" stub on every box with neighbours that are not drawn."""
    lines = []
    for name, ins, outs in view.stubs:
        if ins:
            lines.append(f'\tmore_in_{name} [label="… {ins:,} more input{"s" if ins > 1 else ""}" shape=plaintext '
                         'style="" fontsize=9]')
            lines.append(f"\tmore_in_{name} -> {name} [style=dotted]")
        if outs:
            lines.append(f'\tmore_out_{name} [label="… {outs:,} more consumer{"s" if outs > 1 else ""}" '
                         'shape=plaintext style="" fontsize=9]')
            lines.append(f"\t{name} -> more_out_{name} [style=dotted]")
    return lines


# ---------------------------------------------------------------------------
# torchviz's own drawing.

def separate_saved(source: str) -> str:
    """torchviz's DOT with each saved tensor in a box of its own.

    torchviz emits the edge ``fn -> t [dir=none]`` followed by the orange box
    ``t``; when ``t`` is a leaf (or the same tensor saved twice) the boxes
    share one name and Graphviz merges them. Each pair gets a fresh name.
    """
    count = iter(range(1 << 30))

    def rename(match: re.Match) -> str:
        new = f"saved_{next(count)}_{match['t']}"
        return f"\t{match['fn']} -> {new} [dir=none]\n\t{new} [label=\"{match['label']}\" fillcolor=orange]"

    return re.sub(_SAVED, rename, source)


_SAVED = r'\t(?P<fn>\d+) -> (?P<t>\d+) \[dir=none\]\n\t(?P=t) \[label="(?P<label>[^"]*)" fillcolor=orange\]'
