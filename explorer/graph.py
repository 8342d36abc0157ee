"""The autograd graph PyTorch built, captured as plain data.

:func:`capture` runs the backward pass of some outputs once and records the
graph in two layers (:mod:`explorer.live` reads both from the live graph):

1. at once, for every node: the structure (inputs, consumers, the engine's
   order), names, values, and every gradient received; enough to draw any
   view, colour every node by its gradient and add up the chain rule's sums
   of what was received;
2. on first use, per node (``Node.sends``, ``reduced``, ``local``, ``saved``,
   ``attrs``, and ``value`` where only a saved tensor knows it): what it
   sent to each input, where the engine summed a broadcast, its local
   Jacobian, what it saved; and the chain-rule text of its step
   (:meth:`Graph.step`). Only the nodes drawn, selected or asked for pay
   for them.

While details are pending the :class:`Graph` keeps the autograd graph
alive. :meth:`Graph.complete` computes what is left and lets go of it;
``capture(lazy=False)`` does so before returning; pickling a graph (or a
node) completes it first, so a pickled graph is plain data with every
detail, and an unpickled one needs nothing live. Completing rather than
dropping the details is the one choice that keeps a node's answer the same
however it is reached; it costs time in proportion to the nodes, paid only by
whoever pickles a big graph (the app's sandbox worker keeps its explorations
and sends back views, never a graph). A later ``backward()`` through the
outputs would free what the details are read from, so a hook on each output
completes the graph first; any other change to the graph after capture (an
optimiser step) makes a pending detail raise :class:`~explorer.live.GraphGone`
rather than show a wrong number. Details, lazy or not, are the numbers an
eager capture computes.

This module is the data layer and draws nothing: the numbers and the chain
rule of a step are written by :mod:`explorer.format`, the node table by
:mod:`explorer.table`, the drawings by :mod:`explorer.dot` (which reads a
capture, and while it is live, :meth:`Graph.live_tensors` for torchviz's own
drawing). :func:`explorer.trace_model` adds, for a model, the module
each node was made in (``Node.module``, ``Graph.modules``).

The chain rule, at every node ``n`` with output ``y`` and inputs ``x_i``::

    received(n)     = Σ over consumers c of sent(c → n)          (the engine's input buffer)
    sent(n → x_i)   = sum_to_size(received(n) · ∂y/∂x_i)          (the node's backward: a VJP,
                                                                   then the engine's broadcast sum)

>>> import torch
>>> from explorer.graph import capture
>>> x = torch.tensor([4.0], requires_grad=True)
>>> g = capture([x**3 + 2*x**2 + 8*x], {"x": x})
>>> g.grads["x"]
tensor([72.])
>>> [n.op for n in g.nodes][:2]   # the engine's order: the last operation made runs first
['AddBackward0', 'MulBackward0']
"""
from __future__ import annotations

import contextlib
import functools
import gc
import math
import re
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

import torch
from torch.autograd.graph import get_gradient_edge
from torch.overrides import TorchFunctionMode

from explorer import live
from explorer.format import chain_rule, numbers, to_jsonable
from explorer.live import Saved, dtype_name

# A node's details, computed together on first use: the attribute -> what computes it.
LEAF_COPY_BUDGET = 4_000_000   # elements of leaves' values copied at capture; past it, copied when first read
_REDUCE_ALONE = 16_384   # elements from which a gradient's largest entry is found on its own, not concatenated
_DETAILS = {"value": "value", "sends": "edges", "reduced": "edges", "saved": "saved", "attrs": "saved",
            "local": "local", "saved_bytes": "bytes"}


