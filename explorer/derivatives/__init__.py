"""Jacobians, Hessians, divergence, Laplacian, curl and higher derivatives of a typed function.

Everything starts from the same safe expression engine: a
:class:`Differentiable` is a parsed program with its leaf inputs and the dry
run's cost, and every result is a small dataclass of plain CPU tensors and
numbers, so that it can come back from a worker process
(:func:`explorer.sandbox.run_isolated`). Work is refused before it starts:
the Jacobian's entries (output elements × input elements) and the passes it
takes are checked against budgets first.

One subject a module, each name importable from here:

- :mod:`~explorer.derivatives.function`: :func:`differentiable`, the typed function ready to differentiate;
- :mod:`~explorer.derivatives.budgets`: ``MAX_ENTRIES``, ``MAX_WORK``, the checks before work, :func:`best_time`;
- :mod:`~explorer.derivatives.jacobians`: :func:`jacobian` (reverse and forward mode), :func:`hessian`;
- :mod:`~explorer.derivatives.vector_calculus`: :func:`divergence` and the Laplacian two ways, :func:`curl`;
- :mod:`~explorer.derivatives.higher`: :func:`higher_order`, :func:`derivative_graphs`, :func:`sin_check`.

>>> jacobian("x * y", x=2, y=3).jacobians
{'x': tensor([[3.]]), 'y': tensor([[2.]])}
>>> hessian("x * y", x=2, y=3).hessians["x"]["y"]   # ∂²(xy)/∂x∂y
tensor([[1.]])
>>> divergence("x * sum(x)", {"x": "[1.0, 2.0]"}).with_identity   # ∂(x₀(x₀+x₁))/∂x₀ + ∂(x₁(x₀+x₁))/∂x₁
9.0
"""
from explorer.derivatives.budgets import MAX_ENTRIES, MAX_WORK, best_time
from explorer.derivatives.function import Differentiable, differentiable
from explorer.derivatives.higher import MAX_ORDER, HigherOrder, SinCheck, derivative_graphs, higher_order, sin_check
from explorer.derivatives.jacobians import (
    HessianResult, JacobianResult, block_matrix, hessian, jacobian, jacobian_columns,
)
from explorer.derivatives.vector_calculus import (
    CurlResult, DivergenceResult, DivergenceTiming, curl, divergence, divergence_timings,
)

__all__ = [
    "CurlResult", "Differentiable", "DivergenceResult", "DivergenceTiming", "HessianResult", "HigherOrder",
    "JacobianResult", "MAX_ENTRIES", "MAX_ORDER", "MAX_WORK", "SinCheck", "best_time", "block_matrix", "curl",
    "derivative_graphs", "differentiable", "divergence", "divergence_timings", "hessian", "higher_order", "jacobian",
    "jacobian_columns", "sin_check",
]
