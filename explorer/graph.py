"""The autograd graph PyTorch built, captured as plain data while it is alive.

:func:`capture` walks the ``grad_fn`` graph of some outputs (iteratively, so
depth is no limit), runs the backward pass once with hooks on every node to
see the order PyTorch's engine really executes them and the gradient each one
receives and sends, asks each small node for its local Jacobian by calling
its own backward on one-hot vectors, and keeps torchviz's drawing of the live
graph. What it returns, a :class:`Graph`, holds no reference to autograd
objects: it can be pickled, cached and drawn after the graph is freed.

The chain rule, at every node ``n`` with output ``y`` and inputs ``x_i``::

    received(n)     = sum over consumers c of sent(c -> n)       (the engine's input buffer)
    sent(n -> x_i)  = received(n) · ∂y/∂x_i                      (the node's backward: a VJP)

>>> import torch
>>> from explorer.graph import capture
>>> x = torch.tensor([4.0], requires_grad=True)
>>> g = capture([x**3 + 2*x**2 + 8*x], {"x": x})
>>> g.grads["x"]
tensor([72.])
>>> [n.op for n in g.nodes][:2]
['AddBackward0', 'AddBackward0']
"""
from __future__ import annotations

import contextlib
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import torch
from torch.overrides import TorchFunctionMode

LOCAL_JACOBIAN_MAX = 4096   # entries of a local Jacobian worth computing and showing
TORCHVIZ_MAX_NODES = 1500   # torchviz's recursive walk; beyond this we draw its style ourselves
TORCHVIZ_MAX_DEPTH = 800    # torchviz fails with RecursionError near 1,000 levels
RAW_CALL_MAX_NODES = 5000   # graphs small enough to run each node's backward once more


@dataclass
class Node:
    """One node of the backward graph, as the node table shows it.

    ``grad`` is the gradient the node received (the sum over its consumers);
    ``sends`` what it sent to each input node (``None`` where nothing flows),
    ``reduced`` where the engine summed a broadcast before passing it on, and
    ``local`` the local Jacobian ``∂y/∂x_i`` per input, shaped
    ``(y.numel(), x_i.numel())``, where small enough to compute.
    """

    id: int
    op: str
    kind: str                      # "leaf", "output", "intermediate" or "constant"
    label: str = ""
    inputs: list[int | None] = field(default_factory=list)
    consumers: list[int] = field(default_factory=list)
    shape: tuple | None = None
    dtype: str = ""
    value: torch.Tensor | None = None
    grad: torch.Tensor | None = None
    sends: list[torch.Tensor | None] = field(default_factory=list)
    reduced: list[tuple | None] = field(default_factory=list)
    local: list[torch.Tensor | None] = field(default_factory=list)
    step: int | None = None        # position in the engine's execution order

    @property
    def name(self) -> str:
        """The user's label, or the operation without its ``Backward`` suffix."""
        return self.label or self.op.replace("Backward0", "").replace("Backward1", "")


@dataclass
class Step:
    """One step of the backward pass: a node runs and sends gradients to its inputs."""

    node: int
    received: torch.Tensor | None
    sends: list[torch.Tensor | None]
    text: str


@dataclass
class Graph:
    """A captured autograd graph: nodes in engine order, leaves' gradients, and its drawings."""

    nodes: list[Node]
    grads: dict[str, torch.Tensor]
    steps: list[Step]
    outputs: list[int]
    torchviz_dot: dict[tuple[bool, bool], str] = field(default_factory=dict)
    derivative: "Graph | None" = None  # with create_graph=True: the graph that computed the gradients

    def node(self, node_id: int) -> Node:
        """The node with this id."""
        return self._by_id()[node_id]

    def _by_id(self) -> dict[int, Node]:
        return {n.id: n for n in self.nodes}

    def to_dot(self, style: str = "annotated", **options) -> str:
        """DOT source: ``"torchviz"`` or ``"annotated"`` (see :mod:`explorer.dot` for the options)."""
        from explorer import dot

        return dot.to_dot(self, style, **options)

    def to_json(self) -> dict:
        """Nodes (engine order) and steps as JSON-ready values (tensors as nested lists)."""
        def plain(t):
            return None if t is None else t.tolist()

        return {
            "nodes": [{
                "id": n.id, "op": n.op, "kind": n.kind, "label": n.label, "inputs": n.inputs,
                "shape": list(n.shape) if n.shape is not None else None, "step": n.step,
                "value": plain(n.value), "grad": plain(n.grad), "sends": [plain(s) for s in n.sends],
                "local": [plain(j) for j in n.local],
            } for n in self.nodes],
            "steps": [{"node": s.node, "text": s.text} for s in self.steps],
            "grads": {k: v.tolist() for k, v in self.grads.items()},
        }


