"""Four ways to a derivative, side by side (the table of seed 004, made live).

For a scalar ``f`` at a point, the gradient by:

* **symbolic** differentiation: SymPy's derivative of the expression tree
  (:mod:`explorer.symbolic`), evaluated with 30 significant digits: exact,
  and the reference the others are measured against;
* **finite differences**, forward ``(f(x + h·e_j) − f(x)) / h`` and central
  ``(f(x + h·e_j) − f(x − h·e_j)) / 2h``, one or two evaluations per input
  element. Their error against ``h`` draws a V on a log-log plot: on the
  right the truncation error of Taylor's formula (``h/2 · f''`` forward,
  ``h²/6 · f'''`` central: slopes 1 and 2), on the left round-off
  (``f(x + h) − f(x)`` keeps fewer and fewer digits, ``≈ ε·|f|/h``: slope
  −1). The bottom of the V is near ``h ≈ √ε`` (forward) or ``∛ε``
  (central): about 3e-4 and 5e-3 in float32, 1e-8 and 6e-6 in float64;
* **reverse-mode** autograd: one backward pass (``torch.autograd.grad``);
* **forward-mode** autograd: one ``jvp`` per input element (``torch.func.jvp``).

>>> r = compare("log(x[0]*x[1]) * sin(x[1])", {"x": [0.5, 0.75]})
>>> [round(v, 4) for v in r.methods["reverse_mode"]["x"].value.tolist()]
[1.3633, 0.1912]
>>> [round(v, 4) for v in r.methods["forward_difference"]["x"].value.tolist()]   # seed 004, h = 1e-3, float32
[1.3619, 0.1919]
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from explorer.derivatives import MAX_WORK, Differentiable, best_time, differentiable, jacobian_columns
from explorer.derivatives.budgets import check_repeat
from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, Program, first_line
from explorer.inputs import DTYPES, resolve_dtype

METHODS = ("symbolic", "forward_difference", "central_difference", "reverse_mode", "forward_mode")
STEPS = tuple(10.0 ** -k for k in range(1, 13))
MAX_ELEMENTS = 100  # input elements: every one costs evaluations in every finite-difference curve


def optimal_step(kind: str, dtype: str) -> float:
    """Where the V bottoms out for ``|f| ≈ |f''| ≈ 1``: ``√ε`` (forward) or ``∛ε`` (central).

    >>> f"{optimal_step('forward', 'float64'):.1e}"
    '1.5e-08'
    """
    if kind not in ("forward", "central"):
        raise ValueError(f"kind must be 'forward' or 'central', not {kind!r}")
    eps = torch.finfo(resolve_dtype(dtype)).eps
    return eps ** 0.5 if kind == "forward" else eps ** (1 / 3)


@dataclass
class Estimate:
    """One method's gradient for one input (shaped like it), its error against the reference, its time."""

    value: torch.Tensor | None
    error: float | None
    seconds: float | None


