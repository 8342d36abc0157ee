"""The autograd graph while it is alive: walked once, run backward once, asked for a node's details on demand.

:mod:`explorer.graph` records a graph in two layers, both read from here.

**Layer one**, for every node, in one cheap pass:

* :func:`walk`: the nodes and edges, with ids in a topological order, the
  depth of the graph (refused beyond :data:`MAX_LEVELS`, see below) and the
  order PyTorch's engine runs the nodes in (the walk visits them by the
  engine's own rule);
* :func:`run_backward`: one ``torch.autograd.grad`` that asks the engine for
  the input buffer of every node (``GradientEdge`` inputs): the gradient each
  node received, gathered in C++ rather than by a Python hook per node, with
  the engine held to the calling thread, so that it runs every node, on any
  device, in the walk's order.

**Layer two**, a node's *details*: its value where only what the nodes saved
for backward knows it (a trace's intermediate results), what it saved
(tensors and attributes), what it sent to each input, where the engine
summed a broadcast, and its local Jacobian. :class:`LiveGraph` computes them
when they are first asked for (a node drawn, selected, or read through the
API), from the node's own backward and saved tensors, so it keeps the
autograd graph alive until :meth:`LiveGraph.release`. One thread at a time
reads them, like the tensors they come from. What a node sent along an edge that is the only
one into its input is the gradient that input received (the engine moves the
tensor into the buffer), so only edges into a shared input call the node's
backward again; a node without a plain call (a custom ``autograd.Function``)
has its sends recorded by a hook during the one backward pass.

Why two layers: on the 20,002-node graph of ``bench/graph_scale.py`` the
default view draws about 250 nodes, yet reading every node's saved tensors,
sends and local Jacobian up front cost most of ``trace``'s 5 s. Details
computed here are the numbers the eager capture computed (``tests/unit/
test_lazy.py`` compares them field by field, and against hooks on a real
backward pass).

**Depth.** Once Python has held a node (walked it), PyTorch 2.13 frees it
through its Python wrapper, recursively: freeing a chain of about 43,000
walked nodes overflows an 8 MB C stack and kills the process, whoever frees
it and whenever. :func:`walk` therefore visits nodes outputs first in the
engine's priority order, so that each node's longest distance from the
outputs is known when it is reached, and refuses a graph deeper than
:data:`MAX_LEVELS` before it has touched a node below that depth: what it
touched is freed safely.

>>> import torch
>>> x = torch.tensor([2.0], requires_grad=True)
>>> found = walk([(x.sin() * x).grad_fn])
>>> found.ops, found.levels
(['MulBackward0', 'SinBackward0', 'AccumulateGrad'], 2)
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch.autograd.graph import GradientEdge, get_gradient_edge

from explorer.expression import first_line

# Freeing a walked chain crashes near 43,000 levels (8 MB stack); presets stay below this.
MAX_LEVELS = 35_000
GRADIENT_BUDGET = 10_000_000     # elements of received gradients kept for one graph
LOCAL_JACOBIAN_MAX = 64 * 64     # entries of a local Jacobian worth computing and showing
JACOBIAN_CALL_BUDGET = 5000      # one-hot backward calls for all local Jacobians of one graph (~0.5 s)
SAVED_VALUE_MAX = 4096           # elements of a saved constant kept to show (its shape is always kept)
ATTR_CHARS = 200                 # characters of a saved attribute's text kept
_SAVED_PREFIX = "_saved_"        # PyTorch's generated nodes expose what they saved under this prefix
_LEAF = "AccumulateGrad"


class GraphGone(RuntimeError):
    """The autograd graph behind a capture was freed or changed in place before a node's details were read."""


# ---------------------------------------------------------------------------
# Layer one.

@dataclass
class Walk:
    """The nodes reachable from some roots: ``order[i]`` is the node with id ``i`` (consumers before
    producers), ``ops`` their type names, ``nexts`` their ``next_functions`` and ``metadata`` their
    :func:`output_metadata` (each read once), ``levels`` the most edges on a path from a root down to a
    leaf, ``engine`` the ids of the nodes the engine runs (those with an input that leads on), in the
    order it runs them."""

    order: list
    ids: dict
    ops: list[str]
    nexts: list[tuple]
    metadata: list[tuple]
    levels: int
    engine: list[int]


