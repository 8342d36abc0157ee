"""Real models: which module made each autograd node, and which sibling blocks are identical.

:func:`recording` runs a model's forward with a hook on every module and a
:class:`~torch.overrides.TorchFunctionMode` that notes, for each autograd node
an operation makes, the innermost module running at that moment: the node's
``module``. :func:`explorer.trace_model` takes the loss, runs backward once,
captures the graph and :func:`assign` gives it the modules, so every node
knows its module, ``Graph.modules`` describes each module that ran
(:class:`Module`), and :func:`runs` finds the runs of identical sibling
blocks that the module view (:mod:`explorer.module_view`) folds into one box.

The rule, for a node made by an operation ``op`` called while modules
``m1 ⊃ m2 ⊃ … ⊃ mk`` are running (each one's forward called the next)::

    node.module = path(mk)         # the innermost; "" outside any module (the root model's own code too)

A node no operation handed back (made inside a composite operation, such as
the ``log_softmax`` inside ``cross_entropy``) belongs to the module of the
node that uses it, and a parameter's leaf to the module that owns it.

>>> import torch
>>> from explorer import trace_model
>>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
>>> ex = trace_model(model, torch.ones(2, 3), loss=lambda out: out.pow(2).mean())
>>> sorted({n.module for n in ex.nodes})
['', '0', '1', '2']
>>> ex.graph.modules["2"].kind, ex.graph.modules["2"].params
('Linear', 5)
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import torch
from torch.overrides import TorchFunctionMode


@dataclass
class Module:
    """A module that ran in a traced forward pass.

    ``path`` is its dotted name in the model (``transformer.h.3.attn``; the
    model itself is ``""``), ``kind`` its class, ``parent`` the path of the
    module whose forward called it (None for the model), ``depth`` how many
    calls deep it ran (the model 0, its children 1...), ``order`` when it was
    first called among all modules, ``calls`` how often; ``params`` counts its
    parameters (its children's included), ``param_shapes`` lists their names
    and shapes, and ``output_shape`` is the shape of the first tensor its
    forward returned.
    """

    path: str
    kind: str
    parent: str | None
    depth: int
    order: int
    calls: int = 0
    params: int = 0
    param_shapes: tuple = ()
    output_shape: tuple | None = None

    @property
    def name(self) -> str:
        """The path, or the class for the model itself."""
        return self.path or self.kind


class _Made(TorchFunctionMode):
    """Notes, for each autograd node an operation hands back, the innermost module running."""

    def __init__(self, made: dict):
        super().__init__()
        self.running: list[str] = [""]
        self.made = made

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for item in (result if isinstance(result, (tuple, list)) else (result,)):
            if isinstance(item, torch.Tensor) and item.grad_fn is not None:
                self.made.setdefault(item.grad_fn, self.running[-1])
        return result


def _first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a forward's output: a tensor, a tuple or list, a dict (``ModelOutput`` too)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (tuple, list)) else ()
    for item in items:
        if (found := _first_tensor(item)) is not None:
            return found
    return None


def loss_of(output: Any, loss: Callable | None) -> torch.Tensor:
    """``loss(output)`` if given; else the output if it is a scalar; else its ``loss`` (transformers')."""
    if loss is not None:
        value = loss(output)
    elif isinstance(output, torch.Tensor) and output.numel() == 1:
        value = output
    elif isinstance(output, Mapping) and isinstance(output.get("loss"), torch.Tensor):
        value = output["loss"]
    else:
        raise ValueError("the model's output is not a scalar and has no loss: give loss=, a function of the "
                         "output that returns a scalar")
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise ValueError(f"the loss must be a tensor with one element, not {type(value).__name__}"
                         + (f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""))
    return value if value.dim() == 0 else value.reshape(())


class Recorded:
    """What :func:`recording` saw: ``modules`` (path -> :class:`Module`, in the order they first ran) and
    ``made`` (each autograd node an operation handed back -> the path of the innermost module running)."""

    def __init__(self):
        self.modules: dict[str, Module] = {}
        self.made: dict = {}


@contextlib.contextmanager
def recording(model: torch.nn.Module) -> Iterator[Recorded]:
    """Record, during a forward pass of ``model``, which modules ran and which module made each autograd
    node: a pre-hook and a hook on every module keep the stack of running modules, and a
    :class:`~torch.overrides.TorchFunctionMode` notes the top of it for each node an operation makes.

    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh())
    >>> with recording(model) as seen:
    ...     y = model(torch.ones(1, 2))
    >>> [(m.path, m.kind, m.depth) for m in seen.modules.values()], seen.made[y.grad_fn]
    ([('', 'Sequential', 0), ('0', 'Linear', 1), ('1', 'Tanh', 1)], '1')
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    seen = Recorded()
    modules = seen.modules
    names = {}
    for path, m in model.named_modules():   # a module reachable by several paths keeps its first
        names.setdefault(m, path)
    made = _Made(seen.made)

    def enter(module, _args):
        path = names[module]
        found = modules.get(path)
        if found is None:
            caller = made.running[-1] if path else None
            params = dict(module.named_parameters())
            found = modules[path] = Module(
                path=path, kind=type(module).__name__, parent=caller,
                depth=0 if caller is None else modules[caller].depth + 1 if caller in modules else 1,
                order=len(modules), params=sum(p.numel() for p in params.values()),
                param_shapes=tuple((k, tuple(p.shape)) for k, p in params.items()))
        found.calls += 1
        made.running.append(path)

    def leave(module, _args, output):
        path = names[module]
        if made.running[-1] == path:
            made.running.pop()
        first = _first_tensor(output)
        if modules[path].output_shape is None and first is not None:
            modules[path].output_shape = tuple(first.shape)

    handles = []
    try:
        for m in names:
            handles.append(m.register_forward_pre_hook(enter))
            handles.append(m.register_forward_hook(leave, always_call=True))
        with made:
            yield seen
    finally:
        for handle in handles:
            handle.remove()


def assign(graph, seen: Recorded, owners: Mapping[str, str]) -> None:
    """Give a live capture of the recorded forward its modules: ``graph.modules``, and each node's module:
    as noted when made; else its consumer's (ids put consumers first); a leaf's is the module owning the
    parameter it names (``owners``: parameter name -> module path)."""
    graph.modules = seen.modules
    fns = graph.live_functions()
    by_id = graph.by_id
    for node in sorted(graph.nodes, key=lambda n: n.id):
        if node.kind == "leaf":
            node.module = owners.get(node.label, "")
        elif (path := seen.made.get(fns[node.id])) is not None:
            node.module = path
        elif node.consumers:
            node.module = by_id[min(node.consumers)].module


def ancestors(modules: Mapping[str, Module], path: str) -> list[str]:
    """The modules from the outermost down to ``path`` (the model itself, ``""``, left out).

    >>> ms = {"": Module("", "M", None, 0, 0), "a": Module("a", "A", "", 1, 1), "a.b": Module("a.b", "B", "a", 2, 2)}
    >>> ancestors(ms, "a.b"), ancestors(ms, "")
    (['a', 'a.b'], [])
    """
    chain = []
    while path and path in modules:
        chain.append(path)
        path = modules[path].parent or ""
    return chain[::-1]


def runs(graph) -> list[tuple[str, ...]]:
    """Runs of two or more identical sibling modules, in the order they ran: same parent, called once,
    one after the other, of the same class, with parameters of the same names and shapes and the same
    operations (counted over their nodes and their children's). GPT-2's twelve ``transformer.h.*`` are
    one run; ResNet's ``layer3.0`` (which downsamples) stands apart from ``layer3.1 … layer3.5``.
    """
    modules = graph.modules
    ops: dict[str, Counter] = {path: Counter() for path in modules}
    for node in graph.nodes:
        for path in ancestors(modules, node.module):
            ops[path][node.op] += 1
    children: dict[str | None, list[Module]] = {}
    for m in modules.values():
        children.setdefault(m.parent, []).append(m)
    found = []
    for siblings in children.values():
        siblings.sort(key=lambda m: m.order)
        run: list[Module] = []
        for m in siblings + [None]:
            same = (m is not None and run and m.calls == 1 and run[0].calls == 1 and m.kind == run[0].kind
                    and m.param_shapes == run[0].param_shapes and ops[m.path] == ops[run[0].path])
            if same:
                run.append(m)
                continue
            if len(run) >= 2:
                found.append(tuple(r.path for r in run))
            run = [m] if m is not None else []
    return sorted(found, key=lambda r: modules[r[0]].order)
