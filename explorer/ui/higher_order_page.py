"""Higher-order derivatives with create_graph=True, and the graph of the derivative itself."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from explorer.ui.lab import function_and_inputs, run


def render() -> None:
    st.title("Higher order")
    st.caption("Seed 002: with create_graph=True the gradient is itself a graph, so it can be differentiated again.")
    got = function_and_inputs("ho", "sin(x)", {"x": "linspace(0, 1, 1001)"})
    if got is None:
        return
    source, inputs = got
    order = st.slider("highest order", 1, 4, 2, key="ho_order")
    r = run("higher_order", source, inputs, order=order)
    if r is None:
        return
    fig = go.Figure()
    for k, values in enumerate(r.derivatives):
        fig.add_scatter(x=r.x.numpy(), y=values.numpy(), mode="lines", name="f" + "'" * k)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), title="f and its derivatives")
    st.plotly_chart(fig, width="stretch", key="ho_plot")
    if source.strip() == "sin(x)" and order >= 2:
        import torch

        exact = torch.equal(r.derivatives[2], -torch.sin(r.x))
        st.metric("sin''(x) == -sin(x), bit for bit", "yes" if exact else "no",
                  help="the seed checks the difference is exactly 0")
    st.subheader("The graph of the derivative")
    st.graphviz_chart(r.derivative_dot)
