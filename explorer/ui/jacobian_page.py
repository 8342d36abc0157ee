"""Jacobians & VJP lab: the full Jacobian both ways, the Hessian, divergence and Laplacian two ways, curl.

Seeds 002 and 003. Every number comes from :mod:`explorer.derivatives`, run
in the sandbox with its time limit and cached per input (:mod:`explorer.ui.lab`).
"""
from __future__ import annotations

import math

import streamlit as st

from explorer.inputs import DTYPES
from explorer.ui.charts import heat_map, lines
from explorer.ui.lab import function_and_inputs, run
from explorer.ui.widgets import chart, choice, measured, row, table

MAX_DRAWN = 62_500  # entries of a heat map drawn in the browser (250 × 250)
SIZES = (10, 30, 100, 300, 1000)
TABS = ("Jacobian & Hessian", "Divergence & Laplacian", "Curl")

# (label, field, inputs, Laplacian?): the seed's example and the cases that tell the two ways apart.
FIELDS = (
    ("seed 002: ∇²(x·x) at x = ones(3) (J diagonal)", "dot(x, x)", {"x": "ones(3)"}, True),
    ("(x₀x₁, x₁x₂, x₂x₀): J not diagonal", "stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"}, False),
    ("sin(x), elementwise (J diagonal)", "sin(x)", {"x": "linspace(0, 1, 100)"}, False),
    ("x · sum(x): J not diagonal, any n", "x * sum(x)", {"x": "[1.0, 2.0, 3.0]"}, False),
)


def _matrix(matrix, title: str, rows: str, cols: str, key: str, row_blocks=(), col_blocks=()) -> None:
    if matrix.numel() > MAX_DRAWN:
        st.caption(f"{title}: {matrix.shape[0]:,} × {matrix.shape[1]:,}, too large to draw here; "
                   "`python -m explorer jacobian ... --json` prints it.")
        return
    chart(heat_map(matrix, title, rows, cols, row_blocks, col_blocks))


def _options(prefix: str) -> dict:
    st.session_state.setdefault(f"{prefix}_seed", 0)
    line = row()
    dtype = choice("dtype", tuple(DTYPES), key=f"{prefix}_dtype", default="float64", where=line)
    seed = line.number_input("seed", min_value=0, max_value=2**31 - 1, step=1, key=f"{prefix}_seed",
                             bind="query-params", help="seed of the random constructors (rand, randn)", width=130)
    return {"dtype": dtype, "seed": int(seed or 0)}


def _jacobian_section() -> None:
    st.markdown("For $f: \\mathbb{R}^n \\to \\mathbb{R}^m$, $J_{ij} = \\partial y_i / \\partial x_j$ is "
                "$m \\times n$. **Reverse mode** builds it row by row: `backward(v)` with a one-hot $v$ gives "
                "$v^T J$, one backward pass per output element. **Forward mode** builds it column by column: a "
                "`jvp` with a one-hot tangent gives $J t$, one forward pass per input element.")
    setup, shown = st.columns([2, 3], gap="large")
    with setup:
        got = function_and_inputs("jac", "sin(A @ x + b)", {"A": "rand(10, 5)", "x": "rand(5)", "b": "rand(10)"})
        if got is None:
            return
        source, inputs = got
        options = _options("jac")
        names = tuple(inputs)
        st.session_state.setdefault("jac_wrt", list(names))
        st.session_state["jac_wrt"] = [n for n in st.session_state["jac_wrt"] if n in names] or list(names)
        # pills wrap where the column is narrow; a multiselect's chips were cut off beside the sidebar
        wrt = st.pills("with respect to", names, selection_mode="multi", key="jac_wrt",
                       help="the inputs to differentiate with respect to (the others are held fixed)")
    with shown:
        result = run("jacobian", source, inputs, wrt=tuple(wrt or names), **options)
        if result is not None:
            _jacobian_result(result)


