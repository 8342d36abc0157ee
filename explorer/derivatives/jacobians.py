"""The full Jacobian by reverse and by forward mode, and the Hessian, of a typed function.

For ``f: R^n -> R^m`` the Jacobian ``J[i, j] = ∂y_i/∂x_j`` is ``m × n``.
Reverse mode builds it one row at a time (a ``backward(v)`` with a one-hot
``v`` is ``vᵀJ``: one backward pass per output element), forward mode one
column at a time (a ``jvp`` with a one-hot tangent is ``J t``: one forward
pass per input element). So reverse mode is cheaper when there are fewer
outputs than inputs, and forward mode when there are fewer inputs. The
Hessian of a scalar function comes in blocks, ``hessians[a][b] = ∂²f/∂a∂b``
for every pair of inputs, as ``torch.autograd.functional.hessian`` gives them.

>>> r = jacobian("sin(x)", {"x": "[0.0, 1.0]"})
>>> r.jacobians["x"]
tensor([[1.0000, 0.0000],
        [0.0000, 0.5403]])
>>> r.cheaper
'either'
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

from explorer.derivatives.budgets import (
    MAX_ENTRIES, MAX_WORK, best_time, check_budgets, check_entries, check_repeat, check_work, torch_refusal,
)
from explorer.derivatives.function import Differentiable, differentiable
from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, Program, first_line


@dataclass
class JacobianResult:
    """The Jacobian of the (flattened, concatenated) outputs with respect to each input, both ways.

    ``jacobians[name]`` is ``m × n_name``: row ``i`` is output element ``i``,
    column ``j`` is element ``j`` of the input (flattened). ``passes`` says how
    many passes each mode takes (reverse: ``m`` backward passes, forward: ``n``
    forward passes), ``seconds`` how long each took, ``difference`` the largest
    gap between the two (rounding only). For a scalar function ``hessians``
    holds ``hessians[a][b] = ∂²f/∂a∂b`` for every pair of inputs
    (``n_a × n_b``), or is ``None`` with ``hessian_refusal`` saying why.
    """

    jacobians: dict[str, torch.Tensor]
    value: list[torch.Tensor]
    output_shapes: list[tuple[int, ...]]
    input_shapes: dict[str, tuple[int, ...]]
    passes: dict[str, int]
    seconds: dict[str, float]
    difference: float | None
    forward_refusal: str | None = None
    hessians: dict[str, torch.Tensor] | None = None
    hessian_refusal: str | None = None

    @property
    def outputs(self) -> int:
        """``m``: output elements over all outputs."""
        return self.passes["reverse"]

    @property
    def inputs(self) -> int:
        """``n``: input elements over the inputs differentiated."""
        return self.passes["forward"]

    def matrix(self) -> torch.Tensor:
        """The whole Jacobian, ``m × n``: the blocks of :attr:`jacobians` side by side."""
        return torch.cat(list(self.jacobians.values()), dim=1)

    def blocks(self) -> list[dict[str, torch.Tensor]]:
        """``blocks()[k][name]``: output ``k`` (flattened) against input ``name`` (flattened), the blocks of
        ``torch.autograd.functional.jacobian``'s tuple of tuples for several outputs and inputs."""
        ends = list(itertools.accumulate(math.prod(s) for s in self.output_shapes))
        return [{name: J[end - math.prod(shape):end] for name, J in self.jacobians.items()}
                for end, shape in zip(ends, self.output_shapes)]

    def hessian_matrix(self) -> torch.Tensor | None:
        """The whole Hessian, its blocks ``hessians[a][b]`` in place (None without a Hessian)."""
        return None if self.hessians is None else block_matrix(self.hessians)

    @property
    def cheaper(self) -> str:
        """``"reverse"`` (fewer outputs than inputs), ``"forward"`` (fewer inputs) or ``"either"``."""
        m, n = self.outputs, self.inputs
        return "reverse" if m < n else "forward" if n < m else "either"

    @property
    def verdict(self) -> str:
        """One sentence: which mode is cheaper for this shape, and why."""
        m, n = self.outputs, self.inputs
        counts = (f"reverse mode takes one backward pass per output element ({m:,}), "
                  f"forward mode one forward pass per input element ({n:,})")
        if self.cheaper == "either":
            return f"As many outputs as inputs: {counts}, so neither mode is cheaper."
        return f"{self.cheaper.capitalize()} mode is cheaper here: {counts}."


