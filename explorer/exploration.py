"""Explorations: a function, its inputs, and everything autograd did with them.

>>> import explorer
>>> ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
>>> ex.outputs[0], ex.grads["x"]
(tensor([128.]), tensor([72.]))
>>> import torch
>>> w = torch.tensor([1.0, 2.0], requires_grad=True)
>>> explorer.trace((w * w).sum(), {"w": w}).grads["w"]
tensor([2., 4.])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from explorer import graph as graph_module
from explorer import module_view, modules
from explorer.checks import whole_number
from explorer.dot import to_dot
from explorer.expression import DEFAULT_LIMITS, Evaluation, ExpressionError, Limits, Program, evaluate, refusing_blowups
from explorer.format import to_jsonable
from explorer.inputs import make_input, prepare
from explorer.vjp import ONES, VectorChoice


@dataclass
class Exploration:
    """The result of :func:`explore` or :func:`trace`: plain data, picklable.

    ``outputs``, ``grads``, ``inputs`` and ``v`` are detached CPU tensors;
    ``graph`` is the captured autograd graph (:class:`explorer.graph.Graph`).
    """

    outputs: list[torch.Tensor]
    grads: dict[str, torch.Tensor]
    inputs: dict[str, torch.Tensor]
    v: list[torch.Tensor]
    graph: Any
    source: str | None = None
    program: Program | None = None
    output_names: tuple[str, ...] = ()
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    options: dict = field(default_factory=dict)

    @property
    def nodes(self) -> list:
        """The node table, in the order PyTorch's engine executed the backward pass."""
        return self.graph.nodes

    def to_dot(self, style: str = "annotated", *, modules: int | str | None = "auto", opened: Iterable[str] = (),
               colour: str = "gradient", **options: Any) -> str:
        """DOT source of the graph: ``"torchviz"`` (as ``torchviz.make_dot`` draws it) or ``"annotated"``.

        For a model traced by :func:`explorer.trace_model`, the module view
        (:mod:`explorer.module_view`): ``modules=k`` draws modules down to
        depth ``k`` as clusters and deeper ones as one box each, runs of
        identical blocks folded (``opened`` names the modules and runs
        ``first..last`` to open); ``modules=None`` every node in nested
        clusters; ``"auto"`` the deepest depth that fits ``max_nodes`` boxes (80 by default);
        ``"flat"`` the graph without modules. ``colour="saved"`` fills module
        boxes by their share of the bytes saved for backward. Other options:
        :func:`explorer.dot.to_dot`.
        """
        if modules == "flat" or (modules == "auto" and not self.graph.modules):
            return to_dot(self.graph, style, **options)
        if not self.graph.modules:
            raise ValueError("this exploration knows no modules: trace a model with explorer.trace_model")
        max_nodes = options.pop("max_nodes", None)
        unknown = set(options) - {"show_attrs", "show_saved", "highlight", "max_attr_chars", "focus", "depth"}
        if unknown:
            raise ValueError(f"the module view takes no {', '.join(sorted(unknown))}")
        options.pop("focus", None)
        options.pop("depth", None)
        if modules == "auto":
            budget = module_view.DEFAULT_BOXES if max_nodes is None else max_nodes
            modules = module_view.default_depth(self.graph, budget, opened)
        elif modules is not None:
            whole_number(modules, "modules", least=0)
        return module_view.to_dot(self.graph, style, depth=modules, opened=opened, colour=colour, **options)

    def output_labels(self) -> list[str]:
        """The user's name of each output, or ``f`` (``f0``, ``f1``... for several); a model's is ``loss``.

        >>> explore("a = x * 2; b = x + 1; a, b", x=1).output_labels(), explore("x * 2, x + 1", x=1).output_labels()
        (['a', 'b'], ['f0', 'f1'])
        """
        names = list(self.output_names or ())
        names += [""] * (len(self.outputs) - len(names))
        if not any(names) and len(self.outputs) == 1 and not self.source:
            return ["loss"]
        return [name or ("f" if len(self.outputs) == 1 else f"f{i}") for i, name in enumerate(names)]

    @property
    def saved_bytes(self) -> int:
        """Bytes the graph saved for backward (:attr:`explorer.graph.Graph.saved_bytes`)."""
        return self.graph.saved_bytes

    def to_json(self) -> dict:
        """``outputs``, ``grads`` (name -> nested lists), ``v`` and ``nodes``, as JSON-ready values."""
        return to_jsonable({
            "source": self.source,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "grads": self.grads,
            "v": self.v,
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "nodes": self.graph.to_json()["nodes"],
        })


