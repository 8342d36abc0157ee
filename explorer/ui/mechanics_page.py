"""Autograd mechanics: retain_graph, accumulation, zero_grad, leaf versus non-leaf, step by step.

Seed 001. Each lesson is a list of events from :mod:`explorer.mechanics`
(real PyTorch on the user's function, run in the sandbox and cached); the
page plays them one step at a time.
"""
from __future__ import annotations

import streamlit as st

from explorer.inputs import DTYPES
from explorer.ui.lab import function_and_inputs, run
from explorer.ui.widgets import choice

LESSONS = (
    ("second_backward", "Second backward()",
     "The first backward() frees the tensors the graph saved; without retain_graph=True PyTorch refuses a second."),
    ("accumulation", "Accumulation & zero_grad",
     "Each backward() adds to .grad (72, 144, 216 in the seed); zero_() and an optimiser's zero_grad() start over."),
    ("leaf_and_non_leaf", "Leaf & non-leaf",
     ".grad is kept for leaves only; a non-leaf (your named results, the output) needs retain_grad()."),
)


def _event(event) -> None:
    prompt = "\n".join((">>> " if i == 0 else "... ") + line for i, line in enumerate(event.code.splitlines()))
    if event.kind == "error":
        st.code(prompt, language="python", wrap_lines=True)
        st.error(event.shows, icon=":material/error:")
    else:
        st.code(f"{prompt}\n{event.shows}" if event.shows else prompt, language="python", wrap_lines=True)
    if event.kind == "warning":
        st.warning(event.note, icon=":material/warning:")
    elif event.note:
        st.caption(event.note)


def _steps(key: str, events) -> None:
    """The events up to the chosen step (all by default), with a slider to walk through them."""
    count = len(events)
    state = f"mech_{key}_step"
    if count > 1:
        st.session_state.setdefault(state, count)
        st.session_state[state] = min(max(1, st.session_state[state]), count)
        shown = st.slider("step", 1, count, key=state, help="walk through the lesson one line of code at a time")
    else:
        shown = count
    for event in events[:shown]:
        _event(event)


def render() -> None:
    st.title("Autograd mechanics")
    st.caption("Seed 001: what backward() does to .grad, and what it refuses.")
    got = function_and_inputs("mech", "x**3 + 2*x**2 + 8*x", {"x": "4"})
    if got is None:
        return
    source, inputs = got
    dtype = choice("dtype", tuple(DTYPES), key="mech_dtype")
    for name, title, about in LESSONS:
        with st.container(border=True):
            st.header(title)
            st.caption(about)
            options = {"dtype": dtype or "float32"}
            if name == "second_backward":
                st.session_state.setdefault("mech_retain", False)
                options["retain_graph"] = st.toggle("retain_graph=True on the first call", key="mech_retain",
                                                    bind="query-params")
            elif name == "accumulation":
                st.session_state.setdefault("mech_repeats", 3)
                options["repeats"] = int(st.number_input("backward calls", 1, 20, step=1, key="mech_repeats",
                                                         bind="query-params") or 3)
            events = run(name, source, inputs, **options)
            if events is not None:
                _steps(name, events)
