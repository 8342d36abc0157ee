"""A typed function, ready to differentiate: parsed, its inputs built, dry-run and run once.

Every derivative of the package starts from :func:`differentiable`. The
function that is differentiated is :meth:`Differentiable.flat`: every output
flattened and concatenated, so that ``m`` counts output elements over all
outputs, and inputs of whole numbers (class indices) are held fixed.

>>> f = differentiable("(x * y, x + y)", x=2, y=3)
>>> f.output_size, f.flat(torch.tensor([1.0]), torch.tensor([4.0]))
(2, tensor([4., 5.]))
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

from explorer.expression import DEFAULT_LIMITS, Cost, ExpressionError, Limits, Program, evaluate, parse
from explorer.inputs import prepare


@dataclass
class Differentiable:
    """A parsed program, its leaf inputs, the dry run's cost and its outputs at the inputs.

    ``outputs`` are the outputs, detached; the function that is differentiated
    is :meth:`flat`: every output flattened and concatenated, so that ``m``
    (:attr:`output_size`) counts output elements over all outputs.
    """

    program: Program
    inputs: dict[str, torch.Tensor]
    cost: Cost
    outputs: list[torch.Tensor]

    @property
    def names(self) -> tuple[str, ...]:
        return self.program.inputs

    @property
    def variables(self) -> tuple[str, ...]:
        """The inputs there are derivatives with respect to: all but inputs of whole numbers (class indices)."""
        return tuple(n for n in self.names if self.inputs[n].is_floating_point())

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return self.cost.output_shapes

    @property
    def output_size(self) -> int:
        return sum(math.prod(s) for s in self.output_shapes)

    def flat(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The outputs at ``tensors`` (one per input, in :attr:`names` order), flattened and concatenated."""
        outputs = evaluate(self.program, dict(zip(self.names, tensors))).outputs
        return torch.cat([o.reshape(-1) for o in outputs])

    def of(self, wrt: Sequence[str]) -> Callable[..., torch.Tensor]:
        """:meth:`flat` as a function of the inputs ``wrt`` only, the others held at their values."""
        fixed = {n: t.detach() for n, t in self.inputs.items()}

        def f(*tensors: torch.Tensor) -> torch.Tensor:
            return self.flat(*(dict(fixed, **dict(zip(wrt, tensors)))[n] for n in self.names))
        return f


def differentiable(source: str | Program, inputs: Mapping[str, Any] | None = None, *, seed: int = 0,
                   dtype: str = "float32", device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
                   **values: Any) -> Differentiable:
    """Parse ``source`` (or take a parsed :class:`Program`), build its inputs, dry-run and run it once.

    Inputs are given as in :func:`explorer.explore`: a mapping ``inputs`` and/or
    keywords (``x=4``, ``A="rand(10, 5)"``). Every refusal is an
    :class:`~explorer.ExpressionError`.

    >>> f = differentiable("x * y", x=2, y=3)
    >>> f.names, f.output_shapes, f.outputs[0]
    (('x', 'y'), [(1,)], tensor([6.]))
    """
    program = source if isinstance(source, Program) else parse(source, limits=limits)
    if not program.inputs:
        raise ExpressionError("the function has no inputs, so there is nothing to differentiate")
    prepared = prepare(program, {**(inputs or {}), **values}, seed=seed, dtype=dtype, device=device, limits=limits)
    tensors = prepared.tensors
    if not any(t.is_floating_point() for t in tensors.values()):
        raise ExpressionError("every input holds whole numbers (class indices), so there is nothing to "
                              "differentiate: give at least one input of real numbers")
    with torch.enable_grad():
        outputs = evaluate(program, tensors).outputs
    for out, expr in zip(outputs, program.outputs):
        if not out.is_floating_point():
            raise ExpressionError(f"{expr.text or 'the output'} gives {str(out.dtype).removeprefix('torch.')} "
                                  "values, which have no derivative: the outputs must be numbers")
    return Differentiable(program, tensors, prepared.cost, [o.detach() for o in outputs])


__all__ = ["Differentiable", "differentiable"]
