"""Autograd mechanics as small lessons on the user's function (seed 001).

Each lesson runs real PyTorch and returns what happened, step by step:
PyTorch's own error for a second ``backward()`` without ``retain_graph``,
gradients accumulating over repeated calls (72, 144, 216 for the seed's
polynomial at x = 4), ``zero_()`` resetting them, and ``.grad`` of a leaf
versus a non-leaf tensor (with PyTorch's own warning, and ``retain_grad()``).

>>> [e.grad for e in accumulation("x**3 + 2*x**2 + 8*x", {"x": 4}) if e.grad]
['tensor([72.])', 'tensor([144.])', 'tensor([216.])', 'tensor([0.])']
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from explorer.derivatives import function
from explorer.expression import ExpressionError


@dataclass
class Event:
    """One line of a lesson: the code that ran, and what PyTorch answered."""

    code: str
    grad: str = ""
    message: str = ""


def _scalar_output(source: str, inputs: Mapping[str, Any]):
    f = function(source, inputs, dtype="float32")
    leaves = {n: t.detach().clone().requires_grad_(True) for n, t in f.inputs.items()}
    out = f(*leaves.values())
    if out.numel() != 1:
        raise ExpressionError("these lessons use a scalar function (one output element), like the seed's")
    return f, leaves, out.sum()


def _grads(leaves) -> str:
    return ", ".join(f"{n}.grad = {t.grad}" for n, t in leaves.items()) if len(leaves) > 1 else \
        str(next(iter(leaves.values())).grad)


def second_backward(source: str, inputs: Mapping[str, Any]) -> list[Event]:
    """``backward()`` twice without ``retain_graph``: the second raises PyTorch's RuntimeError."""
    _, leaves, z = _scalar_output(source, inputs)
    events = []
    z.backward()
    events.append(Event("z.backward()", grad=_grads(leaves)))
    try:
        z.backward()
        events.append(Event("z.backward()", grad=_grads(leaves), message="no error: nothing was saved"))
    except RuntimeError as err:
        events.append(Event("z.backward()", message=f"RuntimeError: {str(err).splitlines()[0]}"))
    return events


def accumulation(source: str, inputs: Mapping[str, Any], repeats: int = 3) -> list[Event]:
    """``backward(retain_graph=True)`` repeatedly: ``.grad`` adds up; then ``.grad.zero_()``."""
    if not isinstance(repeats, int) or not 1 <= repeats <= 20:
        raise ExpressionError("repeat backward 1 to 20 times")
    _, leaves, z = _scalar_output(source, inputs)
    events = []
    for k in range(repeats):
        last = k == repeats - 1
        z.backward(retain_graph=not last)
        events.append(Event("z.backward()" if last else "z.backward(retain_graph=True)", grad=_grads(leaves)))
    for t in leaves.values():
        t.grad.zero_()
    events.append(Event("x.grad.zero_()", grad=_grads(leaves)))
    return events


def leaf_and_non_leaf(source: str, inputs: Mapping[str, Any]) -> list[Event]:
    """``.grad`` of a leaf is filled; of a non-leaf it is None with a warning, unless ``retain_grad()``."""
    f, leaves, z = _scalar_output(source, inputs)
    events = [Event(f"{n}.is_leaf", message=str(t.is_leaf)) for n, t in leaves.items()]
    events.append(Event("z.is_leaf", message=str(z.is_leaf)))
    z.backward(retain_graph=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = z.grad
    warning = str(caught[0].message).split(". ")[0] if caught else ""
    events.append(Event("z.grad", grad=str(grad), message=f"UserWarning: {warning}" if warning else ""))
    z.retain_grad()
    z.backward()
    events.append(Event("z.retain_grad(); z.backward(); z.grad", grad=str(z.grad)))
    return events