class _Recorder(TorchFunctionMode):
    """Remembers the value each autograd node produced during a forward pass."""

    def __init__(self, values: dict):
        super().__init__()
        self.values = values

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for item in (result if isinstance(result, (tuple, list)) else (result,)):
            if isinstance(item, torch.Tensor) and item.grad_fn is not None:
                self.values.setdefault(item.grad_fn, item)
        return result


@contextlib.contextmanager
def recording() -> Iterator[dict]:
    """Record, during a forward pass, the tensor each autograd node produced (for :func:`capture`).

    >>> x = torch.tensor([2.0], requires_grad=True)
    >>> with recording() as values:
    ...     y = (x * 3).sin()
    >>> sorted(type(fn).__name__ for fn in values)
    ['MulBackward0', 'SinBackward0']
    """
    values: dict = {}
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
    ready = [fn for fn in found if waiting[fn] == 0]
    order, ids = [], {}
    while ready:
        fn = ready.pop()
        ids[fn] = len(order)
        order.append(fn)
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.append(nxt)
    return order, ids


def _depth(order: list, ids: dict) -> int:
    """The longest path from an output down (torchviz recurses once per level)."""
    depth = [0] * len(order)
    for fn in order:
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                depth[ids[nxt]] = max(depth[ids[nxt]], depth[ids[fn]] + 1)
    return max(depth, default=0)


def _detach(t) -> torch.Tensor | None:
    return t.detach().cpu().clone() if isinstance(t, torch.Tensor) else None


