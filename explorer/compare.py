"""Four ways to a derivative, side by side (the table of seed 004, made live).

* symbolic: SymPy's derivative of the expression tree (exact; the reference),
* finite differences, forward ``(f(x + h) − f(x)) / h`` and central
  ``(f(x + h) − f(x − h)) / 2h``, whose error against ``h`` draws a V on a
  log-log plot: truncation error (∝ h or h²) on the right, round-off
  (∝ ε/h) on the left,
* reverse-mode autograd (``backward``) and forward-mode autograd (``jvp``).

>>> r = compare("log(x[0]*x[1]) * sin(x[1])", {"x": [0.5, 0.75]})
>>> [round(v, 4) for v in r.methods["reverse_mode"]["x"].value.tolist()]
[1.3633, 0.1912]
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from explorer.derivatives import function
from explorer.expression import ExpressionError
from explorer.symbolic import symbolic_gradient

METHODS = ("symbolic", "forward_difference", "central_difference", "reverse_mode", "forward_mode")
STEPS = tuple(10.0 ** -k for k in range(1, 13))


@dataclass
class Estimate:
    value: torch.Tensor
    error: float
    seconds: float


@dataclass
class Comparison:
    """Each method's gradient for each input, its error against the symbolic one, and its time."""

    methods: dict[str, dict[str, Estimate]]
    formulas: dict[str, str]                         # symbol -> derivative, as text
    latex: dict[str, str]
    step: float
    step_errors: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # "forward float32" -> (h, err)


def _scalar(f, tensors):
    out = f(*tensors)
    if out.numel() != 1:
        raise ExpressionError("comparing derivatives needs a scalar function (one output element)")
    return out.reshape(())


def _differences(f, tensors, h: float, central: bool) -> list[torch.Tensor]:
    with torch.no_grad():
        base = None if central else _scalar(f, tensors)
        grads = []
        for i, t in enumerate(tensors):
            g = torch.zeros_like(t).reshape(-1)
            for j in range(t.numel()):
                step = torch.zeros_like(t).reshape(-1)
                step[j] = h
                step = step.reshape(t.shape)
                plus = [u + step if k == i else u for k, u in enumerate(tensors)]
                if central:
                    minus = [u - step if k == i else u for k, u in enumerate(tensors)]
                    g[j] = (_scalar(f, plus) - _scalar(f, minus)) / (2 * h)
                else:
                    g[j] = (_scalar(f, plus) - base) / h
            grads.append(g.reshape(t.shape))
    return grads


def _forward_mode(f, tensors) -> list[torch.Tensor]:
    grads = []
    for i, t in enumerate(tensors):
        g = torch.zeros_like(t).reshape(-1)
        for j in range(t.numel()):
            tangent = [torch.zeros_like(u) for u in tensors]
            tangent[i].reshape(-1)[j] = 1
            _, jvp = torch.func.jvp(lambda *xs: _scalar(f, xs), tuple(tensors), tuple(tangent))
            g[j] = jvp
        grads.append(g.reshape(t.shape))
    return grads


def compare(source: str, inputs: Mapping[str, Any], *, step: float = 1e-3, dtype: str = "float32",
            seed: int = 0) -> Comparison:
    """Compare the four ways on ``source`` at ``inputs``; differences use ``step`` in ``dtype``."""
    if not (isinstance(step, float) and 0 < step < 1):
        raise ExpressionError("the step h must be a number between 0 and 1")
    f = function(source, inputs, seed=seed, dtype=dtype)
    if sum(t.numel() for t in f.inputs.values()) > 200:
        raise ExpressionError("comparing takes one evaluation per input element: use at most 200 elements")
    tensors = [t.detach() for t in f.inputs.values()]
    names = list(f.names)
    start = time.perf_counter()
    formulas = symbolic_gradient(f.program)
    symbolic = []
    for name, t in zip(names, tensors):
        flat = []
        for j in range(t.numel()):
            symbol = name if t.numel() == 1 else f"{name}_{j}"
            expr = formulas.get(symbol)
            subs = {s: float(v) for n, u in zip(names, tensors) for s, v in _symbols(n, u)}
            flat.append(0.0 if expr is None else float(expr.evalf(subs=subs)))
        symbolic.append(torch.tensor(flat, dtype=torch.float64).reshape(t.shape))
    seconds_symbolic = time.perf_counter() - start

    def timed(compute):
        begin = time.perf_counter()
        values = compute()
        return values, time.perf_counter() - begin

    def reverse():
        xs = [t.clone().requires_grad_(True) for t in tensors]
        return list(torch.autograd.grad(_scalar(f, xs), xs))

    runs = {
        "forward_difference": timed(lambda: _differences(f, tensors, step, central=False)),
        "central_difference": timed(lambda: _differences(f, tensors, step, central=True)),
        "reverse_mode": timed(reverse),
        "forward_mode": timed(lambda: _forward_mode(f, tensors)),
    }
    methods = {"symbolic": {n: Estimate(s, 0.0, seconds_symbolic) for n, s in zip(names, symbolic)}}
    for method, (values, seconds) in runs.items():
        methods[method] = {
            n: Estimate(v.detach(), float((v.double() - s).abs().max()), seconds)
            for n, v, s in zip(names, values, symbolic)
        }
    step_errors = {}
    for kind in ("forward", "central"):
        for precision, torch_dtype in (("float32", torch.float32), ("float64", torch.float64)):
            low = [t.to(torch_dtype) for t in tensors]
            curve = []
            for h in STEPS:
                estimate = _differences(f, low, h, central=kind == "central")
                curve.append((h, max(float((e.double() - s).abs().max()) for e, s in zip(estimate, symbolic))))
            step_errors[f"{kind} {precision}"] = curve
    import sympy

    return Comparison(methods, {k: str(v) for k, v in formulas.items()},
                      {k: sympy.latex(v) for k, v in formulas.items()}, step, step_errors)


def _symbols(name: str, tensor: torch.Tensor):
    import sympy

    flat = tensor.reshape(-1).tolist()
    if len(flat) == 1:
        return [(sympy.Symbol(name, real=True), flat[0])]
    return [(sympy.Symbol(f"{name}_{j}", real=True), v) for j, v in enumerate(flat)]