def walk(roots: Sequence) -> Walk:
    """Every node reachable from ``roots``, with ids in a topological order, without recursion.

    Nodes are visited in the engine's own order: of the nodes reached, the
    newest (highest sequence number) next. A node is newer than the nodes it
    uses, so this reaches a node only after every node that uses it: its level
    (longest distance from a root) is final when it is expanded, and it is
    the node the engine would run next, every consumer having run. In a graph
    whose sequence numbers break that rule (built across threads), a level is
    raised again where needed and the engine's order is worked out apart
    (:func:`_engine_order`). Ids are Kahn's topological order, the ids
    captures always had.

    >>> x = torch.ones(1, requires_grad=True)
    >>> y = x
    >>> for _ in range(MAX_LEVELS + 5):
    ...     y = y.sin()
    >>> walk([y.grad_fn])
    Traceback (most recent call last):
    ...
    ValueError: the graph is more than 35,000 operations deep: PyTorch would crash freeing a graph that deep once Python has walked it. Capture part of it (detach() in the middle), or a shallower model
    """
    nexts: dict = {}
    level: dict = {}
    heap: list = []
    tie = itertools.count()
    for fn in dict.fromkeys(roots):
        level[fn] = 0
        heap.append((-fn._sequence_nr(), next(tie), fn))
    heapq.heapify(heap)
    popped: list = []
    exact = True
    while heap:
        fn = heapq.heappop(heap)[2]
        edges = nexts.get(fn)
        if edges is None:
            edges = nexts[fn] = fn.next_functions
        elif edges:   # expanded again: the sequence numbers are not a topological order
            exact = False
        below = level[fn] + 1
        runs = False
        for nxt, _ in edges:
            if nxt is None:
                continue
            runs = True
            reached = level.get(nxt)
            if reached is not None:   # reached before, by another node that uses it
                if nexts.get(nxt):
                    exact = False   # and expanded already, before this node that uses it
                if reached >= below:
                    continue
            if below > MAX_LEVELS:
                raise ValueError(f"the graph is more than {MAX_LEVELS:,} operations deep: PyTorch would crash "
                                 "freeing a graph that deep once Python has walked it. Capture part of it "
                                 "(detach() in the middle), or a shallower model")
            level[nxt] = below
            if reached is None or nxt in nexts:   # new, or to be expanded again with its new level
                heapq.heappush(heap, (-nxt._sequence_nr(), next(tie), nxt))
        if runs:
            popped.append(fn)
    waiting = dict.fromkeys(nexts, 0)
    for edges in nexts.values():
        for nxt, _ in edges:
            if nxt is not None:
                waiting[nxt] += 1
    ready = [fn for fn in dict.fromkeys(roots) if waiting[fn] == 0]
    order, ids, metadata = [], {}, []
    while ready:
        fn = ready.pop()
        ids[fn] = len(order)
        order.append(fn)
        metadata.append(output_metadata(fn))
        for nxt, _ in reversed(nexts[fn]):
            if nxt is not None:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.append(nxt)
    found = Walk(order=order, ids=ids, ops=[type(fn).__name__ for fn in order], nexts=[nexts[fn] for fn in order],
                 metadata=metadata, levels=max(level.values(), default=0), engine=[ids[fn] for fn in popped])
    if not exact:
        found.engine = _engine_order(found, roots)
    return found


def _engine_order(found: Walk, roots: Sequence) -> list[int]:
    """The engine's rule, step by step: of the nodes whose consumers have all run, the newest runs next."""
    waiting = [0] * len(found.order)
    for edges in found.nexts:
        for nxt, _ in edges:
            if nxt is not None:
                waiting[found.ids[nxt]] += 1
    heap = [(-found.order[i]._sequence_nr(), i) for i in {found.ids[fn] for fn in roots} if waiting[i] == 0]
    heapq.heapify(heap)
    engine = []
    while heap:
        node_id = heapq.heappop(heap)[1]
        if any(n is not None for n, _ in found.nexts[node_id]):
            engine.append(node_id)
        for nxt, _ in found.nexts[node_id]:
            if nxt is not None:
                i = found.ids[nxt]
                waiting[i] -= 1
                if waiting[i] == 0:
                    heapq.heappush(heap, (-nxt._sequence_nr(), i))
    return engine