@dataclass
class Node:
    """One node of the backward graph, as the node table shows it.

    ``inputs[i]`` is the node that receives the gradient of the node's i-th
    input (``None``: a constant, nothing flows) and ``input_slots[i]`` which
    of that node's outputs it is. ``received`` holds the gradient of each of
    the node's outputs (the sum over its consumers); ``grad`` is that gradient
    for a node with one output (every node but ``unbind``, ``split``...).
    ``sends[i]`` is what the node sent to input ``i``, ``reduced[i]``
    ``(shape the node's backward returned, shape passed on)`` where the engine
    summed a broadcast, and ``local[i]`` the local Jacobian ``∂y/∂x_i``,
    shaped ``(y.numel(), x_i.numel())``, where small enough to compute.
    ``attrs`` are the node's saved non-tensor attributes (``exponent``,
    ``dim``...), ``saved`` its saved tensors. ``constants`` names the
    constant inputs (slots where ``inputs`` is ``None``) that the caller
    labelled: ``{1: "y.detach()"}``, where the gradient stops.

    ``saved_bytes`` is what the node's saved tensors hold in memory: each
    storage counted once in the graph, at the first node (in id order) that
    saved it, the leaves' own storages (a model's parameters) left out.
    ``module`` is the dotted path of the innermost module whose forward made
    the node (``transformer.h.3.attn.c_attn``; ``""`` outside any), set by
    :func:`explorer.trace_model`.

    ``sends``, ``reduced``, ``local``, ``saved``, ``attrs`` and
    ``saved_bytes``, and ``value`` where only a saved tensor knows it, are the
    node's details: computed when first read, from the live graph of its
    capture.
    """

    id: int
    op: str
    kind: str                      # "leaf", "output" or "intermediate"
    label: str = ""
    inputs: list[int | None] = field(default_factory=list)
    input_slots: list[int | None] = field(default_factory=list)
    consumers: list[int] = field(default_factory=list)
    shape: tuple | None = None
    dtype: str = ""
    value: torch.Tensor | None = field(init=False)
    grad: torch.Tensor | None = None
    received: list[torch.Tensor | None] = field(default_factory=list)
    sends: list[torch.Tensor | None] = field(init=False)
    reduced: list[tuple | None] = field(init=False)
    local: list[torch.Tensor | None] = field(init=False)
    saved: list[Saved] = field(init=False)
    attrs: dict[str, str] = field(init=False)
    constants: dict[int, str] = field(default_factory=dict)
    step: int | None = None        # position in the engine's execution order
    module: str = ""               # the innermost module whose forward made it (explorer.trace_model)
    saved_bytes: int = field(init=False)   # bytes of storage it saved for backward, counted once in the graph

    @property
    def name(self) -> str:
        """The user's label, else the operation and the node's id (``Mul#3``)."""
        return self.label or f"{short_op(self.op)}#{self.id}"

    def __getattr__(self, name: str):
        # Python asks here only for an attribute not set yet: a detail, read from the live graph
        # (none without one: a node made by hand has no details).
        group = _DETAILS.get(name)
        if group is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        found = self.__dict__.get("_live")
        if group == "value":
            self.value = found.value(self.id) if found else None
        elif group == "edges":
            sends, reduced = found.edges(self.id) if found else ([], [])
            self.sends, self.reduced = list(sends), list(reduced)
        elif group == "saved":
            self.saved, self.attrs = found.saved(self.id) if found else ([], {})
        elif group == "bytes":
            self.saved_bytes = found.saved_bytes(self.id) if found else 0
        else:
            self.local = found.local(self.id) if found else []
        return self.__dict__[name]

    @property
    def is_live(self) -> bool:
        """Whether details of the node are still to be read from the live graph of its capture."""
        return "_live" in self.__dict__

    def complete(self) -> None:
        """Compute the node's details now (each is computed once)."""
        for name in ("value", "sends", "saved", "local", "saved_bytes"):   # one attribute of each group
            getattr(self, name)

    def __getstate__(self) -> dict:
        self.complete()
        return {k: v for k, v in self.__dict__.items() if k != "_live"}


@dataclass
class Step:
    """One step of the backward pass: node ``node`` runs and sends gradients to its inputs.

    ``text`` is the chain rule of the step written out, one line per input:
    ``∂L/∂w3 = ∂L/∂w4 · ∂w4/∂w3 = 1 · 2 = 2`` (``+=`` where the input has
    several consumers and this is one term of its sum).
    """

    node: int
    received: torch.Tensor | None
    sends: list[torch.Tensor | None]
    text: str
    module: str = ""   # the module whose forward made the node (a traced model's)


