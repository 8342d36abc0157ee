"""The explorer page: type a function, see the graph autograd builds and everything backward does.

Thin: the library computes (in the sandbox, cached per input), this page lays
it out. Its whole state lives in the URL: the function (``f``), the inputs
(``var_<name>``), ``seed``, ``dtype``, ``device``, the ``v`` of backward(v)
(``v``, ``v_index``, ``v_seed``, ``v_values``), the graph options and the open
``tab``.
"""
from __future__ import annotations

import streamlit as st
import torch

from explorer.expression import ExpressionError, parse
from explorer.presets import Preset, preset
from explorer.ui.widgets import (
    InputsPanel, cached_exploration, cached_vector_jacobian, function_editor, graph_view, inputs_panel,
    options_panel, show_error,
)
from explorer.vjp import VECTOR_KINDS, VectorChoice

TABS = ("Annotated graph", "torchviz graph", "Node table", "Step through backward",
        "Vector-Jacobian product", "PyTorch code")
DEFAULT_PRESET = "poly"
INPUT_PREFIX = "var_"


# ---------------------------------------------------------------------------
# Presets: one click puts a worked example into the page's state (and so into the URL).

def _vector_of(p: Preset) -> dict:
    if p.v is None or p.v.startswith("ones("):
        return {"v": "ones"}
    return {"v": "typed", "v_values": p.v}


def preset_state(p: Preset) -> dict:
    """The session-state values that show preset ``p`` on this page."""
    state = {"f": p.source, "seed": 0, "dtype": p.dtype, "device": "auto", "step": 0,
             "v_index": 0, "v_seed": 0, "v_values": "", **_vector_of(p)}
    state.update({f"{INPUT_PREFIX}{name}": spec for name, spec in p.inputs.items()})
    return state


def apply_preset(key: str) -> None:
    """Button callback: load preset ``key`` into the explorer and open it."""
    for name, value in preset_state(preset(key)).items():
        st.session_state[name] = value
    st.session_state["open_explorer"] = True


def _matching_preset(source: str, specs: dict, dtype: str) -> Preset | None:
    from explorer.presets import PRESETS

    for p in PRESETS:
        if p.source and p.source.strip() == source.strip() and dict(p.inputs) == specs and p.dtype == dtype:
            return p
    return None


# ---------------------------------------------------------------------------
# The page.

def _vector_panel() -> VectorChoice:
    for name, default in (("v", "ones"), ("v_index", 0), ("v_seed", 0), ("v_values", "")):
        st.session_state.setdefault(name, default)
    kind = st.segmented_control(
        "v of backward(v)", VECTOR_KINDS, key="v", bind="query-params", required=True,
        help="For an output with several elements backward needs a vector v and computes vᵀJ. "
             "Ones sums the rows of the Jacobian J; a one-hot v picks one row.") or "ones"
    if kind == "one-hot":
        index = st.number_input("index of the 1 (over all output elements)", min_value=0, step=1, key="v_index",
                                bind="query-params")
        return VectorChoice("one-hot", index=int(index or 0))
    if kind == "random":
        seed = st.number_input("seed of v", min_value=0, max_value=2**31 - 1, step=1, key="v_seed",
                               bind="query-params")
        return VectorChoice("random", seed=int(seed or 0))
    if kind == "typed":
        values = st.text_input("v =", key="v_values", bind="query-params", placeholder="[1, 0, 2]")
        return VectorChoice("typed", values=values or "")
    return VectorChoice()


def render() -> None:
    """The explorer page."""
    if "f" not in st.session_state and "f" not in st.query_params:
        for name, value in preset_state(preset(DEFAULT_PRESET)).items():
            st.session_state.setdefault(name, value)
    st.header("Explorer", divider="gray")
    left, right = st.columns([3, 2], gap="large")
    with left:
        source = function_editor("f", default=preset(DEFAULT_PRESET).source)
    try:
        program, parse_error = parse(source), None
    except ExpressionError as err:
        program, parse_error = None, err
    with right:
        st.markdown("**Inputs**")
        panel = inputs_panel(program.inputs if program else (), key_prefix=INPUT_PREFIX)
        options = options_panel()
        vector = _vector_panel()
    with left:
        if parse_error is not None:
            show_error(parse_error, source)
            return
        ex = cached_exploration(source, panel.specs, seed=options.seed, dtype=options.dtype,
                                device=options.device, vector=vector)
        if isinstance(ex, Exception):
            show_error(ex, source, panel=panel)
            return
        panel.show_shapes({name: tuple(t.shape) for name, t in ex.inputs.items()})
        _results(ex)
        found = _matching_preset(source, panel.specs, options.dtype)
        if found is not None:
            _preset_note(found, ex)
    _tabs(ex, source, panel, options, vector)


