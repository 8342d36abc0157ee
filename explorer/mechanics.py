"""Autograd mechanics as small lessons on the user's function (seed 001).

Each lesson runs real PyTorch on the typed function and returns what
happened, one :class:`Event` per line of code, so that a page can play it
step by step:

* :func:`second_backward`: ``backward()`` twice; without ``retain_graph`` the
  second call raises PyTorch's own ``RuntimeError`` (the saved tensors were
  freed by the first);
* :func:`accumulation`: ``backward(retain_graph=True)`` again and again adds
  to ``.grad`` (72, 144, 216 for ``x**3 + 2*x**2 + 8*x`` at ``x = 4``), then
  ``.grad.zero_()`` and an optimiser's ``zero_grad()`` start over;
* :func:`leaf_and_non_leaf`: ``.grad`` is kept for leaves only; reading it on a
  non-leaf gives ``None`` and PyTorch's warning, unless ``retain_grad()``.

>>> [e.grads["x"].item() for e in accumulation("x**3 + 2*x**2 + 8*x", {"x": 4})[2:5]]
[72.0, 144.0, 216.0]
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from explorer.checks import whole_number
from explorer.derivatives import differentiable
from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, Program, evaluate, first_line, script_name

KINDS = ("value", "error", "warning")
MAX_NAMED = 8  # intermediate results shown in the leaf lesson


@dataclass
class Event:
    """One line of a lesson: the code that ran, what PyTorch printed or raised, and what it means.

    ``grads`` holds a copy of ``.grad`` of each tensor the line is about
    (``None`` where PyTorch has none), for checking the numbers.
    """

    code: str
    shows: str = ""
    kind: str = "value"
    note: str = ""
    grads: dict[str, torch.Tensor | None] = field(default_factory=dict)


@dataclass
class _Run:
    """A fresh forward pass: leaves, named intermediate results, the output and how to call backward on it."""

    program: Program
    leaves: dict[str, torch.Tensor]
    names: dict[str, Any]
    output: torch.Tensor
    output_name: str

    @property
    def backward_args(self) -> str:
        return "" if self.output.numel() == 1 else f"torch.ones_like({self.output_name})"

    def backward(self, retain_graph: bool = False) -> None:
        v = None if self.output.numel() == 1 else torch.ones_like(self.output)
        self.output.backward(v, retain_graph=retain_graph)

    def call(self, retain_graph: bool = False) -> str:
        args = ", ".join(a for a in (self.backward_args, "retain_graph=True" if retain_graph else "") if a)
        return f"{self.output_name}.backward({args})"

    def grads(self) -> dict[str, torch.Tensor | None]:
        return {n: None if t.grad is None else t.grad.detach().clone() for n, t in self.leaves.items()}

    def print_grads(self) -> tuple[str, str]:
        """(the code, what it prints) for ``print(x.grad)`` of every input."""
        code = "\n".join(f"print({n}.grad)" for n in self.leaves)
        shows = "\n".join(str(t.grad) for t in self.leaves.values())
        return code, shows


def _forward(program: Program, leaves: dict[str, torch.Tensor]) -> _Run:
    with torch.enable_grad():
        evaluation = evaluate(program, leaves)
    if len(evaluation.outputs) != 1:
        raise ExpressionError(f"these lessons use a function with one output, not {len(evaluation.outputs)}")
    # Names as the code tab writes them: the graph's h#2 (h bound again) is h_2.
    names = {script_name(n): t for n, t in evaluation.names.items()}
    given = script_name(program.output_names[0]) if program.output_names and program.output_names[0] else ""
    name = next(n for n in (given, "z", "out", "f") if n and n not in leaves)
    output = evaluation.outputs[0]
    if not output.requires_grad:
        raise ExpressionError("the output does not depend on any input, so backward() has nothing to do")
    return _Run(program, leaves, names, output, name)


def _start(source: str | Program, inputs: Mapping[str, Any] | None, seed: int, dtype: str, device: str | None,
           limits: Limits, values: Mapping[str, Any]) -> tuple[_Run, list[Event]]:
    """The inputs as leaves and a first forward pass, with the events that show them."""
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    leaves = {n: t.detach().clone().requires_grad_(t.is_floating_point()) for n, t in f.inputs.items()}
    run = _forward(f.program, leaves)
    events = [Event(n, str(t), note="a leaf: created by you, requires_grad=True" if t.requires_grad else
                    "a leaf of whole numbers (class indices): no gradient") for n, t in leaves.items()]
    events.append(Event(_forward_code(f.program, run.output_name), str(run.output),
                        note="the forward pass records the graph (grad_fn) that backward will walk"))
    return run, events


def _forward_code(program: Program, output_name: str) -> str:
    """The forward pass as one line: the user's own when it is one (``z = x**3 + ...``, ``a = x * y``)."""
    lines = [line.strip() for line in re.split(r"[;\n]", program.source) if line.strip()]
    if len(lines) == 1:
        return lines[0] if program.assignments else f"{output_name} = {lines[0]}"
    return f"{output_name} = f({', '.join(program.inputs)})  # the function above"


