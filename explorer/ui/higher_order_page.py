"""Higher order: create_graph=True, derivatives of derivatives, and the graph of the derivative itself.

Seed 002: ``sin''(x) == -sin(x)`` bit for bit. Every number comes from
:func:`explorer.derivatives.higher_order`, run in the sandbox and cached.
"""
from __future__ import annotations

import streamlit as st

from explorer.derivatives import MAX_ORDER
from explorer.inputs import DTYPES
from explorer.ui.charts import lines
from explorer.ui.lab import function_and_inputs, run
from explorer.ui.widgets import chart, choice, graph_view, row, table


def _prime(k: int) -> str:
    return "f" + ("'" * k if k <= 3 else f"⁽{k}⁾")


def _exactness(r, n: int) -> None:
    if r.symbolic_refusal:
        st.caption(f"No symbolic comparison: {r.symbolic_refusal}")
        return
    rows = [{"derivative": _prime(k), "max |autograd − SymPy|": f"{d:.3g}", "bit for bit": "yes" if same else "no"}
            for k, (d, same) in enumerate(zip(r.differences, r.exact)) if k > 0]
    exact = [k for k, same in enumerate(r.exact) if k > 0 and same]
    if len(r.differences) > 2 and 2 in exact:
        st.success(f"f'' by autograd equals SymPy's f'' evaluated by torch at all {n:,} points, bit for bit: "
                   f"the difference is exactly 0, as seed 002 asserts for sin''(x) == -sin(x).",
                   icon=":material/check_circle:")
    elif exact:
        st.info(f"Bit for bit at order {', '.join(map(str, exact))}; elsewhere they differ by rounding only "
                "(torch and the formula add and multiply in a different order).", icon=":material/info:")
    else:
        st.info("Autograd and the symbolic formula differ by rounding only (they add and multiply in a "
                "different order).", icon=":material/info:")
    table(rows)
    # Drawn once opened: Streamlit draws a closed expander's content too, and the first formula loads KaTeX.
    formulas = st.expander("The symbolic derivatives (SymPy, built from the same syntax tree)", key="ho_formulas",
                           on_change="rerun")
    if formulas.open:
        for k, formula in enumerate(r.formulas):
            formulas.latex(f"{_prime(k)}(x) = {formula}")


def render() -> None:
    st.title("Higher order")
    st.caption("Seed 002: with create_graph=True the gradient is itself a graph, so it can be differentiated again.")
    st.markdown("`torch.autograd.grad(y, x, create_graph=True)` records the backward pass as a new graph: the "
                "derivative is a tensor with its own `grad_fn`, and differentiating it gives the second "
                "derivative. For a function applied element by element the Jacobian is diagonal, so the gradient "
                "of the sum is the derivative at every point.")
    setup, shown = st.columns([2, 3], gap="large")
    with setup:
        got = function_and_inputs("ho", "sin(x)", {"x": "linspace(0, 1, 1001)"})
        if got is None:
            return
        source, inputs = got
        st.session_state.setdefault("ho_order", 2)
        line = row()
        order = line.slider("highest order", 1, MAX_ORDER, key="ho_order", bind="query-params", width=200)
        dtype = choice("dtype", tuple(DTYPES), key="ho_dtype", where=line)
    r = run("higher_order", source, inputs, order=int(order), dtype=dtype)
    if r is None:
        return
    with setup:
        _exactness(r, r.x.numel())
    with shown:
        x = r.x.tolist()
        chart(lines({_prime(k): (x, values.tolist()) for k, values in enumerate(r.derivatives)},
                    "f and its derivatives, by autograd", "x", "", points=len(x) == 1, height=460))
    st.header("The graph of f and the graph of its derivative")
    st.caption("Left: what the forward pass recorded. Right: what backward(create_graph=True) recorded while "
               "computing f' — the graph that a second backward walks.")
    if r.graph_refusal:
        st.caption(r.graph_refusal.capitalize())
        return
    original, derivative = st.columns(2)
    with original:
        graph_view(r.original_dot, key="ho_graph_f", file_stem="function", height=420, alt="Graph of f")
    with derivative:
        if r.derivative_dot:
            graph_view(r.derivative_dot, key="ho_graph_df", file_stem="derivative", height=420,
                       alt="Graph of the derivative")
        else:
            st.caption("The derivative does not depend on the input: it has no graph.")
