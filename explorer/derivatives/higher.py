"""Higher derivatives: ``create_graph=True`` again and again, checked against SymPy; the graph of a derivative.

For a function applied element by element the Jacobian is diagonal, so the
gradient of the sum is the derivative at every element, and differentiating
that gradient (which ``create_graph=True`` made differentiable) gives the
next order. Seed 002 asserts ``sin''(x) == -sin(x)`` bit for bit.

>>> r = higher_order("x**3", {"x": "[1.0, 2.0]"}, order=3, graphs=False)
>>> [d.tolist() for d in r.derivatives]
[[1.0, 8.0], [3.0, 12.0], [6.0, 12.0], [6.0, 6.0]]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from explorer.checks import whole_number
from explorer.derivatives.budgets import MAX_WORK, check_budgets, check_work, torch_refusal
from explorer.derivatives.function import differentiable
from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, Program, first_line

MAX_ORDER = 8


@dataclass
class HigherOrder:
    """``f, f', f'', ...`` of a function applied element by element, and how they compare with SymPy's.

    ``derivatives[k]`` is ``f⁽ᵏ⁾(x)`` by autograd (``create_graph=True`` at
    each step). ``formulas[k]`` is SymPy's ``f⁽ᵏ⁾`` in LaTeX, and
    ``differences[k]`` the largest gap between autograd's numbers and that
    formula evaluated by torch (``0.0``: bit for bit), when the function has a
    symbolic form (else ``symbolic_refusal`` says why). ``original_dot`` and
    ``derivative_dot`` are the graph of ``f`` and the graph that
    ``create_graph=True`` built for ``f'`` (torchviz style; ``graph_refusal``
    says why they are missing, if they are).
    """

    x: torch.Tensor
    derivatives: list[torch.Tensor]
    formulas: list[str] = field(default_factory=list)
    differences: list[float] = field(default_factory=list)
    symbolic_refusal: str | None = None
    original_dot: str = ""
    derivative_dot: str = ""
    graph_refusal: str | None = None

    @property
    def exact(self) -> list[bool]:
        """For each order, whether autograd equals the symbolic derivative bit for bit."""
        return [d == 0.0 for d in self.differences]


def higher_order(source: str | Program, inputs: Mapping[str, Any] | None = None, *, order: int = 2,
                 graphs: bool = True, seed: int = 0, dtype: str = "float32", device: str | None = "cpu",
                 limits: Limits = DEFAULT_LIMITS, max_work: int = MAX_WORK, **values: Any) -> HigherOrder:
    """``dᵏf/dxᵏ`` for ``k = 0..order`` of an elementwise ``f`` of one input, with ``create_graph=True``.

    Each derivative is ``grad(sum of the previous, x, create_graph=True)``:
    for a function applied element by element the Jacobian is diagonal, so the
    gradient of the sum is the derivative at each element. That is checked
    first (one ``jvp`` with a random tangent must equal the gradient times the
    tangent); a function that mixes elements is refused.

    >>> r = higher_order("sin(x)", {"x": "[0.0, 1.0]"})
    >>> r.derivatives[2], r.formulas[2], r.exact[2]
    (tensor([-0.0000, -0.8415]), '- \\\\sin{\\\\left(x \\\\right)}', True)
    """
    whole_number(order, "the order", least=1, most=MAX_ORDER, error=ExpressionError)
    check_budgets(1, max_work)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    if len(f.names) != 1:
        raise ExpressionError(f"higher derivatives here take one input, e.g. x; this function has "
                              f"{len(f.names)} ({', '.join(f.names)})")
    name = f.names[0]
    x = f.inputs[name].detach().requires_grad_(True)
    if f.output_size != x.numel():
        raise ExpressionError(f"the function must act element by element: {f.output_size:,} output elements "
                              f"for {x.numel():,} input elements")
    # Each order differentiates the whole graph built so far, which about doubles with each order.
    check_work(f"derivatives up to order {order}", 2 ** (order + 1), f.cost.work, max_work)
    flat = f.of((name,))
    _check_elementwise(flat, x, seed)
    values_ = []
    try:
        with torch.enable_grad():
            current = flat(x).reshape(x.shape)
            values_.append(current)
            for _ in range(order):
                if not current.requires_grad:  # a polynomial differentiated past its degree
                    current = torch.zeros_like(x)
                else:
                    (current,) = torch.autograd.grad(current.sum(), x, create_graph=True, allow_unused=True,
                                                     materialize_grads=True)
                values_.append(current)
    except (RuntimeError, NotImplementedError) as err:
        raise torch_refusal("derivative", err) from None
    derivatives = [v.detach().reshape(-1).cpu() for v in values_]
    result = HigherOrder(x.detach().reshape(-1).cpu(), derivatives)
    _compare_with_symbolic(result, f.program, x.detach())
    if graphs:
        try:
            result.original_dot, result.derivative_dot = derivative_graphs(f.program, {name: x.detach()}, dtype=dtype)
        except (RuntimeError, ValueError) as err:  # the derivatives stand without their drawing
            result.graph_refusal = f"the graphs could not be captured: {first_line(err)}"
    return result


def _check_elementwise(flat: Callable, x: torch.Tensor, seed: int) -> None:
    if x.numel() == 1:
        return
    tangent = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype).to(x.device)
    try:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            out = flat(leaf)
            (diagonal,) = torch.autograd.grad(out.sum(), leaf, allow_unused=True, materialize_grads=True)
        _, along = torch.func.jvp(flat, (x.detach(),), (tangent,))
    except (RuntimeError, NotImplementedError, ExpressionError):
        return  # no forward mode for some operation: the check cannot be made, the derivatives still can
    expected = (diagonal * tangent).reshape(-1)
    scale = float(along.abs().max()) + float(expected.abs().max()) + 1.0
    if float((along - expected).abs().max()) > 1e-4 * scale:
        raise ExpressionError("the function mixes elements (its Jacobian is not diagonal), so the gradient of its "
                              "sum is not its derivative element by element: know your Jacobian. Use a function "
                              "applied element by element, such as sin(x) or x**3 - 2*x")


def _compare_with_symbolic(result: HigherOrder, program: Program, x: torch.Tensor) -> None:
    """Fill ``formulas`` and ``differences``: SymPy's derivatives, evaluated by torch, against autograd's."""
    from explorer import symbolic

    try:
        expressions = symbolic.derivatives(program, len(result.derivatives) - 1)
        formulas = [symbolic.latex(e) for e in expressions]
        exact = [symbolic.torch_value(e, {program.inputs[0]: x}).reshape(-1).cpu() for e in expressions]
    except ExpressionError as err:
        result.symbolic_refusal = err.message
        return
    result.formulas = formulas
    result.differences = [
        float((a.to(torch.float64) - e.to(torch.float64).expand_as(a)).abs().max()) if a.numel() else 0.0
        for a, e in zip(result.derivatives, exact)]


def derivative_graphs(program: Program, inputs: Mapping[str, torch.Tensor], *, dtype: str = "float32",
                      style: str = "torchviz") -> tuple[str, str]:
    """DOT of the graph of ``f`` and of the graph ``create_graph=True`` builds for its gradient.

    Drawn by :mod:`explorer.dot` (the same look as ``torchviz.make_dot``,
    at any depth), from a run with ``backward(ones)``.

    >>> from explorer.expression import parse
    >>> original, derivative = derivative_graphs(parse("sin(x)"), {"x": torch.zeros(2)})
    >>> "SinBackward0" in original, "CosBackward0" in derivative
    (True, True)
    """
    from explorer.dot import to_dot
    from explorer.exploration import explore

    ex = explore(program.source, inputs={n: t.detach().cpu() for n, t in inputs.items()}, dtype=dtype,
                 device="cpu", create_graph=True)
    derivative = ex.graph.derivative
    return ex.to_dot(style), to_dot(derivative, style) if derivative is not None else ""


@dataclass
class SinCheck:
    """Seed 002's check: ``sin'(x) == cos(x)`` and ``sin''(x) == -sin(x)``, exactly, on ``n`` points of [0, 1]."""

    n: int
    dtype: str
    first_error: float
    second_error: float

    @property
    def exact(self) -> bool:
        return self.first_error == 0.0 and self.second_error == 0.0


def sin_check(n: int = 1001, dtype: str = "float32") -> SinCheck:
    """Autograd's ``sin'`` and ``sin''`` (``create_graph=True``) against ``cos`` and ``-sin``, as seed 002 does.

    The errors are ``max |exact − autograd|``; the seed asserts both are 0.

    >>> sin_check().exact
    True
    """
    r = higher_order("sin(x)", {"x": f"linspace(0, 1, {n})"}, order=2, graphs=False, dtype=dtype)
    x = r.x
    first = float((torch.cos(x) - r.derivatives[1]).abs().max())
    second = float((-torch.sin(x) - r.derivatives[2]).abs().max())
    return SinCheck(n, dtype, first, second)


__all__ = ["HigherOrder", "MAX_ORDER", "SinCheck", "derivative_graphs", "higher_order", "sin_check"]