def second_backward(source: str | Program, inputs: Mapping[str, Any] | None = None, *, retain_graph: bool = False,
                    seed: int = 0, dtype: str = "float32", device: str | None = "cpu",
                    limits: Limits = DEFAULT_LIMITS, **values: Any) -> list[Event]:
    """``backward()`` twice. Without ``retain_graph=True`` on the first call, PyTorch refuses the second.

    >>> events = second_backward("x**3 + 2*x**2 + 8*x", {"x": 4})
    >>> events[-1].kind, events[-1].shows.split(".")[0]
    ('error', 'RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed)')
    """
    run, events = _start(source, inputs, seed, dtype, device, limits, values)
    run.backward(retain_graph=retain_graph)
    code, shows = run.print_grads()
    events.append(Event(f"{run.call(retain_graph)}\n{code}", shows, grads=run.grads(),
                        note="the gradient of the output with respect to each leaf, in .grad"
                        + ("; the graph is kept" if retain_graph else
                           "; the graph's saved tensors are freed now")))
    try:
        run.backward()
    except RuntimeError as err:
        events.append(Event(run.call(), f"RuntimeError: {first_line(err)}", kind="error", grads=run.grads(),
                            note="the first backward() freed the intermediate values the graph saved; "
                                 "pass retain_graph=True to the first call to keep them (or run the forward "
                                 "pass again)"))
        return events
    code, shows = run.print_grads()
    note = ("the graph was kept, so the second call ran, and added its gradient to .grad" if retain_graph else
            "no error: this graph saved no tensors (its local derivatives are constants), so nothing was freed; "
            "the gradient was added to .grad again")
    events.append(Event(f"{run.call()}\n{code}", shows, grads=run.grads(), note=note))
    return events


def accumulation(source: str | Program, inputs: Mapping[str, Any] | None = None, *, repeats: int = 3,
                 seed: int = 0, dtype: str = "float32", device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
                 **values: Any) -> list[Event]:
    """``backward(retain_graph=True)`` ``repeats`` times: ``.grad`` adds up; then ``zero_()`` and ``zero_grad()``.

    >>> [str(e.grads["x"]) for e in accumulation("x**3 + 2*x**2 + 8*x", {"x": 4}) if e.grads]
    ['tensor([72.])', 'tensor([144.])', 'tensor([216.])', 'tensor([0.])', 'tensor([72.])', 'None']
    """
    whole_number(repeats, "repeats of backward", least=1, most=20, error=ExpressionError)
    run, events = _start(source, inputs, seed, dtype, device, limits, values)
    for k in range(1, repeats + 1):
        last = k == repeats
        run.backward(retain_graph=not last)
        code, shows = run.print_grads()
        note = ("the gradient, in .grad" if k == 1 else
                f"{k} backward calls: .grad holds {k} times the gradient, because backward adds to .grad")
        if last:
            note += "; this last call without retain_graph frees the graph"
        events.append(Event(f"{run.call(retain_graph=not last)}\n{code}", shows, grads=run.grads(), note=note))
    zero = "\n".join(f"{n}.grad.zero_()" for n, t in run.leaves.items() if t.grad is not None)
    for t in run.leaves.values():
        if t.grad is not None:
            t.grad.zero_()
    code, shows = run.print_grads()
    events.append(Event(f"{zero}\n{code}", shows, grads=run.grads(),
                        note="zero_() sets the gradients to 0 in place, as a training loop does before each step"))
    run = _forward(run.program, run.leaves)
    run.backward()
    code, shows = run.print_grads()
    events.append(Event(f"{run.output_name} = ...  # a new forward pass\n{run.call()}\n{code}", shows,
                        grads=run.grads(), note="after zeroing, one backward gives the gradient itself again"))
    optimizer = torch.optim.SGD(list(run.leaves.values()), lr=0.1)
    optimizer.zero_grad()
    code, shows = run.print_grads()
    events.append(Event(f"optimizer = torch.optim.SGD([{', '.join(run.leaves)}], lr=0.1)\noptimizer.zero_grad()\n"
                        f"{code}", shows, grads=run.grads(),
                        note="an optimiser's zero_grad() sets .grad to None (set_to_none=True, the default "
                             "since PyTorch 2.0): the next backward writes a fresh gradient instead of adding"))
    return events