@dataclass
class Comparison:
    """The four ways side by side, for every input of a scalar function at one point.

    ``methods[method][input]`` is an :class:`Estimate`. ``reference`` names
    what errors are measured against: ``"symbolic"``, or, for a function
    without a symbolic form (``symbolic_refusal`` says why), reverse mode in
    float64. ``formulas`` and ``latex`` hold ``∂f/∂s`` for every symbol ``s``
    (``x`` or ``x_0, x_1, ...``). ``step_errors["forward float32"]`` is the V:
    ``(h, max error)`` for every ``h`` in :data:`STEPS`.
    """

    value: float
    methods: dict[str, dict[str, Estimate]]
    reference: str
    step: float
    dtype: str
    function: str = ""
    function_latex: str = ""
    formulas: dict[str, str] = field(default_factory=dict)
    latex: dict[str, str] = field(default_factory=dict)
    symbolic_refusal: str | None = None
    step_errors: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def best_steps(self) -> dict[str, tuple[float, float]]:
        """For each curve, the step with the smallest error: ``{"central float64": (h, error), ...}``."""
        return {name: min(curve, key=lambda p: (p[1], -p[0])) for name, curve in self.step_errors.items()}

    def by_input(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{input: {method: {"value", "error", "seconds"}}}``, as ``compare --json`` prints it."""
        table: dict[str, dict[str, dict[str, Any]]] = {}
        for method, estimates in self.methods.items():
            for name, e in estimates.items():
                table.setdefault(name, {})[method] = {"value": e.value, "error": e.error, "seconds": e.seconds}
        return table


def finite_differences(f: Callable[..., torch.Tensor], point: Sequence[torch.Tensor], h: float, *,
                       central: bool = False) -> list[torch.Tensor]:
    """The gradient of the scalar ``f`` at ``point`` by forward or central differences with step ``h``.

    ``(f(x + h·e_j) − f(x)) / h`` or ``(f(x + h·e_j) − f(x − h·e_j)) / 2h`` for
    every element ``j`` of every input, computed in the inputs' dtype (the
    step is rounded to it, the division is by ``h``, as in seed 004).

    >>> finite_differences(lambda x: (x**2).sum(), [torch.tensor([3.0])], 0.25, central=True)  # exact for x²
    [tensor([6.])]
    """
    grads = []
    with torch.no_grad():
        base = None if central else f(*point)
        for i, t in enumerate(point):
            g = torch.empty(t.numel(), dtype=t.dtype, device=t.device)
            for j in range(t.numel()):
                e = torch.zeros(t.numel(), dtype=t.dtype, device=t.device)
                e[j] = h
                e = e.reshape(t.shape)
                plus = f(*(u + e if k == i else u for k, u in enumerate(point)))
                if central:
                    minus = f(*(u - e if k == i else u for k, u in enumerate(point)))
                    g[j] = (plus - minus) / (2 * h)
                else:
                    g[j] = (plus - base) / h
            grads.append(g.reshape(t.shape))
    return grads


def reverse_mode(f: Callable[..., torch.Tensor], point: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The gradient of the scalar ``f`` by one backward pass.

    >>> reverse_mode(lambda x, y: (x * y).sum(), [torch.tensor([2.0]), torch.tensor([3.0])])
    [tensor([3.]), tensor([2.])]
    """
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_(True) for t in point]
        grads = torch.autograd.grad(f(*leaves), leaves, allow_unused=True, materialize_grads=True)
    return [g.detach() for g in grads]