def _jacobian_result(result) -> None:
    st.info(result.verdict, icon=":material/balance:")
    line = row()  # columns of a quarter each cut the timings off ("0.642…") beside the sidebar
    line.metric("outputs m", f"{result.outputs:,}", help="backward passes reverse mode takes", width="content")
    line.metric("inputs n", f"{result.inputs:,}", help="forward passes forward mode takes", width="content")
    measured("jac_reverse", line).metric("reverse mode", f"{result.seconds['reverse'] * 1e3:.3f} ms",
                                         width="content")
    if "forward" in result.seconds:
        measured("jac_forward", line).metric("forward mode", f"{result.seconds['forward'] * 1e3:.3f} ms",
                                             help=f"largest difference from reverse: {result.difference:.2g}",
                                             width="content")
    else:
        line.metric("forward mode", "n/a", help=result.forward_refusal, width="content")
    st.caption("Reverse mode by `torch.func.jacrev`, forward mode by `torch.func.jacfwd`, their passes batched "
               "with vmap; best of one timed run after a warm-up.")
    shapes = result.output_shapes
    outputs = [(f"output {k}" if len(shapes) > 1 else "output", math.prod(s)) for k, s in enumerate(shapes)]
    inputs = [(name, J.shape[1]) for name, J in result.jacobians.items()]
    J = result.matrix()
    _matrix(J, f"J ({J.shape[0]} × {J.shape[1]}): a block per output and input", "output element",
            "input element", key="jac_heat", row_blocks=outputs, col_blocks=inputs)
    if result.hessians:
        st.markdown("The function is scalar, so here is its **Hessian** $H_{jk} = \\partial^2 f / "
                    "\\partial x_j \\partial x_k$ over every pair of inputs: the blocks off the diagonal are the "
                    "mixed derivatives $\\partial^2 f / \\partial a\\,\\partial b$ (symmetric where $f$ is smooth).")
        H = result.hessian_matrix()
        _matrix(H, f"Hessian ({H.shape[0]} × {H.shape[1]}): a block per pair of inputs", "input element",
                "input element", key="jac_hess", row_blocks=inputs, col_blocks=inputs)
    elif result.hessian_refusal:
        st.caption(f"No Hessian: {result.hessian_refusal}")


def _load_field(index: int) -> None:
    _, source, inputs, laplacian = FIELDS[index]
    st.session_state["div_f"] = source
    for name, spec in inputs.items():
        st.session_state[f"div_var_{name}"] = spec
    st.session_state["div_lap"] = laplacian


def _divergence_section() -> None:
    st.markdown("`backward(ones)` gives $\\mathbf{1}^T J$ (the column sums), and $(\\mathbf{1}^T J)\\cdot"
                "\\mathbf{1}$ adds up **every** entry of $J$. The divergence $\\nabla\\cdot g = "
                "\\operatorname{trace} J_g$ is only its diagonal: the ones-trick is right when $J$ is diagonal, "
                "the identity (one backward pass per row) always. *Know your Jacobian.*")
    examples = st.columns(len(FIELDS))
    for i, (label, *_) in enumerate(FIELDS):
        examples[i].button(label, key=f"div_example_{i}", on_click=_load_field, args=(i,), width="stretch",
                           wrap=True)  # in a column a label is cut to one line otherwise
    setup, shown = st.columns([2, 3], gap="large")
    with setup:
        got = function_and_inputs("div", FIELDS[3][1], FIELDS[3][2])
        if got is None:
            return
        source, inputs = got
        st.session_state.setdefault("div_lap", False)
        laplacian = st.checkbox("Laplacian ∇²f = ∇·∇f of a scalar function", key="div_lap", bind="query-params")
        options = _options("div")
    with shown:
        result = run("divergence", source, inputs, laplacian=bool(laplacian), **options)
        if result is not None:
            _divergence_result(result)
        # Timing as n grows is heavy work (five sizes, two ways, up to n = 1000): asked for, not done on load.
        st.session_state.setdefault("div_timing", False)
        if st.toggle("time both ways as n grows", key="div_timing", bind="query-params",
                     help="x = rand(n), n up to 1000"):
            timed = run("divergence", source, inputs, laplacian=bool(laplacian), sizes=SIZES, lane="heavy",
                        **options)
            if timed is not None:
                _timing_plot(timed.timings)