def jacobian(source: str | Program, inputs: Mapping[str, Any] | None = None, *, wrt: Sequence[str] | None = None,
             hessian: bool = True, vectorize: bool = True, repeat: int = 1, seed: int = 0, dtype: str = "float32",
             device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS, max_entries: int = MAX_ENTRIES,
             max_work: int = MAX_WORK, **values: Any) -> JacobianResult:
    """The full Jacobian by reverse mode and by forward mode, timed, and the Hessian of a scalar function.

    ``J = ∂y/∂x`` (``m × n``) by reverse mode (``m`` vector-Jacobian products
    ``vᵀJ``: ``torch.func.jacrev``) and by forward mode (``n`` Jacobian-vector
    products ``J t``: ``torch.func.jacfwd``), the passes batched with
    ``vmap``; with ``vectorize=False`` they run one by one
    (``torch.autograd.functional.jacobian``'s loop of backward passes, and a
    loop of ``torch.func.jvp``). ``wrt`` chooses the inputs (all by default). The budgets
    (``m × n ≤ max_entries``, passes × the dry run's work ``≤ max_work``) are
    checked before anything is computed.

    >>> r = jacobian("dot(x, x)", {"x": "[1.0, 2.0, 3.0]"})
    >>> r.jacobians["x"], r.cheaper
    (tensor([[2., 4., 6.]]), 'reverse')
    >>> r.hessians["x"]["x"]
    tensor([[2., 0., 0.],
            [0., 2., 0.],
            [0., 0., 2.]])
    """
    check_budgets(max_entries, max_work)
    check_repeat(repeat)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    wrt = _choose(f, wrt)
    m = f.output_size
    n = sum(f.inputs[w].numel() for w in wrt)
    check_entries("Jacobian", m, n, max_entries)
    # Both modes run (once untimed, then repeat times): m backward and n forward passes each time,
    # each pass about twice the forward's work.
    check_work("Jacobian", (m + n) * (repeat + 1), 2 * f.cost.work, max_work)
    tensors = tuple(f.inputs[w].detach() for w in wrt)
    function = f.of(wrt)

    argnums = tuple(range(len(tensors)))

    def reverse_mode() -> tuple:
        if not vectorize:  # one backward pass per output element, one after the other
            return torch.autograd.functional.jacobian(function, tensors)
        return torch.func.jacrev(function, argnums=argnums)(*tensors)

    def forward_mode() -> tuple:
        if not vectorize:  # one jvp per input element, one after the other
            return tuple(c.reshape(m, *t.shape) for c, t in zip(jacobian_columns(function, tensors), tensors))
        return torch.func.jacfwd(function, argnums=argnums)(*tensors)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*performance drop.*")  # vmap falling back to a loop
        try:
            reverse, reverse_seconds = best_time(reverse_mode, repeat)
        except (RuntimeError, NotImplementedError) as err:
            raise torch_refusal("Jacobian", err) from None
        seconds = {"reverse": reverse_seconds}
        forward, forward_refusal = None, None
        try:
            forward, seconds["forward"] = best_time(forward_mode, repeat)
        except (RuntimeError, NotImplementedError, ExpressionError) as err:
            # Some operations have no forward-mode formula (or no batching rule for it): reverse still stands.
            forward_refusal = f"forward mode is not available here: {first_line(err)}"
    jacobians = {w: j.detach().reshape(m, -1).cpu() for w, j in zip(wrt, reverse)}
    difference = None
    if forward is not None:
        difference = max((float((r - fw).abs().max()) if r.numel() else 0.0 for r, fw in zip(reverse, forward)),
                         default=0.0)
    result = JacobianResult(
        jacobians=jacobians, value=[o.cpu() for o in f.outputs], output_shapes=f.output_shapes,
        input_shapes={w: tuple(f.inputs[w].shape) for w in wrt}, passes={"reverse": m, "forward": n},
        seconds=seconds, difference=difference, forward_refusal=forward_refusal)
    if hessian and m == 1:
        try:
            result.hessians = _hessians(f, wrt, max_entries, max_work)
        except ExpressionError as err:
            result.hessian_refusal = err.message
    return result