@dataclass
class Graph:
    """A captured autograd graph: nodes in engine order, every leaf's gradient, the steps, its drawings.

    ``outputs`` are the ids of the outputs' nodes; ``leaves`` maps each leaf's
    name to its node id; ``derivative`` (with ``create_graph=True``) is the
    captured graph that computed the gradients. ``gradients_kept`` is None
    when every node's gradients were kept, else how many nodes (nearest the
    outputs) kept theirs before ``GRADIENT_BUDGET`` ran out; the leaves'
    gradients are always kept.
    """

    nodes: list[Node]
    grads: dict[str, torch.Tensor]
    outputs: list[int]
    leaves: dict[str, int] = field(default_factory=dict)
    gradients_kept: int | None = None   # where the memory budget ran out: the nodes whose gradients were kept
    torchviz_dot: dict[tuple[bool, bool], str] = field(default_factory=dict)   # torchviz's own, once drawn live
    derivative: "Graph | None" = None
    modules: dict = field(default_factory=dict)   # path -> explorer.modules.Module, for a traced model

    @functools.cached_property
    def by_id(self) -> dict[int, Node]:
        """The nodes by id."""
        return {n.id: n for n in self.nodes}

    @functools.cached_property
    def steps(self) -> list[Step]:
        """The engine's steps in order, each with its chain rule written out (leaves run no step)."""
        ran = sorted((n for n in self.nodes if n.step is not None and n.kind != "leaf"), key=lambda n: n.step)
        return [self.step(n.id) for n in ran]

    def step(self, node_id: int) -> Step | None:
        """The step node ``node_id`` ran in backward, its chain rule written out; None for a leaf or a
        node that did not run.

        >>> x = torch.tensor([3.0], requires_grad=True)
        >>> g = capture(2 * x, {"x": x})
        >>> g.step(g.outputs[0]).text
        '∂L/∂x = ∂L/∂output · ∂output/∂x = 1 · 2 = 2'
        """
        node = self.node(node_id)
        if node.step is None or node.kind == "leaf":
            return None
        return Step(node=node.id, received=node.grad, sends=node.sends, text=chain_rule(node, self.by_id),
                    module=node.module)

    @functools.cached_property
    def grad_sizes(self) -> dict[int, float | None]:
        """The largest |entry| of the gradient each node received (None where it received none)."""
        return self.largest_gradients(n.id for n in self.nodes)

    def largest_gradients(self, node_ids: Iterable[int]) -> dict[int, float | None]:
        """The largest |entry| of the gradient each of these nodes received (None where it received none):
        a view that colours a few nodes of a big graph reads only their gradients.

        >>> x = torch.tensor([1.0, -3.0], requires_grad=True)
        >>> g = capture((x * x).sum(), {"x": x})
        >>> g.largest_gradients([g.leaves["x"]])
        {2: 6.0}
        """
        index: dict[int, int] = {}   # a tensor passed on unchanged (sums, views) is one gradient of several nodes
        tensors: list[torch.Tensor] = []

        def size_at(g: torch.Tensor) -> int:   # where g's size will be: -1 for an empty tensor (size 0)
            k = index.get(id(g))
            if k is None:
                if not g.numel():
                    return -1
                k = index[id(g)] = len(tensors)
                tensors.append(g)
            return k

        where: dict[int, int | list | None] = {}   # per node: an index, the indices of each output's, or None
        by_id = self.by_id
        for node_id in node_ids:
            n = by_id[node_id]
            if n.grad is not None:
                where[node_id] = size_at(n.grad)
            else:
                where[node_id] = [size_at(g) for g in n.received if g is not None] or None
        largest = _largest_magnitudes(tensors) + [0.0]
        return {i: w if w is None else largest[w] if isinstance(w, int) else max(largest[k] for k in w)
                for i, w in where.items()}

    def node(self, node_id: int) -> Node:
        """The node with this id (``ValueError`` if there is none)."""
        try:
            return self.by_id[node_id]
        except (KeyError, TypeError):
            raise ValueError(f"no node with id {node_id!r}; ids run from 0 to {len(self.nodes) - 1}") from None

    def complete(self) -> "Graph":
        """Compute every node's pending details now, and let go of
        the autograd graph they are read from.

        >>> x = torch.tensor([2.0], requires_grad=True)
        >>> g = capture(x.exp(), {"x": x}).complete()
        >>> g.nodes[0].local
        [tensor([[7.3891]])]
        """
        with collector_paused(), torch.no_grad():
            for node in self.nodes:
                node.complete()
                node.__dict__.pop("_live", None)
        if self.derivative is not None:
            self.derivative.complete()
        found = self.__dict__.pop("_live", None)
        self.__dict__.pop("_tensors", None)
        if found is not None:
            found.release()
        return self

    def live_tensors(self) -> tuple[list[torch.Tensor], dict[str, torch.Tensor], int] | None:
        """``(outputs, named leaves, depth)`` of the capture while its autograd graph is alive (what
        torchviz walks to draw it); None once the graph is complete.

        >>> x = torch.tensor([2.0], requires_grad=True)
        >>> g = capture(x * x, {"x": x})
        >>> outputs, leaves, depth = g.live_tensors()
        >>> sorted(leaves), depth, g.complete().live_tensors()
        (['x'], 1, None)
        """
        return self.__dict__.get("_tensors")

    def live_functions(self) -> list:
        """PyTorch's autograd node behind each node id (``graph.live_functions()[node.id]``), while the
        capture is live; ``ValueError`` once it is complete."""
        found = self.__dict__.get("_live")
        if found is None or found.order is None:
            raise ValueError("the capture is complete: its autograd nodes were let go")
        return found.order

    @property
    def saved_bytes(self) -> int:
        """Bytes the graph saved for backward: the sum of :attr:`Node.saved_bytes` (each storage once,
        the parameters' own storages left out)."""
        return sum(n.saved_bytes for n in self.nodes)

    def __getstate__(self) -> dict:
        self.complete()
        return dict(self.__dict__)

    def sum_mismatches(self, *, rtol: float = 1e-5, atol: float = 1e-6) -> list[str]:
        """Where the chain rule's sum fails: what a node received, for each of its outputs, must be the sum of
        what its consumers sent into that output, in the same shape (the engine sums a broadcast before it
        sends). One line per failure; empty when the numbers add up.

        >>> x = torch.tensor([4.0], requires_grad=True)
        >>> g = capture(x**3 + 2*x**2 + 8*x, {"x": x})
        >>> g.sum_mismatches()
        []
        >>> g.node(g.leaves["x"]).received = [torch.tensor([70.0])]
        >>> g.sum_mismatches()
        ['x received 70, its consumers sent 72 in all']
        """
        problems = []
        for node in self.nodes:
            if not node.consumers or not node.received:
                continue
            for slot, got in enumerate(node.received):
                total, terms = None, 0
                for c in set(node.consumers):  # a consumer using the node twice sends along both edges
                    consumer = self.by_id[c]
                    for k, (target, into) in enumerate(zip(consumer.inputs, consumer.input_slots)):
                        send = consumer.sends[k] if k < len(consumer.sends) else None
                        if target == node.id and into == slot and send is not None:
                            total = send if total is None else total + send
                            terms += 1
                where = node.name if len(node.received) == 1 else f"{node.name} (output {slot})"
                if got is None:
                    if total is not None and total.any():
                        problems.append(f"{where} received nothing, its consumers sent {numbers(total)} in all")
                elif not terms:
                    problems.append(f"{where} received {numbers(got)}, its consumers sent nothing")
                elif got.shape != total.shape or not torch.allclose(got, total, rtol=rtol, atol=atol,
                                                                    equal_nan=True):   # NaN sent, NaN received
                    problems.append(f"{where} received {numbers(got)}, its consumers sent {numbers(total)} in all")
        return problems

    def to_json(self) -> dict:
        """Nodes (engine order), steps, outputs and gradients as JSON-ready values (tensors as lists)."""
        return to_jsonable({
            "nodes": [{
                "id": n.id, "op": n.op, "kind": n.kind, "label": n.label, "name": n.name, "step": n.step,
                "inputs": n.inputs, "input_slots": n.input_slots, "consumers": n.consumers, "shape": n.shape,
                "dtype": n.dtype, "value": n.value, "grad": n.grad, "received": n.received, "sends": n.sends,
                "reduced": n.reduced, "local": n.local, "attrs": n.attrs, "constants": n.constants,
                "saved": [{"name": s.name, "shape": s.shape, "of": s.of} for s in n.saved],
            } for n in self.nodes],
            "steps": [{"node": s.node, "text": s.text} for s in self.steps],
            "outputs": self.outputs,
            "leaves": self.leaves,
            "grads": self.grads,
        })


