"""Jacobians, Hessians, divergence, Laplacian, curl and higher derivatives of a typed function.

Everything starts from the same safe expression engine: a :class:`Function`
is a parsed program with its input tensors, and the results are plain
tensors, so they can come back from a worker process.

Reverse mode builds a Jacobian one row per output element (each row is a
``backward(v)`` with a one-hot ``v``); forward mode one column per input
element. So reverse is cheaper when outputs are fewer than inputs.

"Know your Jacobian" (seed 002): ``backward(ones)`` sums the Jacobian's rows.
For the divergence of a field ``g`` that is the trace only when ``J_g`` is
diagonal; the identity (one backward per row, keeping the diagonal) is
always right.

>>> r = jacobian("sin(x)", {"x": "[0.0, 1.0]"})
>>> r.jacobians["x"]
tensor([[1.0000, 0.0000],
        [0.0000, 0.5403]])
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, Program, check, parse
from explorer.inputs import make_inputs

MAX_JACOBIAN_ENTRIES = 1_000_000


@dataclass
class Function:
    """A parsed program and its leaf inputs, ready to differentiate."""

    program: Program
    inputs: dict[str, torch.Tensor]

    @property
    def names(self) -> tuple[str, ...]:
        return self.program.inputs

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The outputs, flattened and concatenated into one vector."""
        outputs = self.program.as_function()(*tensors)
        return torch.cat([o.reshape(-1) for o in outputs])


def function(source: str, inputs: Mapping[str, Any], *, seed: int = 0, dtype: str = "float64",
             device: str = "cpu", limits: Limits = DEFAULT_LIMITS) -> Function:
    """Parse ``source``, build its inputs and dry-run it: a :class:`Function` or an ``ExpressionError``."""
    program = parse(source, limits=limits)
    tensors = make_inputs(program.inputs, dict(inputs), seed=seed, dtype=dtype, device=device, limits=limits)
    check(program, tensors, limits)
    return Function(program, tensors)


def _budget(f: Function, rows: int) -> None:
    cols = sum(t.numel() for t in f.inputs.values())
    if rows * cols > MAX_JACOBIAN_ENTRIES:
        raise ExpressionError(f"the Jacobian would have {rows:,} × {cols:,} entries "
                              f"(at most {MAX_JACOBIAN_ENTRIES:,}): use smaller inputs")


@dataclass
class JacobianResult:
    """The Jacobian of the (flattened) outputs with respect to each input, and how it was computed."""

    jacobians: dict[str, torch.Tensor]
    outputs: int
    inputs: int
    cheaper: str                 # "reverse" or "forward"
    seconds: dict[str, float] = field(default_factory=dict)
    hessians: dict[str, torch.Tensor] | None = None


def jacobian(source: str, inputs: Mapping[str, Any], **options: Any) -> JacobianResult:
    """The full Jacobian by reverse and by forward mode (timed), and the Hessian of a scalar function.

    ``jacobians[name]`` has shape ``(outputs, *input.shape)`` flattened to
    ``(outputs, input.numel())``.
    """
    f = function(source, inputs, **options)
    with torch.enable_grad():
        m = f(*f.inputs.values()).numel()
    n = sum(t.numel() for t in f.inputs.values())
    _budget(f, m)
    tensors = tuple(t.detach() for t in f.inputs.values())
    seconds = {}
    start = time.perf_counter()
    reverse = torch.autograd.functional.jacobian(f, tensors, vectorize=False)
    seconds["reverse"] = time.perf_counter() - start
    start = time.perf_counter()
    forward = torch.autograd.functional.jacobian(f, tensors, vectorize=True, strategy="forward-mode")
    seconds["forward"] = time.perf_counter() - start
    for r, fw in zip(reverse, forward):
        if not torch.allclose(r, fw, rtol=1e-5, atol=1e-8, equal_nan=True):
            raise RuntimeError("reverse and forward mode disagree")  # a bug of ours or torch's, never the user's
    jacobians = {name: j.reshape(m, -1) for name, j in zip(f.names, reverse)}
    hessians = None
    if m == 1:
        _budget(f, n)
        scalar = lambda *xs: f(*xs).sum()  # noqa: E731
        hess = torch.autograd.functional.hessian(scalar, tensors)
        hessians = {name: hess[i][i].reshape(t.numel(), t.numel()) for i, (name, t) in enumerate(f.inputs.items())}
    return JacobianResult(jacobians, m, n, "reverse" if m <= n else "forward", seconds, hessians)


@dataclass
class DivergenceResult:
    """The divergence of a field ``R^n -> R^n`` (or the Laplacian of a scalar), two ways."""

    with_ones: torch.Tensor       # (J · 1) · 1: right only for a diagonal J
    with_identity: torch.Tensor   # trace(J · I): always right
    diagonal: bool
    seconds_ones: float
    seconds_identity: float

    @property
    def agree(self) -> bool:
        return bool(torch.allclose(self.with_ones, self.with_identity))