def capture(outputs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor], *,
            labels: Mapping[str, torch.Tensor] | None = None,
            grad_outputs: Sequence[torch.Tensor] | None = None, create_graph: bool = False,
            values: Mapping | None = None) -> Graph:
    """Run backward once through the graph of ``outputs`` and record everything a learner needs.

    ``leaves`` names the leaf tensors (every leaf found gets a gradient; unnamed
    ones are called ``leaf0``, ``leaf1``...); ``labels`` names intermediate
    tensors; ``grad_outputs`` is the ``v`` of ``backward(v)`` (ones by default);
    ``values`` maps nodes to the tensors they produced (from :func:`recording`).
    With ``create_graph=True`` the gradients are differentiable and
    ``Graph.derivative`` is the graph that computed them. ``.grad`` of the
    tensors is never touched.
    """
    outputs = list(outputs)
    grad_outputs = list(grad_outputs) if grad_outputs is not None else [torch.ones_like(o) for o in outputs]
    roots = [o.grad_fn if o.grad_fn is not None else None for o in outputs]
    order, ids = _walk([r for r in roots if r is not None])

    produced: dict = dict(values or {})
    names: dict = {}
    for i, out in enumerate(outputs):
        if out.grad_fn is not None:
            produced.setdefault(out.grad_fn, out)
            names.setdefault(out.grad_fn, "output" if len(outputs) == 1 else f"output[{i}]")
    for name, tensor in (labels or {}).items():
        if isinstance(tensor, torch.Tensor) and tensor.grad_fn is not None:
            produced[tensor.grad_fn] = tensor
            names[tensor.grad_fn] = name

    leaf_name = {id(t): n for n, t in leaves.items()}
    leaf_tensors: list[tuple[str, torch.Tensor, object]] = []
    for fn in order:
        variable = _accumulated(fn)
        if variable is not None:
            name = leaf_name.get(id(variable)) or f"leaf{len([1 for n, _, _ in leaf_tensors if n.startswith('leaf')])}"
            names[fn] = name
            produced[fn] = variable
            leaf_tensors.append((name, variable, fn))

    nodes = []
    output_fns = {r for r in roots if r is not None}
    for fn in order:
        node_id = ids[fn]
        inputs = [ids[n] if n is not None else None for n, _ in fn.next_functions]
        kind = "leaf" if _accumulated(fn) is not None else "output" if fn in output_fns else "intermediate"
        value = produced.get(fn)
        nodes.append(Node(
            id=node_id, op=type(fn).__name__, kind=kind, label=names.get(fn, ""), inputs=inputs,
            shape=tuple(value.shape) if value is not None else None,
            dtype=str(value.dtype).removeprefix("torch.") if value is not None else "",
            value=_detach(value),
        ))
    for node in nodes:
        for i in node.inputs:
            if i is not None:
                nodes[i].consumers.append(node.id)

    torchviz_dot = _torchviz_drawings(outputs, leaves, order, ids)

    # The backward pass, watched: pre-hooks see what a node received, post-hooks what it sent.
    executed: list[int] = []
    received: dict[int, tuple] = {}
    sent: dict[int, tuple] = {}
    handles = []
    for fn in order:
        if _accumulated(fn) is not None:
            continue
        node_id = ids[fn]

        def pre(grad_out, node_id=node_id):
            executed.append(node_id)
            received[node_id] = tuple(_detach(g) for g in grad_out)

        def post(grad_in, grad_out, node_id=node_id):
            sent[node_id] = tuple(_detach(g) for g in grad_in)

        handles += [fn.register_prehook(pre), fn.register_hook(post)]
    differentiable = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    leaf_list = [t for _, t, _ in leaf_tensors]
    try:
        grads = torch.autograd.grad([o for o, _ in differentiable], leaf_list, [g for _, g in differentiable],
                                    retain_graph=True, create_graph=create_graph, allow_unused=True,
                                    materialize_grads=True) if leaf_list else ()
    finally:
        for handle in handles:
            handle.remove()

    for node in nodes:
        if node.id in received:
            node.grad = received[node.id][0] if len(received[node.id]) == 1 else received[node.id][0]
            node.sends = list(sent.get(node.id, ()))
            node.reduced = [None] * len(node.sends)
    grad_by_name = {}
    for (name, _, fn), g in zip(leaf_tensors, grads):
        nodes[ids[fn]].grad = _detach(g)
        grad_by_name[name] = g.detach() if not create_graph else g
    _local_jacobians(order, ids, nodes, received)

    # Leaves are not run by the engine when gradients are asked for with autograd.grad; they
    # complete when the last node that sends to them has run.
    position = {node_id: i for i, node_id in enumerate(executed)}
    for i, node_id in enumerate(executed):
        nodes[node_id].step = i
    leaves_done = sorted((max((position.get(c, -1) for c in n.consumers), default=-1), n.id)
                         for n in nodes if n.kind == "leaf")
    for k, (_, node_id) in enumerate(leaves_done):
        nodes[node_id].step = len(executed) + k
    ordered = sorted(nodes, key=lambda n: (n.step is None, n.step if n.step is not None else n.id))
    steps = [_step(nodes[i], nodes) for i in executed]

    derivative = None
    if create_graph:
        derivative_outputs = [g for g in grad_by_name.values() if g.grad_fn is not None]
        if derivative_outputs:
            derivative = capture(derivative_outputs, leaves, grad_outputs=None)
    return Graph(nodes=ordered, grads={k: v.detach().cpu() for k, v in grad_by_name.items()}, steps=steps,
                 outputs=[ids[r] for r in roots if r is not None], torchviz_dot=torchviz_dot,
                 derivative=derivative)


def _accumulated(fn):
    """The leaf tensor an ``AccumulateGrad`` node accumulates into, else None."""
    return fn.variable if type(fn).__name__ == "AccumulateGrad" else None


def _local_jacobians(order: list, ids: dict, nodes: list[Node], received: dict) -> None:
    """Ask each small node for ``∂y/∂x_i``: its backward applied to each one-hot output gradient.

    The same call with the gradient the node received shows where the engine,
    not the node, summed a broadcast: a node's backward returns the gradient in
    the broadcast shape, and the engine reduces it to the input's shape before
    passing it on (and before post-hooks see it).
    """
    for fn in order:
        node = nodes[ids[fn]]
        if node.kind == "leaf" or node.id not in received or node.grad is None:
            continue
        if len(order) <= RAW_CALL_MAX_NODES and all(g is not None for g in received[node.id]):
            try:
                with torch.no_grad():
                    raw = fn(*(g.to(_device_of(fn, "cpu")) for g in received[node.id]))
            except RuntimeError:
                raw = ()
            raw = raw if isinstance(raw, tuple) else (raw,)
            for i, (g, target) in enumerate(zip(raw, node.inputs)):
                if g is not None and target is not None and nodes[target].shape is not None \
                        and tuple(g.shape) != nodes[target].shape and i < len(node.reduced):
                    node.reduced[i] = (tuple(g.shape), nodes[target].shape)
        shapes = [g.shape if g is not None else None for g in received[node.id]]
        if len(shapes) != 1 or shapes[0] is None:
            continue
        m = math.prod(shapes[0])
        widths = [s.numel() if s is not None else 0 for s in node.sends]
        if m == 0 or m * max(widths, default=0) > LOCAL_JACOBIAN_MAX:
            continue
        template = received[node.id][0]
        rows: list[list[torch.Tensor | None]] = [[] for _ in node.sends]
        try:
            with torch.no_grad():
                for k in range(m):
                    one_hot = torch.zeros(m, dtype=template.dtype)
                    one_hot[k] = 1
                    device = node.value.device if node.value is not None else "cpu"
                    out = fn(one_hot.reshape(shapes[0]).to(_device_of(fn, device)))
                    out = out if isinstance(out, tuple) else (out,)
                    for i, g in enumerate(out[:len(rows)]):
                        rows[i].append(None if g is None else g.detach().cpu().reshape(-1))
        except RuntimeError:  # a node whose buffers are gone or that takes no plain call
            continue
        node.local = [torch.stack(r) if r and all(x is not None for x in r) else None for r in rows]