def short_op(op: str) -> str:
    """An operation's name without PyTorch's ``Backward0`` suffix.

    >>> short_op("PowBackward0"), short_op("AccumulateGrad")
    ('Pow', 'AccumulateGrad')
    """
    return re.sub(r"Backward\d*$", "", op) or op


class Recorded(dict):
    """What :func:`recording` saw: the tensor each autograd node produced (the dict itself), and in
    ``inputs`` the tensors each node was called with, one per input of the node, where they line up."""

    def __init__(self):
        super().__init__()
        self.inputs: dict = {}


class _Recorder(TorchFunctionMode):
    """Remembers the tensor each autograd node produced during a forward pass, and what went in."""

    def __init__(self, values: Recorded):
        super().__init__()
        self.values = values

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for item in (result if isinstance(result, (tuple, list)) else (result,)):
            # The first output of a node with several (unbind, split) stands for the node.
            if isinstance(item, torch.Tensor) and item.grad_fn is not None and item.output_nr == 0:
                self.values.setdefault(item.grad_fn, item)
                self._inputs(item.grad_fn, [*args, *(kwargs or {}).values()])
        return result

    def _inputs(self, fn, args: list) -> None:
        # A node's inputs are the call's tensors in order (stack([a, b]) too), or its floating ones
        # (where(c, a, b)); where neither lines up with the node's inputs, nothing is recorded.
        tensors = [t for a in args for t in (a if isinstance(a, (list, tuple)) else (a,)) if torch.is_tensor(t)]
        for candidate in (tensors, [t for t in tensors if t.is_floating_point()]):
            if len(candidate) == len(fn.next_functions):
                self.values.inputs.setdefault(fn, candidate)
                return