def leaf_and_non_leaf(source: str | Program, inputs: Mapping[str, Any] | None = None, *, seed: int = 0,
                      dtype: str = "float32", device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
                      **values: Any) -> list[Event]:
    """``.grad`` of a leaf is filled by backward; of a non-leaf it is ``None`` (with PyTorch's warning),
    unless ``retain_grad()`` was called on it. The non-leaves are the user's named results and the output.

    >>> events = leaf_and_non_leaf("w1 = x; w2 = w1**3; w2 + 2*w1**2 + 8*w1", {"x": 4})
    >>> [(e.code, e.shows) for e in events if e.kind == "warning"]
    [('print(w2.grad)', 'None'), ('print(z.grad)', 'None')]
    >>> events[-1].grads
    {'x': tensor([72.]), 'w2': tensor([1.]), 'z': tensor([1.])}
    """
    run, events = _start(source, inputs, seed, dtype, device, limits, values)
    for name, t in run.leaves.items():
        events.append(Event(f"{name}.is_leaf, {name}.grad_fn", f"({t.is_leaf}, {t.grad_fn})",
                            note="a leaf: no grad_fn, backward stores its gradient in .grad"))
    non_leaves: dict[str, torch.Tensor] = {}
    for name, t in run.names.items():
        if len(non_leaves) >= MAX_NAMED - 1:
            break
        if not isinstance(t, torch.Tensor) or name == run.output_name:
            continue
        alias = next((n for n, leaf in run.leaves.items() if leaf is t), None)
        if alias is not None:
            events.append(Event(f"{name} is {alias}", "True", note=f"{name} = {alias} names the same tensor: a leaf"))
            continue
        if t.requires_grad:
            non_leaves[name] = t
    if run.output.grad_fn is not None:
        non_leaves[run.output_name] = run.output
    for name, t in non_leaves.items():
        events.append(Event(f"{name}.is_leaf, {name}.grad_fn.name()", f"({t.is_leaf}, {t.grad_fn.name()!r})",
                            note="made by an operation: not a leaf"))
    run.backward(retain_graph=True)
    code, shows = run.print_grads()
    events.append(Event(f"{run.call(retain_graph=True)}\n{code}", shows, grads=run.grads(),
                        note="the leaves' gradients are kept"))
    for name, t in non_leaves.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grad = t.grad
        message = next((first_line(w.message) for w in caught if issubclass(w.category, UserWarning)), "")
        events.append(Event(f"print({name}.grad)", str(grad), kind="warning" if message else "value",
                            note=f"UserWarning: {message}" if message else "", grads={name: grad}))
    if not non_leaves:  # the output is an input itself: there is no non-leaf to ask about
        return events
    retain = "\n".join(f"{name}.retain_grad()" for name in non_leaves)
    for t in non_leaves.values():
        t.retain_grad()
    for t in run.leaves.values():
        t.grad = None
    run.backward()
    code = "\n".join(f"print({name}.grad)" for name in (*run.leaves, *non_leaves))
    shown = {**run.grads(), **{n: None if t.grad is None else t.grad.detach().clone() for n, t in non_leaves.items()}}
    events.append(Event(f"{retain}\n{', '.join(f'{n}.grad' for n in run.leaves)} = None\n{run.call()}\n{code}",
                        "\n".join(str(g) for g in shown.values()), grads=shown,
                        note="retain_grad() keeps the gradient arriving at a non-leaf: d(output)/d(that result)"))
    return events


__all__ = ["Event", "KINDS", "accumulation", "leaf_and_non_leaf", "second_backward"]