def forward_mode(f: Callable[..., torch.Tensor], point: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The gradient of the scalar ``f`` by one Jacobian-vector product per input element (``torch.func.jvp``).

    >>> forward_mode(lambda x: (x**2).sum(), [torch.tensor([1.0, 2.0])])
    [tensor([2., 4.])]
    """
    return [column.reshape(t.shape) for column, t in zip(jacobian_columns(f, point), point)]


def compare(source: str | Program, inputs: Mapping[str, Any] | None = None, *, step: float = 1e-3,
            dtype: str = "float32", repeat: int = 3, seed: int = 0, device: str | None = "cpu",
            limits: Limits = DEFAULT_LIMITS, **values: Any) -> Comparison:
    """The gradient of a scalar function four ways, with errors against the symbolic answer and timings.

    The table's finite differences use ``step`` in ``dtype`` (the inputs'
    dtype); the V curves run every ``h`` of :data:`STEPS` in float32 *and*
    float64. Timings are the best of ``repeat`` runs (the symbolic one runs
    once: SymPy caches what it computed).

    >>> r = compare("(x + y) * (y + 3)", x=1, y=2)   # seed 002: 5 and 8
    >>> r.methods["symbolic"]["x"].value, r.methods["symbolic"]["y"].value, r.formulas
    (tensor([5.], dtype=torch.float64), tensor([8.], dtype=torch.float64), {'x': 'y + 3', 'y': 'x + 2*y + 3'})
    """
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step < 1:
        raise ExpressionError(f"the step h must be a number between 0 and 1, not {step!r}")
    check_repeat(repeat)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    if f.output_size != 1:
        raise ExpressionError(f"comparing derivatives needs a scalar function (one output element), not "
                              f"{f.output_size:,} output elements: wrap it in sum(...) or pick one element")
    names = f.variables   # inputs of whole numbers (class indices) are held as they are
    n = sum(f.inputs[name].numel() for name in names)
    if n > MAX_ELEMENTS:
        raise ExpressionError(f"finite differences take one evaluation per input element and step: use at most "
                              f"{MAX_ELEMENTS} input elements, not {n:,}")
    passes = (len(STEPS) * len(DTYPES) * 3 + (repeat + 1) * 4) * n + repeat + 1
    if passes * max(f.cost.work, 1) > MAX_WORK:
        raise ExpressionError(f"the comparison needs {passes:,} evaluations, about {passes * f.cost.work:,} "
                              f"operations (at most {MAX_WORK:,}): use smaller inputs")
    point = [f.inputs[name].detach() for name in names]
    flat = f.of(names)

    def scalar(*tensors: torch.Tensor) -> torch.Tensor:
        return flat(*tensors).reshape(())

    result = Comparison(value=float(f.outputs[0].reshape(())), methods={}, reference="symbolic", step=float(step),
                        dtype=str(point[0].dtype).removeprefix("torch."))
    reference = _symbolic(result, f, point)
    if reference is None:
        result.reference = "reverse_mode in float64"
        reference = reverse_mode(scalar, [t.to(torch.float64) for t in point])
    runs = {
        "forward_difference": lambda: finite_differences(scalar, point, step),
        "central_difference": lambda: finite_differences(scalar, point, step, central=True),
        "reverse_mode": lambda: reverse_mode(scalar, point),
        "forward_mode": lambda: forward_mode(scalar, point),
    }
    for method, compute in runs.items():
        try:
            estimates, seconds = best_time(compute, repeat)
        except (RuntimeError, NotImplementedError) as err:
            if method != "forward_mode":
                raise ExpressionError(f"PyTorch could not compute the {method.replace('_', ' ')}: "
                                      f"{first_line(err)}") from None
            result.methods[method] = {name: Estimate(None, None, None) for name in names}
            continue
        result.methods[method] = {
            name: Estimate(e.cpu(), _error(e, r), seconds) for name, e, r in zip(names, estimates, reference)}
    for kind in ("forward", "central"):
        for precision, torch_dtype in DTYPES.items():
            at = [t.to(torch_dtype) for t in point]
            curve = []
            for h in STEPS:
                estimates = finite_differences(scalar, at, h, central=kind == "central")
                curve.append((h, max(_error(e, r) for e, r in zip(estimates, reference))))
            result.step_errors[f"{kind} {precision}"] = curve
    return result


def _error(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    if estimate.numel() == 0:
        return 0.0
    return float((estimate.detach().cpu().to(torch.float64) - reference.cpu().to(torch.float64)).abs().max())


def _symbolic(result: Comparison, f: Differentiable, point: Sequence[torch.Tensor]) -> list[torch.Tensor] | None:
    """Fill the symbolic row and the formulas; the symbolic gradient, or None (with the reason) without one."""
    from explorer import symbolic

    start = time.perf_counter()
    try:
        built = symbolic.to_sympy(f.program, {name: tuple(t.shape) for name, t in f.inputs.items()}, f.inputs)
        partials = symbolic.partials(built)
        at = symbolic.point(built.symbols, f.inputs)
        values = [symbolic.numeric_array(partials[name], at) for name in f.variables]
    except ExpressionError as err:
        result.symbolic_refusal = err.message
        result.methods["symbolic"] = {name: Estimate(None, None, None) for name in f.variables}
        return None
    seconds = time.perf_counter() - start
    names = built.names()
    result.function = str(built.scalar())
    result.function_latex = symbolic.latex(built.scalar(), names)
    for name in f.variables:
        for s, derivative in zip(built.symbols[name].reshape(-1), partials[name].reshape(-1)):
            result.formulas.setdefault(str(s), str(derivative))
            result.latex.setdefault(str(s), symbolic.latex(derivative, names))
    result.methods["symbolic"] = {name: Estimate(v, 0.0, seconds) for name, v in zip(f.variables, values)}
    return values


__all__ = ["METHODS", "STEPS", "Comparison", "Estimate", "compare", "finite_differences", "forward_mode",
           "optimal_step", "reverse_mode"]