def _output_names(ex) -> list[str]:
    names = list(ex.output_names or ())
    names += [""] * (len(ex.outputs) - len(names))
    return [name or ("f" if len(ex.outputs) == 1 else f"f{i}") for i, name in enumerate(names)]


def _results(ex) -> None:
    lines = [f"{name} = {out!s}" for name, out in zip(_output_names(ex), ex.outputs)]
    lines += [f"{name}.grad = {grad!s}" for name, grad in ex.grads.items()]
    st.code("\n".join(lines), language=None)
    scalar = all(o.numel() == 1 for o in ex.outputs)
    st.caption(f"Computed on {ex.device} in {ex.dtype}; "
               + ("backward() of the output." if scalar else
                  f"backward(v) with the v chosen on the right (v = {_short(ex.v)})."))


def _short(tensors) -> str:
    text = ", ".join(" ".join(str(t.tolist()).split()) for t in tensors)
    return text if len(text) <= 60 else text[:57] + "..."


def _preset_note(p: Preset, ex) -> None:
    """The numbers the seed prints for this preset, next to ours."""
    lines = []
    agree = True
    for name, printed in p.expected.grads.items():
        ours = ex.grads.get(name)
        if ours is None:
            continue
        if isinstance(printed, dict):
            flat = ours.reshape(-1)
            pairs = [(flat[i].item(), value) for i, value in printed.items()]
            lines.append(f"{name}.grad[{', '.join(map(str, printed))}] = "
                         f"{', '.join(f'{v:g}' for v in printed.values())}")
        else:
            mine = ours.reshape(-1).tolist()
            seeds = torch.tensor(printed, dtype=torch.float64).reshape(-1).tolist()
            pairs = list(zip(mine, seeds))
            lines.append(f"{name}.grad = {printed}")
        agree &= all(abs(a - b) <= p.expected.atol for a, b in pairs)
    for i, printed in enumerate(p.expected.outputs or ()):
        mine = ex.outputs[i].reshape(-1).tolist()
        seeds = torch.tensor(printed, dtype=torch.float64).reshape(-1).tolist()
        agree &= all(abs(a - b) <= p.expected.atol for a, b in zip(mine, seeds))
        lines.append(f"output = {printed}")
    verdict = (f"agrees to within {p.expected.atol:g}" if agree else "DIFFERS")
    with st.container(border=True):
        st.markdown(f"**{p.title}** · {p.reference} · the seed prints (ours {verdict}):")
        st.code("\n".join(lines), language=None)
        st.caption(p.description)


# ---------------------------------------------------------------------------
# The tabs.

def _tabs(ex, source: str, panel: InputsPanel, options, vector: VectorChoice) -> None:
    st.session_state.setdefault("tab", TABS[0])
    tabs = st.tabs(TABS, key="tab", bind="query-params")
    with tabs[0]:
        if tabs[0].open:
            graph_view(ex.to_dot("annotated"), key="annotated", file_stem="autograd_annotated",
                       alt="Annotated autograd graph")
            st.caption("Each node: the user's name, the forward value and the gradient it receives in backward, "
                       "coloured by the size of that gradient. Leaves, outputs and constants are told apart.")
    with tabs[1]:
        if tabs[1].open:
            for name in ("attrs", "saved"):
                st.session_state.setdefault(name, False)
            a, b = st.columns(2)
            show_attrs = a.toggle("show_attrs", key="attrs", bind="query-params",
                                  help="the attributes each backward node keeps (exponents, dims, ...)")
            show_saved = b.toggle("show_saved", key="saved", bind="query-params",
                                  help="the tensors saved for backward")
            graph_view(ex.to_dot("torchviz", show_attrs=show_attrs, show_saved=show_saved), key="torchviz",
                       file_stem="autograd_torchviz", alt="torchviz graph")
    with tabs[2]:
        if tabs[2].open:
            _node_table(ex)
    with tabs[3]:
        if tabs[3].open:
            _step_through(ex)
    with tabs[4]:
        if tabs[4].open:
            _vjp(ex, source, panel, options, vector)
    with tabs[5]:
        if tabs[5].open:
            _code(ex, source, panel, options, vector)


def _node_table(ex) -> None:
    st.dataframe(node_rows(ex), hide_index=True, width="stretch")


