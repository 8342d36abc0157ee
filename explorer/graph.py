"""The autograd graph PyTorch built, captured as plain data while it is alive.

:func:`capture` walks the ``grad_fn`` graph of some outputs (iteratively, so
depth is no limit), reads what each node saved for its backward, runs the
backward pass once with hooks on every node to see the order PyTorch's engine
really executes them and the gradients each one receives and sends, asks
each small node for its local Jacobian by calling its own backward on one-hot
vectors, and keeps torchviz's drawing of the live graph. What it returns, a
:class:`Graph`, holds no reference to autograd objects: it can be pickled,
cached and drawn after the graph is freed. Its text (numbers, the chain rule
of a step, the node table's cells) is written by :mod:`explorer.format`, its
drawings by :mod:`explorer.dot`.

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
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import torch
from torch.autograd.graph import get_gradient_edge
from torch.overrides import TorchFunctionMode

from explorer import dot as drawing
from explorer.expression import first_line
from explorer.format import cell, chain_rule, numbers, to_jsonable

LOCAL_JACOBIAN_MAX = 64 * 64     # entries of a local Jacobian worth computing and showing
JACOBIAN_CALL_BUDGET = 5000      # one-hot backward calls for all local Jacobians of one graph (~0.5 s)
GRADIENT_BUDGET = 10_000_000     # elements of received and sent gradients kept for one graph
RAW_CALL_MAX_NODES = 5000        # graphs small enough to run each node's backward once more
TORCHVIZ_MAX_NODES = 300         # torchviz's own drawing is kept up to here; beyond, we draw its look
TORCHVIZ_MAX_DEPTH = 800         # torchviz recurses once per level and fails near 1,000
SAVED_VALUE_MAX = 4096           # elements of a saved constant kept to show (its shape is always kept)
ATTR_CHARS = 200                 # characters of a saved attribute's text kept
_SAVED_PREFIX = "_saved_"        # PyTorch's generated nodes expose what they saved under this prefix


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
    value: torch.Tensor | None = None
    grad: torch.Tensor | None = None
    received: list[torch.Tensor | None] = field(default_factory=list)
    sends: list[torch.Tensor | None] = field(default_factory=list)
    reduced: list[tuple | None] = field(default_factory=list)
    local: list[torch.Tensor | None] = field(default_factory=list)
    saved: list[Saved] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    constants: dict[int, str] = field(default_factory=dict)
    step: int | None = None        # position in the engine's execution order

    @property
    def name(self) -> str:
        """The user's label, else the operation and the node's id (``Mul#3``)."""
        return self.label or f"{short_op(self.op)}#{self.id}"


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
    torchviz_dot: dict[tuple[bool, bool], str] = field(default_factory=dict)
    derivative: "Graph | None" = None

    @functools.cached_property
    def by_id(self) -> dict[int, Node]:
        """The nodes by id."""
        return {n.id: n for n in self.nodes}

    @functools.cached_property
    def steps(self) -> list[Step]:
        """The engine's steps in order, each with its chain rule written out (leaves run no step)."""
        ran = [n for n in self.nodes if n.step is not None and n.kind != "leaf"]
        nodes = self.by_id
        return [Step(node=n.id, received=n.grad, sends=n.sends, text=chain_rule(n, nodes))
                for n in sorted(ran, key=lambda n: n.step)]

    @functools.cached_property
    def grad_sizes(self) -> dict[int, float | None]:
        """The largest |entry| of the gradient each node received (None where it received none)."""
        sizes = {}
        for n in self.nodes:
            grads = [g for g in ([n.grad] if n.grad is not None else n.received) if g is not None]
            sizes[n.id] = max((float(g.abs().max()) if g.numel() else 0.0 for g in grads), default=None)
        return sizes

    def node(self, node_id: int) -> Node:
        """The node with this id (``ValueError`` if there is none)."""
        try:
            return self.by_id[node_id]
        except (KeyError, TypeError):
            raise ValueError(f"no node with id {node_id!r}; ids run from 0 to {len(self.nodes) - 1}") from None

    def node_rows(self) -> list[dict[str, str | int | None]]:
        """The node table, one row a node in the order PyTorch's engine ran them (written by
        :func:`explorer.format.cell`).

        For each node: what it computes, its inputs, its value, its local
        derivative for each input (where small enough), the gradient it
        received, and what it sent to each input (received times local
        derivative).

        >>> x = torch.tensor([4.0], requires_grad=True)
        >>> row = capture(x * x, {"x": x}).node_rows()[0]
        >>> row["op"], row["grad received"], row["local derivative"], row["sent to inputs"]
        ('MulBackward0', '1', '∂/∂x: 4; ∂/∂x: 4', '→ x: 4; → x: 4')
        """
        rows = []
        for n in self.nodes:
            targets = [(k, self.by_id[i]) for k, i in enumerate(n.inputs) if i is not None]
            rows.append({
                "step": n.step,
                "node": n.name,
                "op": n.op,
                "kind": n.kind,
                "inputs": ", ".join(t.name for _, t in targets),
                "value": cell(n.value),
                "local derivative": "; ".join(f"∂/∂{t.name}: {cell(n.local[k] if k < len(n.local) else None)}"
                                              for k, t in targets),
                "grad received": cell(n.grad),
                "sent to inputs": "; ".join(f"→ {t.name}: {cell(n.sends[k] if k < len(n.sends) else None)}"
                                            for k, t in targets),
            })
        return rows

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
                elif got.shape != total.shape or not torch.allclose(got, total, rtol=rtol, atol=atol):
                    problems.append(f"{where} received {numbers(got)}, its consumers sent {numbers(total)} in all")
        return problems

    def to_dot(self, style: str = "annotated", **options) -> str:
        """DOT source: ``"torchviz"`` or ``"annotated"`` (options in :func:`explorer.dot.to_dot`)."""
        return drawing.to_dot(self, style, **options)

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


def _walk(roots: Sequence) -> tuple[list, dict]:
    """All nodes reachable from ``roots``, consumers before producers (a topological order), and
    their ids by object. Iterative: a graph 100,000 levels deep is no problem."""
    found, stack = [], list(dict.fromkeys(roots))
    seen = set(stack)
    while stack:
        fn = stack.pop()
        found.append(fn)
        for nxt, _ in fn.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    waiting = dict.fromkeys(found, 0)
    for fn in found:
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                waiting[nxt] += 1
    ready = [fn for fn in reversed(found) if waiting[fn] == 0]
    order, ids = [], {}
    while ready:
        fn = ready.pop()
        ids[fn] = len(order)
        order.append(fn)
        for nxt, _ in reversed(fn.next_functions):
            if nxt is not None:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.append(nxt)
    return order, ids


def longest_path(nodes: Sequence[Node]) -> int:
    """The most edges on a path from an output down to a leaf (the depth torchviz recurses to)."""
    depth = {n.id: 0 for n in nodes}
    for node in sorted(nodes, key=lambda n: n.id):   # ids are a topological order, consumers first
        for i in node.inputs:
            if i is not None:
                depth[i] = max(depth[i], depth[node.id] + 1)
    return max(depth.values(), default=0)


def _cpu(t) -> torch.Tensor | None:
    """A detached CPU copy: the user's tensors may change after capture (an optimiser step, say)."""
    return t.detach().cpu().clone() if isinstance(t, torch.Tensor) else None


def _own(t, foreign: set[int]) -> torch.Tensor | None:
    """A gradient the engine has let go of, on the CPU: copied only where it shares memory with a
    tensor of the caller's (the ``v`` of ``backward(v)`` flows on unchanged through sums and views)."""
    if t is None:
        return None
    t = t.detach()
    return t.cpu().clone() if t.untyped_storage().data_ptr() in foreign or t.device.type != "cpu" else t


def _dtype(t: torch.dtype) -> str:
    return str(t).removeprefix("torch.")


def _accumulated(fn):
    """The leaf tensor an ``AccumulateGrad`` node accumulates into, else None."""
    return fn.variable if type(fn).__name__ == "AccumulateGrad" else None


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


def _read_saved(fn, ids: dict, tensors_out: list) -> tuple[list[Saved], dict[str, str]]:
    """The tensors and the attributes ``fn`` saved for its backward, while they exist (the live
    saved tensors are appended to ``tensors_out``, one per :class:`Saved`)."""
    saved, attrs, fields = [], {}, []
    for name, slot in _saved_fields(type(fn)):
        try:
            fields.append((name, slot.__get__(fn, type(fn))))
        except RuntimeError as err:   # modified in place since it was saved, say
            attrs[name] = f"[unreadable: {first_line(err)[:80]}]"
    if hasattr(fn, "saved_tensors"):  # a custom autograd.Function
        with contextlib.suppress(RuntimeError):
            fields.append(("saved_tensors", tuple(fn.saved_tensors)))
    for name, value in fields:
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
                    of, slot = ids.get(edge.node), edge.output_nr
            # A constant's value is shown with it; another node's output is shown at that node.
            keep = of is None and t.numel() <= SAVED_VALUE_MAX
            saved.append(Saved(name=label, shape=tuple(t.shape), dtype=_dtype(t.dtype),
                               value=_cpu(t) if keep else None, of=of, slot=slot))
            tensors_out.append(t)
    return saved, attrs


def _output_metadata(fn) -> list[tuple[tuple, str]]:
    """``(shape, dtype)`` of each output a node's forward produced (what its grads must look like)."""
    try:
        return [(tuple(m.shape), _dtype(m.dtype)) for m in fn._input_metadata]
    except (AttributeError, RuntimeError, TypeError):   # a private attribute: absent in some versions
        return []


def capture(outputs: torch.Tensor | Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor], *,
            labels: Mapping[str, torch.Tensor] | None = None,
            grad_outputs: Sequence[torch.Tensor] | None = None, create_graph: bool = False,
            values: Mapping | None = None) -> Graph:
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
    ``Graph.derivative`` is the captured graph that computed them.

    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> g = capture(x.sin().sum(), {"x": x}, create_graph=True)
    >>> [n.op for n in g.derivative.nodes if n.kind != "leaf"]
    ['MulBackward0', 'CosBackward0']
    """
    outputs, grad_outputs = _checked(outputs, leaves, grad_outputs)
    root_edges = [get_gradient_edge(o) if o.requires_grad else None for o in outputs]
    order, ids = _walk([e.node for e in root_edges if e is not None])
    names, produced = _names(outputs, root_edges, ids, {**(labels or {}), **leaves}, values or {})
    targets = _targets(order, ids, leaves, names, produced)
    metadata = [_output_metadata(fn) for fn in order]
    nodes = _nodes(order, ids, names, produced, metadata, {ids[e.node] for e in root_edges if e is not None})
    _name_constants(order, nodes, {**(labels or {}), **leaves}, values)
    torchviz_dot = _torchviz_drawings(outputs, {name: t for name, t, _ in targets}, nodes)

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    executed, received, sent, grads, tape = _watched_backward(order, ids, pairs, [t for _, t, _ in targets],
                                                              create_graph)
    foreign = {g.untyped_storage().data_ptr() for g in grad_outputs}
    for node in nodes:
        if node.id in received:
            node.received = [_own(g, foreign) for g in received[node.id]]
            node.grad = node.received[0] if len(node.received) == 1 else None
            node.sends = [_own(g, foreign) for g in sent.get(node.id, ())]
            node.reduced = [None] * len(node.sends)
    grad_by_name: dict[str, torch.Tensor] = {}
    leaf_ids: dict[str, int] = {}
    for (name, _, node_id), g in zip(targets, grads):
        grad_by_name[name] = g
        if node_id is not None:
            leaf_ids[name] = node_id
            target = nodes[node_id]
            if target.kind == "leaf" or (target.grad is None and len(metadata[node_id]) <= 1):
                target.grad = _cpu(g)
                target.received = [target.grad]
    _local_jacobians(order, nodes, received, sent)
    _number_steps(nodes, executed)

    derivative = None
    if create_graph:
        differentiable = {f"∂L/∂{name}": g for name, g in grad_by_name.items() if g.grad_fn is not None}
        if differentiable:
            derivative = capture(list(differentiable.values()), leaves, labels=differentiable)
    names_first = [*(name for name in leaves if name in grad_by_name), *grad_by_name]   # the caller's order
    return Graph(nodes=sorted(nodes, key=lambda n: (n.step is None, n.step if n.step is not None else n.id)),
                 grads={k: _own(grad_by_name[k], foreign) for k in dict.fromkeys(names_first)},
                 outputs=list(dict.fromkeys(ids[e.node] for e in root_edges if e is not None)),
                 leaves=leaf_ids, gradients_kept=len(received) if tape.full else None,
                 torchviz_dot=torchviz_dot, derivative=derivative)


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


def _targets(order: list, ids: dict, leaves: Mapping, names: dict, produced: dict) -> list[tuple]:
    """``(name, tensor, node id or None)`` of what the gradients are taken with respect to: every leaf
    of the graph (named, or ``leaf0``, ``leaf1``...), then the named tensors found no other way."""
    leaf_name = {id(t): n for n, t in leaves.items()}
    targets = []
    unnamed = 0
    for fn in order:
        variable = _accumulated(fn)
        if variable is not None:
            name = leaf_name.get(id(variable))
            if name is None:
                name, unnamed = f"leaf{unnamed}", unnamed + 1
            names[fn] = name
            produced[fn] = variable
            targets.append((name, variable, ids[fn]))
    found = {id(t) for _, t, _ in targets}
    for name, tensor in leaves.items():  # named tensors inside the graph, or not in it at all
        if tensor.requires_grad and id(tensor) not in found:
            targets.append((name, tensor, ids.get(get_gradient_edge(tensor).node)))
    return targets


def _nodes(order: list, ids: dict, names: dict, produced: dict, metadata: list, output_ids: set) -> list[Node]:
    """The nodes as plain data, with what they saved, and values from the saved tensors where none is known."""
    nodes: list[Node] = []
    live_saved: list[list[torch.Tensor]] = []
    for fn, meta in zip(order, metadata):
        node_id = ids[fn]
        live_saved.append([])
        saved, attrs = _read_saved(fn, ids, live_saved[-1])
        nodes.append(Node(
            id=node_id, op=type(fn).__name__,
            kind="leaf" if _accumulated(fn) is not None else "output" if node_id in output_ids else "intermediate",
            label=names.get(fn, ""),
            inputs=[ids[n] if n is not None else None for n, _ in fn.next_functions],
            input_slots=[nr if n is not None else None for n, nr in fn.next_functions],
            value=_cpu(produced.get(fn)), saved=saved, attrs=attrs,
            shape=meta[0][0] if len(meta) == 1 else None, dtype=meta[0][1] if meta else "",
        ))
    for node in nodes:
        for i in node.inputs:
            if i is not None:
                nodes[i].consumers.append(node.id)
        for s, t in zip(node.saved, live_saved[node.id]):  # a saved output of a node is its value
            if s.of is not None and s.slot == 0 and nodes[s.of].value is None and len(metadata[s.of]) <= 1:
                nodes[s.of].value = _cpu(t)
    for node in nodes:
        if node.value is not None:
            node.shape, node.dtype = tuple(node.value.shape), _dtype(node.value.dtype)
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


def _watched_backward(order: list, ids: dict, pairs: list, targets: list, create_graph: bool):
    """``torch.autograd.grad`` with a pre-hook (what a node received) and a post-hook (what it sent) on
    every node: the node ids in the order the engine ran them, the gradients seen, the results."""
    executed: list[int] = []
    received: dict[int, tuple] = {}
    sent: dict[int, tuple] = {}
    handles = []
    tape = _Tape(GRADIENT_BUDGET)
    for fn in order:
        if _accumulated(fn) is not None:
            continue

        def pre(grad_out, node_id=ids[fn]):
            executed.append(node_id)
            if (kept := tape.keep(grad_out)) is not None:
                received[node_id] = kept

        def post(grad_in, grad_out, node_id=ids[fn]):
            if (kept := tape.keep(grad_in)) is not None:
                sent[node_id] = kept

        handles += [fn.register_prehook(pre), fn.register_hook(post)]
    try:
        grads = torch.autograd.grad([o for o, _ in pairs], targets, [g for _, g in pairs], retain_graph=True,
                                    create_graph=create_graph, allow_unused=True,
                                    materialize_grads=True) if targets else ()
    finally:
        for handle in handles:
            handle.remove()
    return executed, received, sent, grads, tape


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


class _Tape:
    """The gradients the hooks keep: up to ``budget`` elements in all, then none.

    Kept in the engine's order, so what is kept is the part of the graph
    nearest the outputs, and a node whose gradient is kept has every gradient
    its consumers sent kept too. The engine is freed of each buffer when it
    is done with it; a kept one lives on here, hence the budget.
    """

    def __init__(self, budget: int):
        self.left = budget
        self.full = False

    def keep(self, grads: Sequence) -> tuple | None:
        need = sum(g.numel() for g in grads if g is not None)
        if self.full or need > self.left:
            self.full = True
            return None
        self.left -= need
        return tuple(None if g is None else g.detach() for g in grads)


def _local_jacobians(order: list, nodes: list[Node], received: dict, sent: dict) -> None:
    """Ask each small node for ``∂y/∂x_i``: its backward applied to each one-hot output gradient.

    A node's backward returns the gradient of a broadcast input in the
    broadcast shape; the engine sums it to the input's shape before passing
    it on (and before post-hooks see it). The shape the node itself returned,
    from the same calls (or one call with the gradient it received), shows
    where the engine summed, and the Jacobian is reduced the same way.
    """
    budget = JACOBIAN_CALL_BUDGET
    for fn, node in zip(order, nodes):
        grads = received.get(node.id)
        if node.kind == "leaf" or grads is None or len(grads) != 1 or grads[0] is None:
            continue
        template = grads[0]
        m = template.numel()
        widths = [0 if s is None else s.numel() for s in sent.get(node.id, ())]
        raw = None
        if 0 < m <= budget and 0 < m * max(widths, default=0) <= LOCAL_JACOBIAN_MAX:
            budget -= m
            rows = _one_hot_calls(fn, template)
            if rows is not None:
                raw = rows[0]
                node.local = [None if any(r[i] is None for r in rows) or i >= len(widths) or not widths[i] else
                              torch.stack([r[i].sum_to_size(sent[node.id][i].shape).reshape(-1).cpu()
                                           for r in rows]) for i in range(len(rows[0]))]
        if raw is None and len(nodes) <= RAW_CALL_MAX_NODES:
            raw = _call(fn, template)
        for i, (g, s) in enumerate(zip(raw or (), sent.get(node.id, ()))):
            if g is not None and s is not None and g.shape != s.shape and i < len(node.reduced):
                node.reduced[i] = (tuple(g.shape), tuple(s.shape))


def _call(fn, grad: torch.Tensor) -> tuple | None:
    """The node's own backward applied to ``grad``, before the engine's broadcast sums."""
    try:
        with torch.no_grad():
            out = fn(grad)
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
        out = _call(fn, basis.reshape(template.shape).clone())
        if out is None:
            return None
        rows.append(out)
    return rows


def _torchviz_drawings(outputs, params: dict, nodes: list[Node]) -> dict[tuple[bool, bool], str]:
    """torchviz's own drawing of the live graph, with each option, while its buffers exist.

    torchviz names a saved tensor's box by the id of the Python object, so a
    saved leaf is merged into the leaf's box; each saved tensor is given a box
    of its own here.
    """
    if len(nodes) > TORCHVIZ_MAX_NODES or longest_path(nodes) > TORCHVIZ_MAX_DEPTH:
        return {}
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
                drawings[(show_attrs, show_saved)] = drawing.separate_saved(dot.source)
    return drawings