@contextlib.contextmanager
def recording() -> Iterator[Recorded]:
    """Record, during a forward pass, the tensor each autograd node produced (``values=`` of :func:`capture`).

    Without it, :func:`capture` knows the values of the outputs, the leaves,
    the labelled tensors and what the nodes saved for backward; with it, it
    also names the labelled constants where they enter the graph.

    >>> x = torch.tensor([2.0], requires_grad=True)
    >>> with recording() as values:
    ...     y = (x * 3).sin()
    >>> sorted(type(fn).__name__ for fn in values)
    ['MulBackward0', 'SinBackward0']
    """
    values = Recorded()
    with _Recorder(values):
        yield values


def longest_path(nodes: Sequence[Node]) -> int:
    """The most edges on a path from an output down to a leaf (the depth torchviz recurses to)."""
    depth = {n.id: 0 for n in nodes}
    for node in sorted(nodes, key=lambda n: n.id):   # ids are a topological order, consumers first
        for i in node.inputs:
            if i is not None:
                depth[i] = max(depth[i], depth[node.id] + 1)
    return max(depth.values(), default=0)


def _largest_magnitudes(tensors: list[torch.Tensor]) -> list[float]:
    """``max |t|`` of each tensor (none empty), NaN where a tensor holds one. A big tensor is reduced where
    it lies (``vector_norm(ord=inf)`` reads it once and copies nothing); small ones by one reduction over
    all the tensors of a shape (concatenated, one row each), not twenty thousand small ones. Concatenating
    promotes dtypes exactly, so the maxima are the same."""
    out = [0.0] * len(tensors)
    groups: dict = {}
    with torch.no_grad():
        for k, t in enumerate(tensors):
            if t.numel() >= _REDUCE_ALONE and t.is_floating_point():
                out[k] = torch.linalg.vector_norm(t, ord=math.inf).item()
            else:
                groups.setdefault(t.shape, []).append(k)
        for shape, members in groups.items():
            group = [tensors[k] for k in members]
            try:
                rows = torch.cat(group) if shape else torch.stack(group)   # numbers cannot be concatenated
                largest = rows.reshape(len(group), -1).abs().amax(dim=1)
            except RuntimeError:   # tensors on several devices
                largest = torch.stack([t.abs().max().cpu() for t in group])
            for k, v in zip(members, largest.tolist()):
                out[k] = v
    return out


