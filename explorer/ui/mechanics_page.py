"""Autograd mechanics: retain_graph, accumulation, zero_grad, leaf versus non-leaf."""
from __future__ import annotations

import streamlit as st

from explorer.ui.lab import function_and_inputs, run

LESSONS = (
    ("second_backward", "A second backward() without retain_graph",
     "The graph's saved tensors are freed by the first backward; PyTorch refuses the second."),
    ("accumulation", "Gradients accumulate",
     "With retain_graph=True each backward adds to .grad (72, 144, 216 in the seed); zero_() resets it."),
    ("leaf_and_non_leaf", "Leaf and non-leaf tensors",
     ".grad is kept for leaves only; a non-leaf needs retain_grad()."),
)


def render() -> None:
    st.title("Autograd mechanics")
    st.caption("Seed 001: what backward() does to .grad, and what it refuses.")
    got = function_and_inputs("mech", "x**3 + 2*x**2 + 8*x", {"x": "4"})
    if got is None:
        return
    source, inputs = got
    for name, title, about in LESSONS:
        st.subheader(title)
        st.caption(about)
        events = run(name, source, inputs)
        if events is None:
            continue
        for event in events:
            line = f">>> {event.code}"
            if event.grad:
                line += f"\n{event.grad}"
            if event.message:
                line += f"\n{event.message}"
            st.code(line, language="python")