def _step_through(ex) -> None:
    nodes = ex.nodes
    if not nodes:
        st.info("There is no backward node: the output is an input itself.")
        return
    last = len(nodes) - 1
    st.session_state.setdefault("step", 0)
    if st.session_state["step"] > last:
        st.session_state["step"] = last

    def move(delta: int) -> None:
        st.session_state["step"] = min(last, max(0, int(st.session_state.get("step", 0)) + delta))

    prev, nxt, where = st.columns([1, 1, 4], vertical_alignment="bottom")
    prev.button("◀ Previous", on_click=move, args=(-1,), disabled=st.session_state["step"] <= 0,
                width="stretch", key="step_prev")
    nxt.button("Next ▶", on_click=move, args=(1,), disabled=st.session_state["step"] >= last,
               width="stretch", key="step_next")
    step = int(where.number_input(f"step (0 to {last}, in the order PyTorch's engine runs them)", min_value=0,
                                  max_value=last, step=1, key="step", bind="query-params"))
    node = nodes[step]
    st.markdown(f"**Step {step}: {node.op}**" + (f" (`{node.label}`)" if node.label else ""))
    graph_view(ex.to_dot("annotated", highlight=node.id), key="step", file_stem=f"autograd_step_{step}",
               focus=node.id, alt="Autograd graph at this step")


def _vjp(ex, source: str, panel: InputsPanel, options, vector: VectorChoice) -> None:
    vj = cached_vector_jacobian(source, panel.specs, seed=options.seed, dtype=options.dtype, device=options.device,
                                vector=vector)
    if isinstance(vj, Exception):
        show_error(vj, source, panel=panel)
        return
    shapes = ", ".join(str(s) for s in vj.output_shapes)
    st.markdown(f"The output{'s have' if len(vj.output_shapes) > 1 else ' has'} shape {shapes}: "
                f"{vj.v.numel()} element{'s' if vj.v.numel() != 1 else ''} in all. "
                f"`backward(v)` computes **vᵀJ** without ever building J; {vector.describe()}.")
    st.markdown("**What PyTorch says when v is missing** (`backward()` with no argument):")
    if vj.implicit_error:
        st.code(f"RuntimeError: {vj.implicit_error}", language=None)
    else:
        st.code("(nothing: every output has one element, so PyTorch takes v = 1 itself)", language=None)
    for name in vj.input_shapes:
        jac = vj.jacobians.get(name)
        st.markdown(f"**Input {name}** {vj.input_shapes[name]}")
        if jac is None:
            st.caption(f"J is too large to show here ({vj.v.numel()} x "
                       f"{torch.Size(vj.input_shapes[name]).numel()}); backward(v) gives vᵀJ all the same:")
            st.code(f"{name}.grad = {ex.grads[name]}", language=None)
            continue
        j_col, v_col, r_col = st.columns([4, 1, 2])
        with j_col:
            st.caption(f"J = d(outputs)/d{name}, {jac.shape[0]} x {jac.shape[1]}")
            st.dataframe(_matrix_frame(jac, rows="y", cols=name), width="stretch")
        with v_col:
            st.caption("v")
            st.dataframe(_matrix_frame(vj.v.reshape(-1, 1), rows="y", cols="v"), width="stretch")
        with r_col:
            product = vj.products[name]
            pytorch = ex.grads[name]
            same = torch.allclose(product.to(pytorch.dtype), pytorch, rtol=1e-5, atol=1e-6)
            st.caption("vᵀJ, and PyTorch's backward(v)")
            st.code(f"vᵀJ      = {_flat(product)}\nbackward = {_flat(pytorch)}\n"
                    f"{'the same' if same else 'NOT the same'}", language=None)


def _flat(t: torch.Tensor) -> str:
    return " ".join(str([round(v, 4) for v in t.reshape(-1).tolist()]).split())


def _matrix_frame(matrix: torch.Tensor, *, rows: str, cols: str):
    import pandas as pd

    data = matrix.detach().double().numpy()
    return pd.DataFrame(data, index=[f"{rows}[{i}]" for i in range(data.shape[0])],
                        columns=[f"{cols}[{j}]" if data.shape[1] > 1 or cols != "v" else cols
                                 for j in range(data.shape[1])])


def _vector_spec(ex, vector: VectorChoice):
    if vector == VectorChoice():
        return None  # the script writes torch.ones_like, as the seeds do
    values = [v.tolist() for v in ex.v]
    return values[0] if len(values) == 1 else values


def _code(ex, source: str, panel: InputsPanel, options, vector: VectorChoice) -> None:
    from explorer.codegen import pytorch_script

    script = pytorch_script(source, panel.specs, seed=options.seed, dtype=options.dtype, device=ex.device.split(":")[0],
                            v=_vector_spec(ex, vector))
    st.caption("The plain PyTorch script that reproduces the numbers above (copy button at its top right).")
    st.code(script, language="python")
    st.download_button("Download the script", script, file_name="autograd_explorer.py", mime="text/x-python",
                       icon=":material/download:", key="download_script")


def node_rows(ex) -> list[dict]:
    """The node table as rows for a data frame (engine order)."""
    return [{"step": i, "node": n.op, "label": n.label or "", "grad received": _cell(n.grad)}
            for i, n in enumerate(ex.nodes)]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, torch.Tensor):
        return _flat(value)
    return str(value)
