"""Vector calculus two ways: divergence and Laplacian with ``v = ones`` and with the identity; curl.

"Know your Jacobian" (seed 002): ``backward(ones)`` gives ``1ᵀJ``, and
``(1ᵀJ)·1`` adds up *every* entry of ``J``. That is the divergence
``∇·g = trace(J_g)`` only when ``J_g`` is diagonal; the identity (one row
per backward pass, keeping the diagonal) is always right. A field is a
function of one vector input (``x`` with ``n`` elements) or of ``n``
one-number inputs (``x, y, z``, taken in alphabetical order).

>>> d = divergence("stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"})
>>> d.with_ones, d.with_identity, d.diagonal
(12.0, 6.0, False)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from explorer.checks import is_whole
from explorer.derivatives.budgets import (
    MAX_ENTRIES, MAX_WORK, best_time, check_budgets, check_entries, check_repeat, check_work, torch_refusal,
)
from explorer.derivatives.function import Differentiable, differentiable
from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, Program, parse

IDENTITY_CHUNK = 1024  # rows of the identity sent through one batched backward pass


def _coordinates(f: Differentiable) -> tuple[tuple[str, ...], Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """The point as one vector and the field as a function of it.

    A field is a function of one vector input (``x`` with ``n`` elements) or
    of ``n`` one-element inputs (``x, y, z``), taken in alphabetical order.
    """
    names = f.variables
    if len(names) == 1:
        name = names[0]
        x = f.inputs[name].detach()
        shape = x.shape
        flat = f.of((name,))
        return (name,), lambda v: flat(v.reshape(shape)), x.reshape(-1)
    if all(f.inputs[n].numel() == 1 for n in names):
        names = tuple(sorted(names))
        flat = f.of(names)
        shapes = [f.inputs[n].shape for n in names]
        return names, (lambda v: flat(*(v[i].reshape(s) for i, s in enumerate(shapes)))), \
            torch.cat([f.inputs[n].detach().reshape(-1) for n in names])
    raise ExpressionError("a field takes one vector input (x, with x[0], x[1], ...) or several one-number "
                          f"inputs (x, y, z); this function has inputs {', '.join(names)}")


def _field(f: Differentiable, laplacian: bool) -> tuple[tuple[str, ...], torch.Tensor, torch.Tensor]:
    """(coordinate names, the leaf point ``x``, the field ``g(x)``; ``∇f`` itself for the Laplacian)."""
    names, field_of, point = _coordinates(f)
    x = point.clone().requires_grad_(True)
    with torch.enable_grad():
        g = field_of(x)
        if laplacian:
            if g.numel() != 1:
                raise ExpressionError(f"the Laplacian needs a scalar function (one output element), not "
                                      f"{g.numel():,} output elements")
            (g,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    if g.numel() != x.numel():
        raise ExpressionError(f"the divergence needs a field with as many outputs as inputs: {g.numel():,} "
                              f"output elements for {x.numel():,} input elements")
    if not g.requires_grad:
        raise ExpressionError("the field does not depend on its input, so its divergence is 0")
    return names, x, g


@dataclass
class DivergenceTiming:
    """Seconds of each way at one size ``n`` (``refusal`` says why a size could not run)."""

    n: int
    seconds_ones: float | None = None
    seconds_identity: float | None = None
    agree: bool | None = None
    refusal: str | None = None


@dataclass
class DivergenceResult:
    """``∇·g`` (or ``∇²f = ∇·∇f``) two ways at one point, and the verdict on the ones-trick.

    ``with_ones`` is ``(1ᵀJ)·1``, one backward pass with ``v = ones``: the sum
    of *all* entries of ``J``. ``with_identity`` is ``trace(J)``, from the rows
    ``J·I`` (one backward pass per row, batched): the divergence. They differ
    by ``off_diagonal_sum``, the sum of the entries off the diagonal;
    ``diagonal`` says whether there are any. ``jacobian`` is ``J`` (for the
    Laplacian, the Hessian of ``f``).
    """

    with_ones: float
    with_identity: float
    diagonal: bool
    off_diagonal_sum: float
    jacobian: torch.Tensor
    coordinates: tuple[str, ...]
    laplacian: bool
    seconds_ones: float
    seconds_identity: float
    timings: list[DivergenceTiming] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        """Whether the two ways give the same number (up to rounding)."""
        return math.isclose(self.with_ones, self.with_identity, rel_tol=1e-5, abs_tol=1e-6)

    @property
    def verdict(self) -> str:
        """When the ones-trick is right, and why."""
        what = "∇²f" if self.laplacian else "∇·g"
        if self.diagonal:
            return (f"J is diagonal here, so v = ones picks out exactly its diagonal: both ways give {what} = "
                    f"{self.with_identity:.6g}, and the ones-trick is cheaper (one backward pass instead of "
                    f"{self.jacobian.shape[0]:,}).")
        if self.agree:
            return (f"J is not diagonal: v = ones also adds its off-diagonal entries, which happen to cancel here "
                    f"(they sum to {self.off_diagonal_sum:.3g}), so the ones-trick agrees by luck. Only the identity "
                    f"is right in general: {what} = {self.with_identity:.6g}.")
        return (f"J is not diagonal: v = ones also adds its off-diagonal entries (they sum to "
                f"{self.off_diagonal_sum:.6g}), so (J·1)·1 = {self.with_ones:.6g} is wrong. Only the identity "
                f"gives {what} = trace(J) = {self.with_identity:.6g}.")


@dataclass
class _TwoWays:
    with_ones: float
    with_identity: float
    off_diagonal_sum: float
    diagonal: bool
    jacobian: torch.Tensor | None
    seconds_ones: float
    seconds_identity: float


def _two_ways(x: torch.Tensor, g: torch.Tensor, repeat: int, keep: bool) -> _TwoWays:
    """Seed 002's two ways on a built graph ``g(x)``: ``(1ᵀJ)·1`` and ``trace(J·I)``, each timed.

    The identity goes through in chunks of rows (memory ``O(chunk × n)``);
    ``J`` itself is kept only when ``keep``.
    """
    n = x.numel()

    def ones() -> torch.Tensor:
        (column_sums,) = torch.autograd.grad(g, x, torch.ones_like(g), retain_graph=True)
        return column_sums.sum()

    def identity(inspect: bool = False):
        trace = torch.zeros((), dtype=g.dtype, device=g.device)
        total, off_diagonal, rows = torch.zeros_like(trace), 0, []
        for start in range(0, n, IDENTITY_CHUNK):
            stop = min(n, start + IDENTITY_CHUNK)
            chunk = torch.arange(stop - start, device=g.device)
            eye = torch.zeros(stop - start, n, dtype=g.dtype, device=g.device)
            eye[chunk, chunk + start] = 1
            (J,) = torch.autograd.grad(g, x, eye, retain_graph=True, is_grads_batched=True,
                                       allow_unused=True, materialize_grads=True)
            J = J.reshape(stop - start, n)
            diagonal = J[chunk, chunk + start]
            trace = trace + diagonal.sum()
            if inspect:
                total = total + J.sum()
                off_diagonal += int(torch.count_nonzero(J)) - int(torch.count_nonzero(diagonal))
                if keep:
                    rows.append(J.detach())
        if not inspect:
            return trace
        return trace, total, off_diagonal == 0, torch.cat(rows) if keep else None

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*performance drop.*")  # vmap falling back to a loop
        try:
            trace, total, diagonal, J = identity(inspect=True)
            with_ones, seconds_ones = best_time(ones, repeat)
            _, seconds_identity = best_time(identity, repeat)
        except (RuntimeError, NotImplementedError) as err:
            raise torch_refusal("divergence", err) from None
    return _TwoWays(float(with_ones), float(trace), float(total - trace), diagonal,
                    None if J is None else J.detach().cpu(), seconds_ones, seconds_identity)


def divergence(source: str | Program, inputs: Mapping[str, Any] | None = None, *, laplacian: bool = False,
               sizes: Sequence[int] = (), repeat: int = 1, seed: int = 0, dtype: str = "float32",
               device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS, max_entries: int = MAX_ENTRIES,
               max_work: int = MAX_WORK, **values: Any) -> DivergenceResult:
    """``∇·g = Σ ∂g_i/∂x_i`` of a field ``R^n -> R^n`` (or ``∇²f = ∇·∇f`` with ``laplacian=True``), two ways.

    With ``v = ones`` (one backward pass: right only when ``J`` is diagonal)
    and with the identity (``n`` backward passes, batched: always right).
    ``sizes`` also times both ways as ``n`` grows, with the input made
    ``rand(n)`` for each ``n`` (the function must then take one vector input).

    >>> d = divergence("dot(x, x)", {"x": "ones(3)"}, laplacian=True)   # seed 002: div(grad(x·x)) = 6
    >>> d.with_ones, d.with_identity, d.diagonal
    (6.0, 6.0, True)
    >>> divergence("stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"}).with_ones
    12.0
    """
    check_budgets(max_entries, max_work)
    check_repeat(repeat)
    sizes = _check_sizes(sizes)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    names, two = _divergence_of(f, laplacian, repeat, max_entries, max_work, keep=True)
    timings = []
    if sizes:
        if len(f.names) != 1:
            raise ExpressionError("timing as n grows needs one vector input (x, with x[0], x[1], ...)")
        for n in sizes:
            timings.append(_timing_at(f.program, n, laplacian, repeat, seed, dtype, device, limits, max_entries,
                                      max_work))
    return DivergenceResult(
        with_ones=two.with_ones, with_identity=two.with_identity, diagonal=two.diagonal,
        off_diagonal_sum=two.off_diagonal_sum, jacobian=two.jacobian, coordinates=names, laplacian=laplacian,
        seconds_ones=two.seconds_ones, seconds_identity=two.seconds_identity, timings=timings)


def _divergence_of(f: Differentiable, laplacian: bool, repeat: int, max_entries: int, max_work: int,
                   keep: bool) -> tuple[tuple[str, ...], _TwoWays]:
    n = sum(f.inputs[name].numel() for name in f.variables)
    check_entries("Jacobian of the field", n, n, max_entries)
    # The identity takes n backward passes (through the gradient's own graph for the Laplacian).
    check_work("divergence", (n + 1) * (repeat + 1), (4 if laplacian else 2) * f.cost.work, max_work)
    names, x, g = _field(f, laplacian)
    return names, _two_ways(x, g, repeat, keep)


def _timing_at(program: Program, n: int, laplacian: bool, repeat: int, seed: int, dtype: str,
               device: str | None, limits: Limits, max_entries: int, max_work: int) -> DivergenceTiming:
    try:
        f = differentiable(program, {program.inputs[0]: f"rand({n})"}, seed=seed, dtype=dtype, device=device,
                           limits=limits)
        _, two = _divergence_of(f, laplacian, repeat, max_entries, max_work, keep=False)
    except ExpressionError as err:
        return DivergenceTiming(n, refusal=err.message)
    agree = math.isclose(two.with_ones, two.with_identity, rel_tol=1e-5, abs_tol=1e-6)
    return DivergenceTiming(n, two.seconds_ones, two.seconds_identity, agree)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, int) or not all(is_whole(n) and n >= 1 for n in sizes):
        raise ValueError(f"sizes must be a sequence of whole numbers >= 1, not {sizes!r}")
    if len(sizes) > 12:
        raise ValueError(f"time at most 12 sizes, got {len(sizes)}")
    return tuple(sizes)


def divergence_timings(source: str | Program, sizes: Sequence[int] = (10, 100, 1000, 10_000), *,
                       laplacian: bool = False, repeat: int = 3, seed: int = 0, dtype: str = "float32",
                       device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
                       max_entries: int = 10**8, max_work: int = MAX_WORK) -> list[DivergenceTiming]:
    """Seconds of the divergence with ``v = ones`` and with the identity at ``x = rand(n)`` for each ``n``.

    For the benchmark: the budgets default to ``n = 10,000``; the identity is
    sent in chunks of rows, so memory stays ``O(chunk × n)``.

    >>> [t.n for t in divergence_timings("sin(x)", (10, 100), repeat=1)]
    [10, 100]
    """
    check_budgets(max_entries, max_work)
    check_repeat(repeat)
    program = source if isinstance(source, Program) else parse(source, limits=limits)
    if len(program.inputs) != 1:
        raise ExpressionError("timing as n grows needs one vector input (x, with x[0], x[1], ...)")
    return [_timing_at(program, n, laplacian, repeat, seed, dtype, device, limits, max_entries, max_work)
            for n in _check_sizes(sizes)]


@dataclass
class CurlResult:
    """``∇×F`` at a point, with the Jacobian it comes from (``J[i, j] = ∂F_i/∂x_j``)."""

    curl: torch.Tensor
    jacobian: torch.Tensor
    point: torch.Tensor
    coordinates: tuple[str, ...]


def curl(source: str | Program, inputs: Mapping[str, Any] | None = None, *, seed: int = 0, dtype: str = "float32",
         device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS, **values: Any) -> CurlResult:
    """``∇×F = (∂F₃/∂y − ∂F₂/∂z, ∂F₁/∂z − ∂F₃/∂x, ∂F₂/∂x − ∂F₁/∂y)`` of a field ``R³ -> R³``.

    The field takes one input with 3 elements (``x[0], x[1], x[2]``) or three
    one-number inputs (``x, y, z``, in alphabetical order).

    >>> curl("stack([-x[1], x[0], 0*x[2]])", {"x": "[1.0, 2.0, 3.0]"}).curl
    tensor([0., 0., 2.])
    >>> curl("(-y, x, 0*z)", x=1, y=2, z=3).curl
    tensor([0., 0., 2.])
    """
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    names, field_of, point = _coordinates(f)
    if point.numel() != 3 or f.output_size != 3:
        raise ExpressionError(f"the curl is defined for fields from R³ to R³: this one goes from "
                              f"R^{point.numel()} to R^{f.output_size} (give x with 3 elements, or x, y, z; "
                              "write 0*z to use z in a constant component)")
    try:
        J = torch.autograd.functional.jacobian(field_of, point)
    except (RuntimeError, NotImplementedError) as err:
        raise torch_refusal("curl", err) from None
    J = J.detach().reshape(3, 3).cpu()
    rot = torch.stack([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]])
    return CurlResult(rot, J, point.cpu(), names)


__all__ = ["CurlResult", "DivergenceResult", "DivergenceTiming", "curl", "divergence", "divergence_timings"]