def capture(outputs: torch.Tensor | Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor], *,
            labels: Mapping[str, torch.Tensor] | None = None,
            grad_outputs: Sequence[torch.Tensor] | None = None, create_graph: bool = False,
            values: Mapping | None = None, lazy: bool = True) -> Graph:
    """Run backward once through the graph of ``outputs`` and record everything a learner needs.

    ``leaves`` names the tensors to differentiate with respect to (every leaf
    found in the graph gets a gradient too; unnamed ones are called ``leaf0``,
    ``leaf1``...); ``labels`` names intermediate tensors (the user's ``w1``,
    ``w2``...) and, with ``values`` from :func:`recording`, the constants
    that enter the graph without a gradient (``y.detach()``:
    ``Node.constants``); ``grad_outputs`` is the ``v`` of ``backward(v)``,
    one per output (ones by default); ``values`` maps nodes to the tensors
    they produced (from :func:`recording`). It runs ``torch.autograd.grad(outputs,
    leaves, grad_outputs, retain_graph=True)``, so no ``.grad`` is touched.
    With ``create_graph=True`` the gradients are differentiable and
    ``Graph.derivative`` is the captured graph that computed them. Nodes'
    details are computed when first read; ``lazy=False`` computes them all
    before returning (the module's notes say when that matters). A graph
    more than :data:`explorer.live.MAX_LEVELS` operations deep is refused
    with a ``ValueError``: PyTorch would crash freeing it.

    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> g = capture(x.sin().sum(), {"x": x}, create_graph=True)
    >>> [n.op for n in g.derivative.nodes if n.kind != "leaf"]
    ['MulBackward0', 'CosBackward0']
    """
    with collector_paused():
        return _capture(outputs, leaves, labels, grad_outputs, create_graph, values, lazy)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a graph's tens of thousands of small objects are made.

    Each collection walks the objects of its generation, and the last one
    every object the process holds (torch's and sympy's among them): making a
    20,000-node graph's nodes and lists set off enough of them to double the
    time of ``capture`` and ``to_dot``. What is made here is a graph that
    lives on, without cycles, so it is moved straight to the oldest
    generation (``gc.freeze`` then ``gc.unfreeze``: two list splices) rather
    than walked by two young collections on its way there; never when the
    process has frozen objects of its own, which that would thaw. Another
    thread resuming the collector early only costs that time back.

    Only for what a big graph makes: ``gc.get_freeze_count`` walks every
    frozen object (a sandbox worker froze all its imports), and
    is asked once a process has been seen to freeze.
    """
    global _process_froze
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not _process_froze and gc.get_count()[0] > _MANY_OBJECTS:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                else:
                    _process_froze = True  # a process never thaws what it froze: no need to count again
            gc.enable()


_process_froze = False
_MANY_OBJECTS = 20_000  # made since the last young collection: a graph of some thousands of nodes


def _capture(outputs, leaves, labels, grad_outputs, create_graph, values, lazy) -> Graph:
    outputs, grad_outputs = _checked(outputs, leaves, grad_outputs)
    root_edges = [get_gradient_edge(o) if o.requires_grad else None for o in outputs]
    found = live.walk([e.node for e in root_edges if e is not None])
    ids = found.ids
    named = {**(labels or {}), **leaves}
    names, produced = _names(outputs, root_edges, ids, named, values or {})
    targets = _targets(found, leaves, names, produced)
    metadata = found.metadata

    # The engine gets its own copy of v: nothing it hands back may share memory with the caller's tensors. The
    # 1 of a scalar output it makes itself: an explicit one costs torch the import of its symbolic-shape
    # machinery the first time.
    pairs = [(o, None if _is_one(o, g) else g.clone()) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    ran = live.run_backward(found, [o for o, _ in pairs], [g for _, g in pairs], targets, create_graph)
    output_ids = {ids[e.node] for e in root_edges if e is not None}
    nodes = _nodes(found, names, produced, output_ids, ran)
    _name_constants(found.order, nodes, named, values)
    grad_by_name: dict[str, torch.Tensor] = {}
    leaf_ids: dict[str, int] = {}
    # The engine's gradients are the capture's own (nothing else holds them): kept, not copied; a model's
    # parameters' gradients are as big as the model.
    for (name, _, node_id), g, kept in zip(targets, ran.grads, live.on_cpu(ran.grads)):
        grad_by_name[name] = g
        if node_id is not None:
            leaf_ids[name] = node_id
            target = nodes[node_id]
            if target.kind == "leaf" or (target.grad is None and len(metadata[node_id]) <= 1):
                target.grad = kept
                target.received = [target.grad]
    _number_steps(nodes, ran.executed)

    derivative = None
    if create_graph:
        differentiable = {f"∂L/∂{name}": g for name, g in grad_by_name.items() if g.grad_fn is not None}
        if differentiable:
            derivative = capture(list(differentiable.values()), leaves, labels=differentiable, lazy=lazy)
    names_first = [*(name for name in leaves if name in grad_by_name), *grad_by_name]   # the caller's order
    names_first = list(dict.fromkeys(names_first))
    graph = Graph(nodes=sorted(nodes, key=lambda n: (n.step is None, n.step if n.step is not None else n.id)),
                  grads=dict(zip(names_first, live.on_cpu([grad_by_name[k] for k in names_first]))),
                  outputs=list(dict.fromkeys(ids[e.node] for e in root_edges if e is not None)),
                  leaves=leaf_ids, gradients_kept=ran.kept, derivative=derivative)
    details = live.LiveGraph(found, ran, [n.consumers for n in nodes],
                             roots=[(ids[e.node], e.output_nr) for e in root_edges if e is not None])
    graph._live = details
    graph._tensors = (outputs, {name: t for name, t, _ in targets}, found.levels)
    for node in nodes:
        node.__dict__["_live"] = details
    if not lazy:
        return graph.complete()
    _complete_before_backward(graph, [e.node for e in root_edges if e is not None and e.node in ids])
    return graph


def _complete_before_backward(graph: Graph, roots: list) -> None:
    """A hook on each output's node: a later ``backward()`` through the outputs frees the buffers the
    details are read from, so the graph completes itself first."""
    ref = weakref.ref(graph)

    def complete(_grads):
        if (alive := ref()) is not None:
            alive.complete()

    graph._live.handles = [fn.register_prehook(complete) for fn in dict.fromkeys(roots)
                           if type(fn).__name__ != "AccumulateGrad"]


def _is_one(output: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether ``v`` is the 1 the engine would make for a scalar ``output`` by itself."""
    return output.numel() == 1 and v.dtype == output.dtype and v.device == output.device and bool(v.item() == 1)