_OPTION_NAMES = ("inputs", "v", "seed", "dtype", "device", "limits", "create_graph")


@refusing_blowups
def explore(source: str, /, *, inputs: Mapping[str, Any] | None = None, v: Any = None, seed: int = 0,
            dtype: str = "float32", device: str | None = "auto", limits: Limits = DEFAULT_LIMITS,
            create_graph: bool = False, **values: Any) -> Exploration:
    """Parse ``source``, build its inputs, run it forward and backward, and capture the graph.

    Inputs are given as keywords (``x=4``, ``A="rand(10, 5)"``, ``b=[0.5, 0.75]``,
    or a tensor) or, for a variable whose name is one of this function's
    options (``v``, ``seed``, ...), in ``inputs={...}``. For a non-scalar
    output the vector of ``backward(v)`` defaults to ones, as in the seeds;
    ``v=`` gives it: one spec, or one per output, or a
    :class:`~explorer.vjp.VectorChoice` (a one-hot, random or typed ``v``
    over all output elements, made from the dry run's shapes before anything
    runs). Every refusal is an :class:`~explorer.ExpressionError`.

    >>> ex = explore("(x + y) * (y + 3)", x=1, y=2)
    >>> ex.grads["x"], ex.grads["y"]
    (tensor([5.]), tensor([8.]))
    >>> explore("x * x", x="[1.0, 2.0]", v=VectorChoice("one-hot", index=1)).grads["x"]
    tensor([0., 4.])
    """
    prepared = prepare(source, {**(inputs or {}), **values}, seed=seed, dtype=dtype, device=device, limits=limits)
    program, tensors, dtype_, target = prepared.program, prepared.tensors, prepared.dtype, prepared.device
    chosen = None
    if isinstance(v, VectorChoice):
        if v != ONES:   # ones stay ones_like each output, as backward() makes them
            chosen = [vec.to(target) for vec in v.vectors(prepared.cost.output_shapes, dtype_, limits)]
        v = None
    with torch.enable_grad(), graph_module.recording() as recorded:
        evaluation = evaluate(program, tensors)
    outputs = evaluation.outputs
    if not any(o.requires_grad for o in outputs):
        raise ExpressionError("the output does not depend on any input, so there is nothing to differentiate")
    grad_outputs = chosen if chosen is not None else _vectors(v, outputs, dtype_, target, limits, seed)
    labels = {**evaluation.names, **_constant_labels(evaluation)}
    for name, out in zip(program.output_names, outputs):
        if name:
            labels[name] = out
    graph = graph_module.capture(outputs, tensors, labels=labels, grad_outputs=grad_outputs,
                                 create_graph=create_graph, values=recorded)
    return _captured(outputs, tensors, grad_outputs, graph, source=source, program=program,
                     output_names=program.output_names, device=str(target), dtype=str(dtype_).removeprefix("torch."),
                     seed=seed, options={"create_graph": create_graph})


def _captured(outputs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor],
              grad_outputs: Sequence[torch.Tensor], graph: Any, **fields: Any) -> Exploration:
    """The one way an :class:`Exploration` is made from a capture: every tensor detached and on the CPU, so
    that it is plain data."""
    return Exploration(
        outputs=[o.detach().cpu() for o in outputs],
        grads={k: g.detach().cpu() for k, g in graph.grads.items()},
        inputs={k: t.detach().cpu() for k, t in leaves.items()},
        v=[g.detach().cpu() for g in grad_outputs],
        graph=graph, **fields,
    )


def _constant_labels(evaluation: Evaluation) -> dict[str, torch.Tensor]:
    """The constant tensors of the text by what made them, with the user's name where there is one:
    ``y.detach()``, ``d = y.detach()``, ``torch.ones(3)`` (the graph shows where they enter)."""
    named = {id(t): name for name, t in evaluation.names.items()}
    return {f"{named[id(t)]} = {text}" if id(t) in named else text: t for text, t in evaluation.constants.items()}