def _field(f: Function, laplacian: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if len(f.names) != 1:
        raise ExpressionError("the field must have one input vector, e.g. x (use x[0], x[1], ...)")
    x = f.inputs[f.names[0]].detach().requires_grad_(True)
    out = f(x)
    if laplacian:
        if out.numel() != 1:
            raise ExpressionError("the Laplacian needs a scalar function")
        (out,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        out = out.reshape(-1)
    if out.numel() != x.numel():
        raise ExpressionError(f"the divergence needs as many outputs as inputs: {out.numel()} outputs, "
                              f"{x.numel()} inputs")
    return x, out


def divergence(source: str, inputs: Mapping[str, Any], *, laplacian: bool = False,
               **options: Any) -> DivergenceResult:
    """``∇·g`` (or ``∇²f = ∇·∇f`` with ``laplacian=True``) computed with ``v = ones`` and with the identity."""
    f = function(source, inputs, **options)
    x, g = _field(f, laplacian)
    n = x.numel()
    _budget(f, n)
    start = time.perf_counter()
    (summed,) = torch.autograd.grad(g, x, torch.ones_like(g), retain_graph=True)
    with_ones = summed.sum()
    seconds_ones = time.perf_counter() - start
    start = time.perf_counter()
    eye = torch.eye(n, dtype=g.dtype, device=g.device)
    (rows,) = torch.autograd.grad(g, x, eye, retain_graph=True, is_grads_batched=True)
    J = rows.reshape(n, n)
    with_identity = torch.diagonal(J).sum()
    seconds_identity = time.perf_counter() - start
    diagonal = bool(torch.count_nonzero(J - torch.diag(torch.diagonal(J))) == 0)
    return DivergenceResult(with_ones.detach(), with_identity.detach(), diagonal, seconds_ones, seconds_identity)


def curl(source: str, inputs: Mapping[str, Any], **options: Any) -> torch.Tensor:
    """``∇×F`` of a field ``R³ -> R³``: ``(∂F3/∂y − ∂F2/∂z, ∂F1/∂z − ∂F3/∂x, ∂F2/∂x − ∂F1/∂y)``."""
    f = function(source, inputs, **options)
    x, g = _field(f, False)
    if x.numel() != 3:
        raise ExpressionError("the curl is defined for fields from R³ to R³: give x with 3 elements")
    J = torch.autograd.functional.jacobian(f, x.detach()).reshape(3, 3)
    return torch.stack([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]])


@dataclass
class HigherOrder:
    """Elementwise derivatives ``f, f', f'', ...`` of a function applied element by element."""

    x: torch.Tensor
    derivatives: list[torch.Tensor]
    derivative_dot: str           # the graph that computed f' (create_graph=True), in the annotated style


def higher_order(source: str, inputs: Mapping[str, Any], order: int = 2, **options: Any) -> HigherOrder:
    """``d^k f / dx^k`` for k = 0..order with ``create_graph=True``, for an elementwise ``f`` of one input.

    Each derivative is ``grad(sum of the previous, x, create_graph=True)``:
    for an elementwise function the sum's gradient is the elementwise derivative.
    """
    if not isinstance(order, int) or not 1 <= order <= 6:
        raise ExpressionError("the order must be a whole number from 1 to 6")
    f = function(source, inputs, **options)
    if len(f.names) != 1:
        raise ExpressionError("higher derivatives here take one input, e.g. x")
    x = f.inputs[f.names[0]].detach().requires_grad_(True)
    values = [f(x)]
    if values[0].numel() != x.numel():
        raise ExpressionError("the function must act element by element (as many outputs as inputs)")
    dot = ""
    for k in range(order):
        (d,) = torch.autograd.grad(values[-1].sum(), x, create_graph=True)
        if k == 0:
            from explorer.exploration import trace

            dot = trace(d.sum(), {f.names[0]: x}).to_dot("annotated")
        values.append(d.reshape(-1))
    return HigherOrder(x.detach().reshape(-1), [v.detach() for v in values], dot)


def exact_second_derivative_of_sin(n: int = 1001) -> tuple[bool, float]:
    """Seed 002's check: with ``create_graph=True``, ``sin''(x) == -sin(x)`` bit for bit on ``[0, 1]``."""
    r = higher_order("sin(x)", {"x": f"linspace(0, 1, {n})"}, order=2)
    difference = (r.derivatives[2] + torch.sin(r.x)).abs().max()
    return bool(torch.equal(r.derivatives[2], -torch.sin(r.x))), float(difference)


def timing_divergence(sizes=(10, 100, 300, 1000)) -> list[tuple[int, float, float]]:
    """Seconds of the divergence of ``sin(x)`` with ``v = ones`` and with the identity, as n grows."""
    rows = []
    for n in sizes:
        r = divergence("sin(x)", {"x": f"linspace(0, 1, {n})"})
        rows.append((n, r.seconds_ones, r.seconds_identity))
    return rows