def _checked(outputs, leaves, grad_outputs) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The outputs and their ``v`` as lists, after checking what :func:`capture` was given."""
    outputs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
    if not outputs or not all(isinstance(o, torch.Tensor) for o in outputs):
        raise ValueError("outputs must be a tensor or a non-empty sequence of tensors")
    if not isinstance(leaves, Mapping) or not all(isinstance(t, torch.Tensor) for t in leaves.values()):
        raise ValueError("leaves must map names to tensors")
    if grad_outputs is None:
        grad_outputs = [torch.ones_like(o) for o in outputs]
    grad_outputs = [grad_outputs] if isinstance(grad_outputs, torch.Tensor) else list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"give one grad_output for each of the {len(outputs)} outputs, not {len(grad_outputs)}")
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(g, torch.Tensor) or g.shape != o.shape:
            raise ValueError(f"grad_outputs[{i}] must be a tensor of the output's shape {tuple(o.shape)}")
    if not any(o.requires_grad for o in outputs):
        raise ValueError("no output requires grad: there is no graph to capture")
    return outputs, grad_outputs


def _names(outputs, root_edges, ids: dict, named: Mapping, values: Mapping) -> tuple[dict, dict]:
    """Each node's name (outputs, then the user's names) and the tensor it produced, where known."""
    names: dict = {}
    produced: dict = {}
    for i, (out, edge) in enumerate(zip(outputs, root_edges)):
        if edge is not None:
            names.setdefault(edge.node, "output" if len(outputs) == 1 else f"output[{i}]")
            if edge.output_nr == 0:
                produced.setdefault(edge.node, out)
    for fn, tensor in values.items():
        if fn in ids:
            produced.setdefault(fn, tensor)
    for name, tensor in named.items():   # leaves are named where their AccumulateGrad is found
        if isinstance(tensor, torch.Tensor) and tensor.grad_fn is not None and tensor.requires_grad:
            edge = get_gradient_edge(tensor)
            if edge.node in ids:
                names[edge.node] = name
                if edge.output_nr == 0:
                    produced[edge.node] = tensor
    return names, produced


def _targets(found: live.Walk, leaves: Mapping, names: dict, produced: dict) -> list[tuple]:
    """``(name, tensor, node id or None)`` of what the gradients are taken with respect to: every leaf
    of the graph (named, or ``leaf0``, ``leaf1``...), then the named tensors found no other way."""
    leaf_name = {id(t): n for n, t in leaves.items()}
    targets = []
    unnamed = 0
    for node_id, (fn, op) in enumerate(zip(found.order, found.ops)):
        if op == "AccumulateGrad":
            variable = fn.variable
            name = leaf_name.get(id(variable))
            if name is None:
                name, unnamed = f"leaf{unnamed}", unnamed + 1
            names[fn] = name
            produced[fn] = variable
            targets.append((name, variable, node_id))
    found_ids = {id(t) for _, t, _ in targets}
    for name, tensor in leaves.items():  # named tensors inside the graph, or not in it at all
        if tensor.requires_grad and id(tensor) not in found_ids:
            targets.append((name, tensor, found.ids.get(get_gradient_edge(tensor).node)))
    return targets


def _nodes(found: live.Walk, names: dict, produced: dict, output_ids: set, ran: live.Backward) -> list[Node]:
    """Layer one: every node as plain data, with the gradients it received and its value where the caller's
    tensors give it (a copy: they may change); a value only a saved tensor knows is a detail."""
    ids = found.ids
    dtypes: dict = {}
    consumers: list[list[int]] = [[] for _ in found.order]
    nodes: list[Node] = []
    copied = 0   # elements of leaves copied so far
    for node_id, (fn, op, edges, meta, received) in enumerate(
            zip(found.order, found.ops, found.nexts, found.metadata, ran.received)):
        leaf = op == "AccumulateGrad"
        grads = [] if leaf or received is None else list(received)
        inputs = [None if n is None else ids[n] for n, _ in edges]
        for i in inputs:   # ids are a topological order: every consumer of a node is made before it
            if i is not None:
                consumers[i].append(node_id)
        first = meta[0] if meta else None
        node = Node(id=node_id, op=op, kind="leaf" if leaf else "output" if node_id in output_ids else "intermediate",
                    label=names.get(fn, ""), inputs=inputs, input_slots=[None if n is None else nr for n, nr in edges],
                    consumers=consumers[node_id], shape=tuple(first.shape) if len(meta) == 1 else None,
                    dtype="" if first is None else dtypes.get(first.dtype) or dtypes.setdefault(first.dtype,
                                                                                                dtype_name(first.dtype)),
                    received=grads, grad=grads[0] if len(grads) == 1 else None)
        if leaf and copied + produced[fn].numel() > LEAF_COPY_BUDGET:
            # A big model's parameters are the model: copied when first read (refused if changed by then).
            variable = produced[fn]
            node.shape, node.dtype = tuple(variable.shape), dtype_name(variable.dtype)
        elif fn in produced:
            copied += produced[fn].numel() if leaf else 0
            node.value = value = live.snapshot(produced[fn])
            node.shape, node.dtype = tuple(value.shape), dtype_name(value.dtype)
        nodes.append(node)
    return nodes


def _name_constants(order: list, nodes: list[Node], named: Mapping, values: Mapping | None) -> None:
    """``Node.constants``: the labelled tensors without a gradient (a detached one, an input of whole
    numbers, a constant of the text), at the inputs of the nodes they went into."""
    if not isinstance(values, Recorded):
        return
    constants = {id(t): name for name, t in named.items() if torch.is_tensor(t) and not t.requires_grad}
    for fn, node in zip(order, nodes):
        went_in = values.inputs.get(fn, ())
        for i, (t, (nxt, _)) in enumerate(zip(went_in, fn.next_functions)):
            if nxt is None and id(t) in constants:
                node.constants[i] = constants[id(t)]


def _number_steps(nodes: list[Node], executed: list[int]) -> None:
    """Each node's position in the engine's order. With ``autograd.grad`` the engine does not run a
    leaf's ``AccumulateGrad``: a leaf's gradient is complete when the last node sending to it has run."""
    position = {node_id: i for i, node_id in enumerate(executed)}
    for i, node_id in enumerate(executed):
        nodes[node_id].step = i
    finished = sorted((max((position.get(c, -1) for c in n.consumers), default=-1), n.id)
                      for n in nodes if n.kind == "leaf")
    for k, (_, node_id) in enumerate(finished):
        nodes[node_id].step = len(executed) + k
