"""Four ways to a derivative: symbolic, finite differences, reverse and forward mode (seed 004's table, live).

Every number comes from :func:`explorer.compare.compare`, run in the sandbox and cached.
"""
from __future__ import annotations

import streamlit as st

from explorer.compare import STEPS, optimal_step
from explorer.inputs import DTYPES
from explorer.ui.charts import lines
from explorer.ui.lab import function_and_inputs, run
from explorer.ui.widgets import chart, choice, measured, row, table

MAX_FORMULAS = 12
COSTS = {
    "symbolic": "a formula per partial derivative, then its value",
    "forward_difference": "n + 1 evaluations",
    "central_difference": "2n evaluations",
    "reverse_mode": "1 forward + 1 backward pass",
    "forward_mode": "n forward passes (jvp)",
}


def _formulas(r) -> None:
    if r.symbolic_refusal:
        st.warning(f"No symbolic form: {r.symbolic_refusal}. Errors are measured against {r.reference}.",
                   icon=":material/warning:")
        return
    st.latex(f"f = {r.function_latex}")
    shown = list(r.latex.items())[:MAX_FORMULAS]
    for symbol, latex in shown:
        name = symbol.replace("_", "_{", 1) + "}" if "_" in symbol else symbol
        st.latex(rf"\frac{{\partial f}}{{\partial {name}}} = {latex}")
    if len(r.latex) > MAX_FORMULAS:
        st.caption(f"… and {len(r.latex) - MAX_FORMULAS} more partial derivatives.")


def _table(r) -> None:
    rows = []
    for method, by_input in r.methods.items():
        for name, e in by_input.items():
            rows.append({
                "method": method.replace("_", " "), "input": name,
                "gradient": "n/a" if e.value is None else
                ", ".join(f"{v:.6g}" for v in e.value.reshape(-1).tolist()[:8])
                + (" …" if e.value.numel() > 8 else ""),
                f"error vs {r.reference}": "n/a" if e.error is None else f"{e.error:.2e}",
                "cost": COSTS[method],
            })
    table(rows)
    # A method computes every input's gradient at once: one time per method.
    times = {method: next(iter(by_input.values())).seconds for method, by_input in r.methods.items() if by_input}
    measured("cmp_ms").caption("Time, every input at once: " + " · ".join(
        f"{method.replace('_', ' ')} {s * 1e3:.3g} ms" for method, s in times.items() if s is not None))


def _v_plot(r) -> None:
    curves = {name: ([h for h, _ in curve], [max(e, 1e-17) for _, e in curve]) for name, curve in r.step_errors.items()}
    chart(lines(curves, "finite differences: error against step size", "step h", "largest error",
                log_x=True, log_y=True, reverse_x=True, points=True, height=440,
                dashed=[name for name in curves if name.split()[0] == "central"], rule=(r.step, "h in the table")))
    best = r.best_steps()
    st.markdown(
        "Read it from the left (large $h$): the **truncation** error of Taylor's formula shrinks like $h$ for "
        "forward differences ($\\tfrac{h}{2} f''$) and like $h^2$ for central ones ($\\tfrac{h^2}{6} f'''$). "
        "Then **round-off** takes over: $f(x+h) - f(x)$ cancels most of its digits, and the error grows like "
        "$\\varepsilon |f| / h$. The bottom of the V is near $h \\approx \\sqrt{\\varepsilon}$ (forward) or "
        "$\\sqrt[3]{\\varepsilon}$ (central): "
        + ", ".join(f"{name} at h = {h:.0e} (theory {optimal_step(*name.split()):.0e})"
                    for name, (h, _) in best.items())
        + ". Autograd has neither error: it is exact up to rounding, at any point, with no step to choose.")


def render() -> None:
    st.title("Four ways to a derivative")
    st.caption("Seed 004: hand-coded (symbolic), finite differences, and automatic differentiation, side by side.")
    got = function_and_inputs("cmp", "log(x[0]*x[1]) * sin(x[1])", {"x": "[0.5, 0.75]"})
    if got is None:
        return
    source, inputs = got
    for name, default in (("h", 1e-3), ("dtype", "float32")):
        st.session_state.setdefault(f"cmp_{name}", default)
    line = row()
    step = line.select_slider("step h of the table's finite differences", STEPS, key="cmp_h",
                              format_func=lambda h: f"{h:.0e}", bind="query-params", width=260)
    dtype = choice("dtype", tuple(DTYPES), key="cmp_dtype", where=line, help="the table's dtype; the plot shows both")
    r = run("compare", source, inputs, step=float(step), dtype=dtype)
    if r is None:
        return
    _formulas(r)
    _table(r)
    _v_plot(r)
