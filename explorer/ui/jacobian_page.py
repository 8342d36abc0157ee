"""Jacobians and Hessians as heat maps, divergence and Laplacian two ways, curl."""
from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from explorer.ui.lab import function_and_inputs, run


def _heat(matrix, title: str) -> go.Figure:
    fig = px.imshow(matrix.numpy(), color_continuous_scale="RdBu", color_continuous_midpoint=0, aspect="auto",
                    labels=dict(x="input element", y="output element", color="value"), title=title)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def render() -> None:
    st.title("Jacobians & VJP lab")
    st.caption("Seeds 002 and 003: the Jacobian behind backward(v), and why you should know your Jacobian.")
    got = function_and_inputs("jac", "sin(mv(A, x) + b)", {"A": "rand(10, 5)", "x": "rand(5)", "b": "rand(10)"})
    if got is None:
        return
    source, inputs = got
    result = run("jacobian", source, inputs)
    if result is not None:
        st.markdown(f"**{result.outputs}** output elements, **{result.inputs}** input elements: reverse mode "
                    f"needs {result.outputs} backward passes, forward mode {result.inputs} forward passes, so "
                    f"**{result.cheaper} mode** is cheaper here (timed: reverse "
                    f"{result.seconds['reverse'] * 1e3:.2f} ms, forward {result.seconds['forward'] * 1e3:.2f} ms).")
        cols = st.columns(max(1, len(result.jacobians)))
        for col, (name, J) in zip(cols, result.jacobians.items()):
            col.plotly_chart(_heat(J, f"J with respect to {name}"), width="stretch", key=f"jac_{name}")
        if result.hessians:
            cols = st.columns(max(1, len(result.hessians)))
            for col, (name, H) in zip(cols, result.hessians.items()):
                col.plotly_chart(_heat(H, f"Hessian in {name}"), width="stretch", key=f"hess_{name}")

    st.subheader("Divergence and Laplacian: v = ones versus the identity")
    st.markdown("`backward(ones)` sums the rows of J; that is the trace only when J is diagonal.")
    got = function_and_inputs("div", "stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"})
    if got is not None:
        source, inputs = got
        laplacian = st.checkbox("Laplacian of a scalar function (divergence of its gradient)", key="div_lap")
        d = run("divergence", source, inputs, laplacian=laplacian)
        if d is not None:
            st.table({"method": ["(J · ones) · ones", "trace(J · I)"],
                      "value": [float(d.with_ones), float(d.with_identity)],
                      "milliseconds": [d.seconds_ones * 1e3, d.seconds_identity * 1e3]})
            if d.diagonal:
                st.success("J is diagonal: the ones-trick gives the divergence, and is cheaper.")
            else:
                st.warning("J is not diagonal: the ones-trick also sums the off-diagonal entries, so it is wrong "
                           "here; only the identity gives the divergence.")
    st.subheader("Curl of a field from R³ to R³")
    got = function_and_inputs("curl", "stack([-x[1], x[0], 0*x[2]])", {"x": "[1.0, 2.0, 3.0]"})
    if got is not None:
        c = run("curl", *got)
        if c is not None:
            st.markdown(f"∇×F = **{[round(v, 6) for v in c.tolist()]}**")