def output_metadata(fn) -> tuple:
    """PyTorch's metadata (shape, dtype, device) of each output of a node's forward: what its gradients
    must look like. Empty where a node type does not say (a private attribute)."""
    try:
        return tuple(fn._input_metadata)
    except (AttributeError, RuntimeError, TypeError):
        return ()


@functools.lru_cache(maxsize=None)
def _saved_fields(node_type: type) -> tuple:
    """``(name, descriptor)`` for every ``_saved_*`` property a backward node type defines.

    PyTorch's code generator exposes what a node saved as properties named
    ``_saved_<argument>`` on the node's type; torchviz reads the same ones. The
    names come from the type's own dictionary, never from outside, and are
    sorted like ``dir()`` sorts them so attributes print in torchviz's order.
    """
    return tuple(sorted((name.removeprefix(_SAVED_PREFIX), slot) for name, slot in vars(node_type).items()
                        if name.startswith(_SAVED_PREFIX)))


@functools.lru_cache(maxsize=None)
def _is_custom(node_type: type) -> bool:
    """A custom ``autograd.Function``'s node: it keeps ``saved_tensors`` and takes no plain call."""
    return hasattr(node_type, "saved_tensors")


def _read_fields(fn) -> list[tuple[str, object, RuntimeError | None]]:
    """``(name, value, None)`` for each thing ``fn`` saved, in order, or ``(name, None, error)`` where it
    cannot be read (freed, or changed in place since it was saved)."""
    fields = []
    for name, slot in _saved_fields(type(fn)):
        try:
            fields.append((name, slot.__get__(fn, type(fn)), None))
        except RuntimeError as err:
            fields.append((name, None, err))
    if _is_custom(type(fn)):
        try:
            fields.append(("saved_tensors", tuple(fn.saved_tensors), None))
        except RuntimeError as err:
            fields.append(("saved_tensors", None, err))
    return fields


def snapshot(t: torch.Tensor) -> torch.Tensor:
    """A detached CPU copy: the tensors a capture reads may change after it (an optimiser step, say).

    >>> copy = snapshot(torch.ones(2, requires_grad=True) * 3)
    >>> copy, copy.requires_grad
    (tensor([3., 3.]), False)
    """
    return t.detach().cpu().clone()