def jacobian_columns(function: Callable[..., torch.Tensor], point: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Forward mode, one pass per input element: column ``j`` of ``J`` is the ``jvp`` with tangent ``e_j``.

    ``function`` maps the tensors of ``point`` to one tensor; returns, per
    input, ``J`` as ``(output elements, input elements)``.

    >>> jacobian_columns(lambda x: x * x, [torch.tensor([1.0, 2.0])])
    [tensor([[2., 0.],
            [0., 4.]])]
    """
    point = tuple(t.detach() for t in point)
    blocks = []
    for i, t in enumerate(point):
        columns = []
        for j in range(t.numel()):
            tangents = [torch.zeros_like(u) for u in point]
            tangents[i].view(-1)[j] = 1
            _, column = torch.func.jvp(function, point, tuple(tangents))
            columns.append(column.reshape(-1))
        blocks.append(torch.stack(columns, dim=1) if columns else torch.zeros(0, 0, dtype=t.dtype))
    return blocks


def _choose(f: Differentiable, wrt: Sequence[str] | None) -> tuple[str, ...]:
    """The inputs to differentiate with respect to: ``wrt`` (all by default), less those of whole numbers."""
    if wrt is None:
        return f.variables
    if isinstance(wrt, str):
        wrt = (wrt,)
    unknown = [w for w in wrt if w not in f.names]
    if unknown:
        raise ExpressionError(f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not an "
                              f"input of the function (its inputs: {', '.join(f.names)})")
    chosen = tuple(w for w in dict.fromkeys(wrt) if w in f.variables)
    if not chosen:
        raise ExpressionError("choose at least one input of real numbers to differentiate with respect to "
                              "(inputs of whole numbers, such as class indices, have no derivative)")
    return chosen


def _hessians(f: Differentiable, wrt: Sequence[str], max_entries: int,
              max_work: int) -> dict[str, dict[str, torch.Tensor]]:
    """``∂²f/∂a∂b`` of the scalar ``f`` for every pair of inputs ``a``, ``b`` in ``wrt``: the blocks
    ``hessians[a][b]`` (``n_a × n_b``), as ``torch.autograd.functional.hessian``'s tuple of tuples."""
    sizes = [f.inputs[w].numel() for w in wrt]
    check_entries(f"Hessian in {', '.join(wrt)}", sum(sizes), sum(sizes), max_entries)
    # One pass for the gradient, then one pass through it per row.
    check_work("Hessian", sum(sizes) + 1, 4 * f.cost.work, max_work)
    tensors = tuple(f.inputs[w].detach() for w in wrt)
    scalar = f.of(wrt)

    def total(*t: torch.Tensor) -> torch.Tensor:
        return scalar(*t).sum()

    try:  # forward over reverse: n jvps through the gradient
        h = torch.func.hessian(total, argnums=tuple(range(len(wrt))))(*tensors)
    except (RuntimeError, NotImplementedError, ExpressionError):
        try:  # an operation without a forward-mode formula for its backward: reverse over reverse
            h = torch.autograd.functional.hessian(total, tensors, vectorize=True)
        except (RuntimeError, NotImplementedError) as err:
            raise torch_refusal("Hessian", err) from None
    return {a: {b: h[i][j].detach().reshape(sizes[i], sizes[j]).cpu() for j, b in enumerate(wrt)}
            for i, a in enumerate(wrt)}


def block_matrix(blocks: Mapping[str, Mapping[str, torch.Tensor]]) -> torch.Tensor:
    """The blocks ``blocks[a][b]`` put together into one matrix, rows in the order of ``a``, columns of ``b``.

    >>> h = hessian("x * y", x=2, y=3).hessians
    >>> block_matrix(h)
    tensor([[0., 1.],
            [1., 0.]])
    """
    return torch.cat([torch.cat(list(row.values()), dim=1) for row in blocks.values()], dim=0)


@dataclass
class HessianResult:
    """The value, gradient and Hessian of a scalar function: ``hessians[a][b]`` is ``∂²f/∂a∂b``
    (``n_a × n_b``, inputs flattened) for every pair of inputs, mixed ones included."""

    value: float
    gradients: dict[str, torch.Tensor]
    hessians: dict[str, dict[str, torch.Tensor]]

    def matrix(self) -> torch.Tensor:
        """The whole Hessian: the blocks in place, inputs in the order of :attr:`gradients`."""
        return block_matrix(self.hessians)

    def symmetric(self, tolerance: float = 1e-6) -> bool:
        """Whether the Hessian equals its transpose, ``∂²f/∂a∂b = (∂²f/∂b∂a)ᵀ`` (it does where ``f`` is
        twice continuously differentiable)."""
        h = self.matrix()
        return torch.allclose(h, h.T, atol=tolerance, rtol=tolerance)


def hessian(source: str | Program, inputs: Mapping[str, Any] | None = None, *, wrt: Sequence[str] | None = None,
            seed: int = 0, dtype: str = "float32", device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
            max_entries: int = MAX_ENTRIES, max_work: int = MAX_WORK, **values: Any) -> HessianResult:
    """The Hessian ``H[j, k] = ∂²f/∂x_j∂x_k`` of a scalar function, for every pair of inputs, with its gradient.

    >>> hessian("dot(x, x)", x="ones(2)").hessians["x"]["x"]
    tensor([[2., 0.],
            [0., 2.]])
    >>> hessian("x**2 * y", x=3, y=5).hessians["x"]["y"]   # ∂²f/∂x∂y = 2x
    tensor([[6.]])
    """
    check_budgets(max_entries, max_work)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    if f.output_size != 1:
        raise ExpressionError(f"the Hessian needs a scalar function (one output element), not {f.output_size:,} "
                              "output elements: wrap it in sum(...) or pick one element")
    wrt = _choose(f, wrt)
    hessians = _hessians(f, wrt, max_entries, max_work)
    leaves = [f.inputs[w].detach().requires_grad_(True) for w in wrt]
    with torch.enable_grad():
        out = f.of(wrt)(*leaves).sum()
        grads = torch.autograd.grad(out, leaves, allow_unused=True, materialize_grads=True)
    return HessianResult(float(out.detach()), {w: g.detach().cpu() for w, g in zip(wrt, grads)}, hessians)


__all__ = ["HessianResult", "JacobianResult", "block_matrix", "hessian", "jacobian", "jacobian_columns"]