def _vectors(v: Any, outputs: Sequence[torch.Tensor], dtype: torch.dtype, device: torch.device,
             limits: Limits, seed: int = 0) -> list[torch.Tensor]:
    """The ``v`` of ``backward(v)`` for each output: given, or ones like the seeds use."""
    if v is None:
        return [torch.ones_like(o) for o in outputs]
    given = [v] if len(outputs) == 1 else v
    if not isinstance(given, (list, tuple)) or len(given) != len(outputs):
        raise ExpressionError(f"give one v for each of the {len(outputs)} outputs")
    vectors = []
    generator = torch.Generator().manual_seed(seed)  # a random v is reproducible like the inputs
    for i, (spec, out) in enumerate(zip(given, outputs)):
        # v is numbers of the outputs' dtype, even written tensor([1, 0]) (whole numbers, for an input).
        vec = make_input(spec, dtype=dtype, limits=limits, name="v", generator=generator).to(device, dtype)
        if vec.shape != out.shape:
            if vec.numel() == out.numel():
                vec = vec.reshape(out.shape)
            else:
                raise ExpressionError(f"v must have the shape of output {i} {tuple(out.shape)}, "
                                      f"got {tuple(vec.shape)}")
        vectors.append(vec)
    return vectors


def trace(outputs: torch.Tensor | Sequence[torch.Tensor],
          params: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]], *,
          v: Sequence[torch.Tensor] | torch.Tensor | None = None,
          labels: Mapping[str, torch.Tensor] | None = None, create_graph: bool = False,
          lazy: bool = True) -> Exploration:
    """The same view for any tensor built in Python (a model's output, say), named by its parameters.

    ``params`` is a mapping or pairs such as ``model.named_parameters()``. The
    backward pass runs with ``torch.autograd.grad``: the tensors' ``.grad`` is
    left untouched. Each node's details (local Jacobians, what it saved and
    sent) are read from the live graph when first asked for; a later
    ``backward()`` through the outputs computes them first, but an optimiser
    step before they are read makes them unreadable: trace with
    ``lazy=False``, or call ``ex.graph.complete()``, before changing the
    model's tensors in place. A graph deeper than
    :data:`explorer.live.MAX_LEVELS` operations is refused (``ValueError``).

    >>> model = torch.nn.Linear(3, 1)
    >>> loss = model(torch.ones(2, 3)).pow(2).mean()
    >>> sorted(trace(loss, model.named_parameters()).grads)
    ['bias', 'weight']
    """
    outs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
    leaves = dict(params.items() if isinstance(params, Mapping) else params)
    if v is None:
        grad_outputs = [torch.ones_like(o) for o in outs]
    else:
        grad_outputs = [v] if isinstance(v, torch.Tensor) else list(v)
    graph = graph_module.capture(outs, leaves, labels=dict(labels or {}), grad_outputs=grad_outputs,
                                 create_graph=create_graph, lazy=lazy)
    first = next(iter(leaves.values()), outs[0])
    return _captured(outs, leaves, grad_outputs, graph, device=str(first.device),
                     dtype=str(first.dtype).removeprefix("torch."), options={"create_graph": create_graph})


def trace_model(model: torch.nn.Module, *args: Any, loss: Callable | None = None, lazy: bool = True,
                **kwargs: Any) -> Exploration:
    """Run ``model(*args, **kwargs)`` noting which module made each autograd node (``Node.module``), take the
    loss, run backward once and capture everything, as :func:`trace` does, named by
    ``model.named_parameters()`` (:mod:`explorer.modules` has the rule).

    The loss is ``loss(output)`` if given, else the output if it is a scalar,
    else ``output["loss"]`` (a transformers model given ``labels``). Gradients
    are taken with ``torch.autograd.grad``: the parameters' ``.grad`` is left
    untouched. Tensor arguments that require grad are leaves named
    ``input0``, ``input1``... ``ex.to_dot(style, modules=k)`` draws the graph
    by module (:mod:`explorer.module_view`).

    >>> model = torch.nn.Linear(2, 1)
    >>> ex = trace_model(model, torch.ones(3, 2), loss=lambda y: y.sum())
    >>> ex.grads["weight"], [n.module for n in ex.nodes if n.op == "AddmmBackward0"]
    (tensor([[3., 3.]]), [''])
    """
    with modules.recording(model) as seen, torch.enable_grad():
        value = modules.loss_of(model(*args, **kwargs), loss)
    params = dict(model.named_parameters())
    inputs = {f"input{k}": a for k, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad}
    ex = trace(value, {**params, **inputs})
    modules.assign(ex.graph, seen, {name: name.rpartition(".")[0] for name in params})
    if not lazy:
        ex.graph.complete()
    return ex