def on_cpu(tensors: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
    """Gradients the engine has let go of, detached and on the CPU: moved in bulk where they are not there."""
    if all(t is None or (t.is_cpu and not t.requires_grad) for t in tensors):
        return list(tensors)
    elsewhere = [k for k, t in enumerate(tensors) if t is not None and not t.is_cpu]
    out = [None if t is None else t.detach() for t in tensors]
    for members in _by_device(elsewhere, tensors):   # one transfer per device and dtype, not one per tensor
        group = [out[k] for k in members]
        flat = torch.cat([t.reshape(-1) for t in group]).cpu()
        for k, t, part in zip(members, group, flat.split([t.numel() for t in group])):
            out[k] = part.view(t.shape).clone()   # its own storage, not a view of the whole transfer
    return out


def _by_device(members: list[int], tensors: Sequence) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for k in members:
        groups.setdefault((tensors[k].dtype, tensors[k].device), []).append(k)
    return list(groups.values())


@dataclass
class Backward:
    """What one backward pass with captures saw.

    ``received[i]``: the gradient of each output of node ``i`` (its input
    buffer when the engine ran it; a leaf's is its gradient), or None where
    the node did not run or the gradient budget had run out; ``executed``:
    node ids in the order the engine ran them; ``sent``: what the nodes that
    take no plain call sent, from their hooks; ``grads``: one per target;
    ``kept``: how many nodes kept their gradients when the budget ran out
    (None: all).
    """

    received: list[tuple | None]
    executed: list[int]
    sent: dict[int, tuple]
    grads: list[torch.Tensor]
    kept: int | None


def run_backward(found: Walk, outputs: list[torch.Tensor], grad_outputs: list[torch.Tensor | None],
                 targets: list[tuple], create_graph: bool) -> Backward:
    """``torch.autograd.grad(outputs, targets, grad_outputs, retain_graph=True)``, asking the engine for the
    input buffer of every node too (``targets``: ``(name, tensor, node id or None)``).

    Gradients are kept for nodes in id order (nearest the outputs) until
    ``GRADIENT_BUDGET`` elements; only those are asked for, so the engine
    frees the rest as it goes, as it always does.
    """
    order, ops = found.order, found.ops
    edges, where, custom, left, kept = [], [], [], GRADIENT_BUDGET, None
    for node_id, (fn, meta) in enumerate(zip(order, found.metadata)):
        if ops[node_id] == _LEAF:
            continue
        need = math.prod(meta[0].shape) if len(meta) == 1 else sum(math.prod(m.shape) for m in meta)
        if need > left:
            kept = len({i for i, _ in where})
            break
        left -= need
        for slot in range(len(meta)):
            edges.append(GradientEdge(fn, slot))
            where.append((node_id, slot))
        if _is_custom(type(fn)):
            custom.append(node_id)
    sent: dict[int, tuple] = {}

    def keep_sent(grad_in, _grad_out, node_id):
        sent[node_id] = tuple(None if g is None else g.detach() for g in grad_in)

    handles = [order[i].register_hook(functools.partial(keep_sent, node_id=i)) for i in custom]
    inputs = [*edges, *(t for _, t, _ in targets)]
    try:
        with torch.autograd.set_multithreading_enabled(False):   # one thread runs every node, in found.engine
            got = torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=True, create_graph=create_graph,
                                      allow_unused=True) if inputs else ()
    finally:
        for handle in handles:
            handle.remove()
    ran = set(found.engine)
    flat = on_cpu(got[:len(edges)])
    received: list[tuple | None] = [None] * len(order)
    for (node_id, slot), g in zip(where, flat):
        if node_id in ran:
            received[node_id] = (g,) if slot == 0 else received[node_id] + (g,)
    grads = [torch.zeros_like(t) if g is None else g for (_, t, _), g in zip(targets, got[len(edges):])]
    for (_, _, node_id), g in zip(targets, on_cpu(grads)):
        if node_id is not None and ops[node_id] == _LEAF:
            received[node_id] = (g,)
    sent = {i: tuple(on_cpu(s)) for i, s in sent.items() if i in ran}
    return Backward(received=received, executed=found.engine, sent=sent, grads=grads, kept=kept)


# ---------------------------------------------------------------------------
# Layer two.

@dataclass
class Saved:
    """A tensor a node saved for its backward (torchviz's orange boxes).

    ``of`` is the id of the node whose output it is (a leaf's
    ``AccumulateGrad``, an input's node, or the node itself for ``result``) and
    ``slot`` which of that node's outputs; ``of is None`` marks a constant: a
    tensor that needs no gradient.
    """

    name: str
    shape: tuple
    dtype: str
    value: torch.Tensor | None = None   # kept for constants (another node's output is that node's value)
    of: int | None = None
    slot: int = 0


