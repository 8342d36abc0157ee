"""Four ways to a derivative: symbolic, finite differences, reverse and forward mode."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from explorer.ui.lab import function_and_inputs, run


def render() -> None:
    st.title("Four ways to a derivative")
    st.caption("Seed 004: hand-coded (symbolic), finite differences, and automatic differentiation, side by side.")
    got = function_and_inputs("cmp", "log(x[0]*x[1]) * sin(x[1])", {"x": "[0.5, 0.75]"})
    if got is None:
        return
    source, inputs = got
    c1, c2 = st.columns(2)
    step = c1.select_slider("step h", [10.0 ** -k for k in range(1, 9)], value=1e-3, key="cmp_h")
    dtype = c2.selectbox("dtype", ["float32", "float64"], key="cmp_dtype")
    r = run("compare", source, inputs, step=float(step), dtype=dtype)
    if r is None:
        return
    for symbol, latex in r.latex.items():
        st.latex(rf"\frac{{\partial f}}{{\partial {symbol}}} = {latex}")
    rows = []
    for method, by_input in r.methods.items():
        for name, estimate in by_input.items():
            rows.append({"method": method.replace("_", " "), "input": name,
                         "gradient": str([round(v, 6) for v in estimate.value.reshape(-1).tolist()]),
                         "error vs symbolic": f"{estimate.error:.2e}", "ms": round(estimate.seconds * 1e3, 3)})
    st.dataframe(rows, hide_index=True, width="stretch")
    fig = go.Figure()
    for name, curve in r.step_errors.items():
        fig.add_scatter(x=[h for h, _ in curve], y=[max(e, 1e-17) for _, e in curve], mode="lines+markers", name=name)
    fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="step h", yaxis_title="max error",
                      height=420, title="finite differences: error against step size", margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, width="stretch", key="cmp_plot")
    st.markdown("Right of the V the **truncation** error dominates (∝ h for forward, ∝ h² for central "
                "differences); left of it **round-off**: f(x+h) − f(x) loses digits, ∝ ε/h, worse in float32. "
                "Autograd has neither: it is exact to rounding.")