def _divergence_result(result) -> None:
    what = "∇²f" if result.laplacian else "∇·g"
    n = result.jacobian.shape[0] if result.jacobian is not None else 0
    table([
        {"way": "(Jᵀ·1)·1, one backward(ones)", what: result.with_ones, "backward passes": 1},
        {"way": "trace(J·I), rows of the identity", what: result.with_identity, "backward passes": n},
    ])
    measured("div_ms").caption(f"Time: {result.seconds_ones * 1e3:.4g} ms with one backward(ones), "
                               f"{result.seconds_identity * 1e3:.4g} ms with the identity.")
    if result.diagonal:
        st.success(result.verdict, icon=":material/check_circle:")
    else:
        st.warning(result.verdict, icon=":material/warning:")
    if result.jacobian is not None:
        title = "Hessian of f (the Jacobian of ∇f)" if result.laplacian else "J of the field"
        _matrix(result.jacobian, title, "output element", "input element", key="div_heat")


def _timing_plot(timings) -> None:
    ran = [t for t in timings if t.refusal is None]
    if not ran:
        if timings:
            st.caption(f"No timing as n grows: {timings[0].refusal} (a field such as sin(x) or x * sum(x) "
                       "works for any n).")
        return
    n = [t.n for t in ran]
    svg = lines({"v = ones (1 pass)": (n, [t.seconds_ones * 1e3 for t in ran]),
                 "identity (n passes, batched)": (n, [t.seconds_identity * 1e3 for t in ran])},
                "time as n grows (x = rand(n))", "n", "milliseconds", log_x=True, log_y=True, points=True)
    chart(svg, measured("div_timing_chart"))
    wrong = [t.n for t in ran if not t.agree]
    st.caption("The identity costs n backward passes (and an n × n Jacobian), the ones-trick one. "
               + (f"The two ways disagree at n = {', '.join(map(str, wrong))}: J is not diagonal there."
                  if wrong else "They agree at every n: J is diagonal."))


def _curl_section() -> None:
    st.markdown("$\\nabla\\times F = (\\partial_y F_3 - \\partial_z F_2,\\ \\partial_z F_1 - \\partial_x F_3,"
                "\\ \\partial_x F_2 - \\partial_y F_1)$, read off the 3 × 3 Jacobian. Give one input with 3 "
                "elements, or three one-number inputs (taken in alphabetical order: x, y, z).")
    setup, shown = st.columns([2, 3], gap="large")
    with setup:
        got = function_and_inputs("curl", "(-y, x, 0*z)", {"x": "1.0", "y": "2.0", "z": "3.0"})
    if got is None:
        return
    with shown:
        result = run("curl", *got, dtype="float64")
        if result is not None:
            _curl_result(result)


def _curl_result(result) -> None:
    line = row()
    for axis, value in zip(("x", "y", "z"), result.curl.tolist()):
        line.metric(f"(∇×F) along {axis}", f"{value:.6g}", width="content")
    labels = [f"∂/∂{c}" for c in result.coordinates] if len(result.coordinates) == 3 else \
        [f"∂/∂{result.coordinates[0]}[{i}]" for i in range(3)]
    table([{"": f"F{i + 1}", **{labels[j]: float(result.jacobian[i, j]) for j in range(3)}} for i in range(3)])


def render() -> None:
    st.title("Jacobians & VJP lab")
    st.caption("Seeds 002 and 003: the Jacobian behind backward(v), and why you should know your Jacobian.")
    # Only the open tab computes (the tab is in the URL, ?jac_tab=Curl): a visit pays for what it shows.
    st.session_state.setdefault("jac_tab", TABS[0])
    for tab, section in zip(st.tabs(TABS, key="jac_tab", bind="query-params"),
                            (_jacobian_section, _divergence_section, _curl_section)):
        if tab.open:
            with tab:
                section()