class LiveGraph:
    """A captured graph's autograd nodes, kept alive to compute each node's details once, when asked.

    ``saved(i)``: what node ``i`` saved (:class:`Saved` tensors and its
    attributes); ``edges(i)``: what it sent to each input and where the
    engine summed a broadcast (``reduced``); ``local(i)``: its local
    Jacobians. The graph's nodes may be freed or changed by their owner
    (a ``backward()`` without ``retain_graph``, an optimiser step): a detail
    that can no longer be read raises :class:`GraphGone`, never a wrong
    number.
    """

    def __init__(self, found: Walk, backward: Backward, consumers: list[list[int]], roots: list[tuple[int, int]]):
        self.order, self.ids, self.ops, self.nexts = found.order, found.ids, found.ops, found.nexts
        self.consumers = consumers
        self.roots = roots   # (node id, slot) each output's gradient enters the graph at
        self.metadata = found.metadata
        self.received = backward.received
        self.sent = backward.sent
        self.handles: list = []
        self._edges: dict[int, tuple] = {}
        self._raw: dict[int, tuple | None] = {}
        self._bytes: list[int] | None = None
        # Each leaf's version when captured: its value is copied when first read, if unchanged by then.
        self.versions = {i: fn.variable._version for i, (fn, op) in enumerate(zip(self.order, self.ops))
                         if op == _LEAF}

    def release(self) -> None:
        """Let go of the autograd graph (every detail has been read, or none will be)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self.order = self.ids = self.nexts = self.metadata = self.received = self.sent = self.consumers = None
        self._raw = {}
        self._bytes = None

    def saved_bytes(self, node_id: int) -> int:
        """Bytes of storage node ``node_id`` saved for backward: every storage counted once in the graph,
        at the first node (in id order) that saved it, and never a leaf's own (a parameter exists anyway).
        Counted for the whole graph the first time one node is asked."""
        if self._bytes is None:
            self._bytes = self._count_saved_bytes()
        return self._bytes[node_id]

    def _count_saved_bytes(self) -> list[int]:
        seen = {_storage_key(fn.variable) for fn, op in zip(self.order, self.ops) if op == _LEAF}
        counts = []
        for node_id in range(len(self.order)):
            total = 0
            for _, value, _ in self._fields(node_id):
                for t in value if isinstance(value, (tuple, list)) else (value,):
                    if torch.is_tensor(t) and (key := _storage_key(t)) not in seen:
                        seen.add(key)
                        total += key[2]
            counts.append(total)
        return counts

    def value(self, node_id: int) -> torch.Tensor | None:
        """Node ``node_id``'s output, where a node saved it for backward (a copy: the first found, in id
        order, among its consumers and itself); None for a node with several outputs."""
        fn = self.order[node_id]
        if self.ops[node_id] == _LEAF:   # a leaf past the capture's copy budget (graph.LEAF_COPY_BUDGET)
            if fn.variable._version != self.versions[node_id]:   # PyTorch's count of in-place changes
                raise GraphGone(f"node {node_id} (a leaf) was changed in place after the capture (an optimiser "
                                "step?) before its value was read. Capture with lazy=False, or call "
                                "Graph.complete() before changing it.")
            return snapshot(fn.variable)
        if len(self.metadata[node_id]) > 1:
            return None
        for k in sorted({*self.consumers[node_id], node_id}):
            for _, value, _ in self._fields(k):
                for t in value if isinstance(value, (tuple, list)) else (value,):
                    if torch.is_tensor(t) and t.grad_fn is fn and t.output_nr == 0:
                        return snapshot(t)
        return None

    def saved(self, node_id: int) -> tuple[list[Saved], dict[str, str]]:
        """The tensors and attributes node ``node_id`` saved for its backward."""
        saved, attrs = [], {}
        for name, value, _ in self._fields(node_id):
            tensors = [(name, value)] if torch.is_tensor(value) else \
                [(f"{name}[{i}]", t) for i, t in enumerate(value) if torch.is_tensor(t)] \
                if isinstance(value, (tuple, list)) else []
            if torch.is_tensor(value):
                attrs[name] = "[saved tensor]"
            elif tensors:
                attrs[name] = "[saved tensors]"
            else:
                attrs[name] = str(value)[:ATTR_CHARS]
            for label, t in tensors:
                of, slot = None, 0
                if t.requires_grad:
                    with contextlib.suppress(RuntimeError):
                        edge = get_gradient_edge(t)
                        of, slot = self.ids.get(edge.node), edge.output_nr
                # A constant's value is shown with it; another node's output is shown at that node.
                keep = of is None and t.numel() <= SAVED_VALUE_MAX
                saved.append(Saved(name=label, shape=tuple(t.shape), dtype=dtype_name(t.dtype),
                                   value=snapshot(t) if keep else None, of=of, slot=slot))
        return saved, attrs

    @torch.no_grad()
    def edges(self, node_id: int) -> tuple[list, list]:
        """``(sends, reduced)`` of node ``node_id``: what it sent to each input (what its backward returned,
        after the engine's broadcast sums), and ``(shape returned, shape passed on)`` where the engine summed."""
        if node_id not in self._edges:
            self._edges[node_id] = self._sends(node_id)
        return self._edges[node_id]

    def _sends(self, node_id: int) -> tuple[list, list]:
        received = self.received[node_id]
        if received is None or self.ops[node_id] == _LEAF:
            return [], []
        if node_id in self.sent:   # no plain call: recorded by a hook
            sends = list(self.sent[node_id])
            return sends, [None] * len(sends)
        raw = self._call(node_id, received)
        sends = []
        for i, (nxt, slot) in enumerate(self.nexts[node_id]):
            target = None if nxt is None else self.ids[nxt]
            if target is not None and self.received[target] is not None and self._edges_into(target, slot) == 1:
                sends.append(self.received[target][slot])   # the only edge in: the tensor the engine moved on
            elif raw is None or i >= len(raw):
                sends.append(None)
            elif target is None:
                sends.append(None if raw[i] is None else raw[i].detach().cpu())
            else:
                sends.append(_as_passed_on(raw[i], self.metadata[target][slot]))
        reduced = [None] * len(sends)
        for i, (g, s) in enumerate(zip(raw or (), sends)):
            if g is not None and s is not None and g.shape != s.shape:
                reduced[i] = (tuple(g.shape), tuple(s.shape))
        return sends, reduced

    @torch.no_grad()
    def local(self, node_id: int) -> list:
        """Node ``node_id``'s local Jacobian for each input, ``(y.numel(), x_i.numel())``: its backward applied
        to each one-hot output gradient, summed where the engine summed. Empty where the node is not
        within ``LOCAL_JACOBIAN_MAX`` or ``JACOBIAN_CALL_BUDGET`` (decided from shapes, nearest the
        outputs first, so a node has the same answer however and whenever it is asked)."""
        if node_id not in self._eligible:
            return []
        sends, _ = self.edges(node_id)
        rows = _one_hot_calls(self.order[node_id], self._on_device(node_id, self.received[node_id])[0])
        if rows is None:
            self._check_alive(node_id)
            return []
        widths = [0 if s is None else s.numel() for s in sends]
        return [None if any(r[i] is None for r in rows) or i >= len(widths) or not widths[i] else
                torch.stack([r[i].sum_to_size(sends[i].shape).reshape(-1).cpu() for r in rows])
                for i in range(len(rows[0]))]

    @functools.cached_property
    def _eligible(self) -> set[int]:
        """The nodes whose local Jacobian is computed: small enough, within the call budget, in id order."""
        budget, chosen = JACOBIAN_CALL_BUDGET, set()
        for node_id, received in enumerate(self.received):
            if budget == 0:
                break
            if self.ops[node_id] == _LEAF or received is None or len(received) != 1 or received[0] is None:
                continue
            m = received[0].numel()
            if 0 < m <= budget and 0 < m * max(self._widths(node_id), default=0) <= LOCAL_JACOBIAN_MAX:
                budget -= m
                chosen.add(node_id)
        return chosen

    def _widths(self, node_id: int) -> list[int]:
        """The size of what the node sends each input, from the inputs' shapes (what the engine checks)."""
        if node_id in self.sent:
            return [0 if s is None else s.numel() for s in self.sent[node_id]]
        return [0 if nxt is None else math.prod(self.metadata[self.ids[nxt]][slot].shape)
                for nxt, slot in self.nexts[node_id]]

    def _edges_into(self, node_id: int, slot: int) -> int:
        """How many edges lead into output ``slot`` of node ``node_id`` (an output's v is one)."""
        fn = self.order[node_id]
        return self.roots.count((node_id, slot)) + sum(
            1 for c in set(self.consumers[node_id]) for nxt, nr in self.nexts[c] if nxt is fn and nr == slot)

    def _call(self, node_id: int, grads: tuple) -> tuple | None:
        """The node's own backward applied to ``grads``, before the engine's broadcast sums (kept: the
        local Jacobian's shapes come from the same call)."""
        if node_id not in self._raw:
            raw = _call(self.order[node_id], self._on_device(node_id, grads))
            if raw is None:
                self._check_alive(node_id)
            self._raw[node_id] = raw
        return self._raw[node_id]

    def _on_device(self, node_id: int, grads: tuple) -> tuple:
        """The gradients a node received, back on its device (they are kept on the CPU)."""
        devices = [m.device for m in self.metadata[node_id]]
        if len(devices) != len(grads) or all(d.type == "cpu" for d in devices):
            return grads
        return tuple(g if g is None else g.to(d) for g, d in zip(grads, devices))

    def _check_alive(self, node_id: int) -> None:
        """Raise :class:`GraphGone` if the node's saved tensors cannot be read any more."""
        self._fields(node_id)

    def _fields(self, node_id: int) -> list[tuple[str, object, None]]:
        """What node ``node_id`` saved, all of it readable: the backward pass of the capture read it, so a
        field that cannot be read now was freed or changed in place since."""
        fields = _read_fields(self.order[node_id])
        errors = [(name, err) for name, _, err in fields if err is not None]
        if errors:
            raise GraphGone(f"node {node_id} ({self.ops[node_id]}): the autograd graph behind this capture was "
                            "freed or changed in place after it (a backward() without retain_graph=True, an "
                            "optimiser step) before this detail was read. Capture with lazy=False, or call "
                            f"Graph.complete() before changing it. PyTorch said: {first_line(errors[0][1])}")
        return fields


def _storage_key(t: torch.Tensor) -> tuple:
    """What identifies a tensor's memory: its storage's device, address and size (views share it)."""
    storage = t.untyped_storage()
    return (t.device, storage.data_ptr(), storage.nbytes())


def _as_passed_on(grad: torch.Tensor | None, meta) -> torch.Tensor | None:
    """What the engine passes on of a gradient a node's backward returned (``validate_outputs``): summed
    to the input's shape where it was broadcast, in the input's dtype, on the CPU here."""
    if grad is None:
        return None
    if tuple(grad.shape) != tuple(meta.shape):
        grad = grad.sum_to_size(tuple(meta.shape))
    if grad.dtype != meta.dtype:
        grad = grad.to(meta.dtype)
    return grad.detach().cpu()


def _call(fn, grads: tuple) -> tuple | None:
    """The node's own backward applied to ``grads``, before the engine's broadcast sums (called with
    gradients off: :meth:`LiveGraph.edges` and :meth:`LiveGraph.local` turn them off once)."""
    try:
        out = fn(*grads)
    except (RuntimeError, TypeError):   # a node whose buffers are gone or that takes no plain call
        return None
    return out if isinstance(out, tuple) else (out,)


def _one_hot_calls(fn, template: torch.Tensor) -> list[tuple] | None:
    """The node's backward on each one-hot gradient: row ``k`` of every local Jacobian."""
    rows = []
    basis = torch.zeros(template.numel(), dtype=template.dtype, device=template.device)
    for k in range(template.numel()):
        basis.zero_()
        basis[k] = 1
        out = _call(fn, (basis.reshape(template.shape).clone(),))
        if out is None:
            return None
        rows.append(out)
    return rows


def dtype_name(t: torch.dtype) -> str:
    """A dtype as the graph writes it: ``float32``."""
    return str(t).removeprefix("torch.")


__all__ = ["ATTR_CHARS", "GRADIENT_BUDGET", "GraphGone", "JACOBIAN_CALL_BUDGET", "LOCAL_JACOBIAN_MAX", "LiveGraph",
           "MAX_LEVELS", "SAVED_VALUE_MAX", "Saved", "Walk", "Backward", "dtype_name", "on_cpu", "output_metadata",
           "run_backward", "snapshot", "walk"]