def _device_of(fn, default):
    for nxt, _ in fn.next_functions:
        variable = _accumulated(nxt) if nxt is not None else None
        if variable is not None:
            return variable.device
    return default


def _fmt(t: torch.Tensor | None) -> str:
    if t is None:
        return "0"
    if t.numel() == 1:
        return f"{t.item():.4g}"
    return f"[{' '.join(f'{v:.3g}' for v in t.reshape(-1)[:4].tolist())}{' …' if t.numel() > 4 else ''}]"


def _step(node: Node, nodes: list[Node]) -> Step:
    """The chain-rule product of one step, written out."""
    parts = []
    for i, (target, send) in enumerate(zip(node.inputs, node.sends)):
        if target is None:
            continue
        local = node.local[i] if i < len(node.local) else None
        into = nodes[target].name
        if local is not None and local.numel() == 1 and node.grad is not None and node.grad.numel() == 1:
            parts.append(f"∂L/∂{into} += ∂L/∂{node.name} · ∂{node.name}/∂{into} = "
                         f"{_fmt(node.grad)} · {_fmt(local)} = {_fmt(send)}")
        else:
            shape = "×".join(map(str, node.grad.shape)) if node.grad is not None else "?"
            parts.append(f"∂L/∂{into} += vᵀJ: grad ({shape}) through {node.op} = {_fmt(send)}")
    return Step(node=node.id, received=node.grad, sends=node.sends, text="\n".join(parts))


def _torchviz_drawings(outputs, leaves, order, ids) -> dict[tuple[bool, bool], str]:
    """torchviz's own drawing of the live graph, with each option, while its buffers exist.

    torchviz draws a saved tensor under the id of the Python object, so a saved
    leaf is merged into the leaf's node; each saved tensor is given a node of
    its own here.
    """
    if len(order) > TORCHVIZ_MAX_NODES or _depth(order, ids) > TORCHVIZ_MAX_DEPTH:
        return {}
    try:
        import torchviz
    except ImportError:
        return {}
    # torchviz 0.0.3 compares versions with distutils on every call.
    warnings.filterwarnings("ignore", message="distutils Version classes", category=DeprecationWarning)
    params = {name: t for name, t in leaves.items() if isinstance(t, torch.Tensor) and t.requires_grad}
    drawings = {}
    target = tuple(outputs) if len(outputs) > 1 else outputs[0]
    for show_attrs in (False, True):
        for show_saved in (False, True):
            try:
                dot = torchviz.make_dot(target, params=params, show_attrs=show_attrs, show_saved=show_saved)
            except (RecursionError, RuntimeError):
                return {}
            drawings[(show_attrs, show_saved)] = _separate_saved(dot.source)
    return drawings


def _separate_saved(source: str) -> str:
    """Give each saved tensor its own node: torchviz emits the edge ``fn -> t [dir=none]``
    followed by the orange node ``t``; each such pair gets a new name of its own."""
    count = iter(range(1 << 30))

    def rename(match: re.Match) -> str:
        new = f"saved_{next(count)}_{match['t']}"
        return f"\t{match['fn']} -> {new} [dir=none]\n\t{new} [label=\"{match['label']}\" fillcolor=orange]"

    return _SAVED.sub(rename, source)


_SAVED = re.compile(r'\t(?P<fn>\d+) -> (?P<t>\d+) \[dir=none\]\n\t(?P=t) \[label="(?P<label>[^"]*)" fillcolor=orange\]')
