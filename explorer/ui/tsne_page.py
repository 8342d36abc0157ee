"""The live t-SNE demo: the KL gradient checked three ways, the embedding as it moves, a replay, scikit-learn.

Every computation is heavy work for the sandbox (:mod:`explorer.ui.runner`): the data, ``P`` and the
embedding live in a worker; this page draws what comes back. A run's size is bounded by
:data:`explorer.budgets.BUDGETS`, checked where it runs; Stop, a rerun, another page or a closed tab cancels it.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from explorer.demos.tsne import (
    DATASETS, against_sklearn, checks_of_run, dataset_shape, live, phase_ends, random_checks,
)
from explorer.device import device_choices
from explorer.expression import ExpressionError
from explorer.budgets import BUDGETS
from explorer.ui import runner
from explorer.ui.widgets import measured, table, within_bounds

FRAME_SECONDS = 0.25   # redraw at most four times a second; the optimiser never waits for drawing
REPLAY_FRAMES = 60     # frames of the replay animation (snapshots in between are skipped)
MAX_ITERATIONS = 20_000
SNAPSHOTS = 500        # at most this many embeddings kept per run (memory per session stays bounded)
PALETTE = qualitative.T10
RUN_SECONDS = 300.0          # a run's hard limit in the heavy lane (its budget keeps it near a minute)


def _colours(labels: np.ndarray) -> tuple[list[str], list[str]]:
    """Each label's colour (Tableau 10, as Vega-Lite's default), the same in every chart of the page."""
    domain = [str(v) for v in np.unique(labels)]
    return domain, [PALETTE[k % len(PALETTE)] for k in range(len(domain))]


def _embedding_chart(Y: np.ndarray, labels: np.ndarray, title: str, height: int = 460) -> tuple[pd.DataFrame, dict]:
    """The embedding as a Vega-Lite chart (data and spec for ``st.vega_lite_chart``).

    Streamlit redraws a Vega-Lite chart in place when only its data changes; a Plotly chart is
    mounted anew each frame (its id hashes the figure), which leaves the slot blank while the
    browser draws: a flicker that a slow client sees most of the time.
    """
    domain, colours = _colours(labels)
    data = pd.DataFrame({"x": Y[:, 0], "y": Y[:, 1], "label": labels.astype(str)})
    axis = dict(type="quantitative", axis=None, scale=dict(domain=_bounds(Y)))
    spec = dict(height=height, title=title, mark=dict(type="circle", size=18, opacity=0.8),
                encoding=dict(x=dict(field="x", **axis), y=dict(field="y", **axis),
                              color=dict(field="label", type="nominal", legend=None,
                                         scale=dict(domain=domain, range=colours)),
                              tooltip=[dict(field="label", type="nominal")]))
    return data, spec


def _bounds(Y: np.ndarray) -> list[float]:
    half = 1.05 * float(np.abs(Y).max()) or 1.0
    return [-half, half]


def _replay(history, labels: np.ndarray, exploration: int) -> go.Figure:
    """The saved snapshots as a Plotly animation: played in the browser, smoothly, with its own slider."""
    step = max(1, len(history) // REPLAY_FRAMES)
    shown = history[::step] + ([history[-1]] if (len(history) - 1) % step else [])
    # Frames move the points and the axes only: Plotly animates those without a full redraw.
    frames = [go.Frame(name=str(s.iteration), data=[go.Scatter(x=s.Y[:, 0], y=s.Y[:, 1])],
                       layout=dict(xaxis_range=_bounds(s.Y), yaxis_range=_bounds(s.Y))) for s in shown]
    last = shown[-1]
    domain, colours = _colours(labels)
    colour = dict(zip(domain, colours))
    fig = go.Figure(go.Scatter(x=last.Y[:, 0], y=last.Y[:, 1], mode="markers", customdata=labels.astype(str),
                               marker=dict(size=5, color=[colour[str(v)] for v in labels], opacity=0.8),
                               hovertemplate="label %{customdata}<extra></extra>"),
                    frames=frames)
    play = dict(frame=dict(duration=120, redraw=False), transition=dict(duration=100, easing="linear"),
                fromcurrent=False, mode="immediate")
    still = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    # Top to bottom, each in a band of its own: the title, the points (square, as wide as the column allows:
    # a taller figure left a blank band under them), the buttons with the iteration at the right, the slider.
    fig.update_layout(
        height=470, margin=dict(l=10, r=10, t=40, b=120),
        title=f"replay · exaggerated to iteration {exploration}" if exploration else "replay",
        xaxis=dict(visible=False, range=_bounds(last.Y)),
        yaxis=dict(visible=False, range=_bounds(last.Y), scaleanchor="x"),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
                          pad=dict(t=12), buttons=[dict(label="▶ replay", method="animate", args=[None, play]),
                                                   dict(label="❚❚", method="animate", args=[[None], still])])],
        sliders=[dict(active=len(frames) - 1, x=0, len=1, y=0, yanchor="top", pad=dict(t=60),
                      currentvalue=dict(prefix="iteration ", xanchor="right"),
                      steps=[dict(label=f.name, method="animate", args=[[f.name], still]) for f in frames])])
    return fig


def _kl_chart(history, exploration: int) -> tuple[pd.DataFrame, dict]:
    """KL(P‖Q) against the iteration, early exaggeration shaded (Vega-Lite, redrawn in place)."""
    data = pd.DataFrame({"iteration": [s.iteration for s in history if s.kl is not None],
                         "KL": [s.kl for s in history if s.kl is not None]})
    line = dict(mark=dict(type="line", point=True), encoding=dict(
        x=dict(field="iteration", type="quantitative", title="iteration"),
        y=dict(field="KL", type="quantitative", title="KL(P‖Q)", scale=dict(zero=False)),
        tooltip=[dict(field="iteration"), dict(field="KL", format=".4f")]))
    shade = dict(data=dict(values=[dict(start=0, end=exploration, phase="early exaggeration")]),
                 mark=dict(type="rect", color="orange", opacity=0.12),
                 encoding=dict(x=dict(field="start", type="quantitative"), x2=dict(field="end"),
                               tooltip=[dict(field="phase")]))
    return data, dict(height=300, title="KL(P‖Q)", layer=[shade, line] if exploration else [line])


def _schedule(snapshot) -> str:
    return (f"iteration {snapshot.iteration} · {snapshot.phase} (α = {snapshot.exaggeration:g}, "
            f"momentum {snapshot.momentum:g}) · mean gain {snapshot.mean_gain:.2f}")


def _gradient_panel(data: tuple, exaggeration: float) -> None:
    """The gradient at a random Y, three ways: heavy work (P, then N² in float64), so done when asked for."""
    st.header("The gradient, three ways")
    st.markdown(
        "Autograd differentiates the objective; the paper's equation 5 is "
        "`4 Σ_j (p_ij − q_ij)(1 + ‖y_i − y_j‖²)⁻¹ (y_i − y_j)`; the reference code (`tsne.py` on the "
        "author's page) computes the same sum **without the 4** and folds it into its learning rate, so "
        "autograd / reference = 4 everywhere. During early exaggeration the update uses αp_ij, the gradient "
        "of `−α Σ p log w + log Z` (not of KL(αP‖Q), which would be α times the plain gradient): that is "
        "the objective autograd checks there. Float64, at a random Y ~ N(0, 1) of this seed.")
    st.session_state.setdefault("tsne_check", False)
    if not st.toggle("check the gradient three ways at a random Y", key="tsne_check", bind="query-params"):
        return
    result = runner.result(random_checks, *data, (1.0, float(exaggeration)), lane="heavy", timeout=RUN_SECONDS)
    if result is None:
        return
    measured("tsne_p_seconds").caption(f"P by the perplexity search in {result['p_seconds']:.2f} s.")
    for col, (alpha, check) in zip(st.columns(2), result["checks"].items()):
        with col:
            st.markdown(f"**α = {alpha:g}** ({'plain KL' if alpha == 1 else 'early exaggeration'})")
            st.metric("max |autograd − paper| / max |paper|", f"{check.max_rel_error:.2e}")
            st.metric("autograd / reference code", f"{check.reference_ratio:.6f}")
            grads = (("autograd ∂C/∂y_i", check.autograd), ("paper (eq. 5)", check.paper),
                     ("reference (no 4)", check.reference))
            table([{"i": i, **{name: "({:.4g}, {:.4g})".format(*grad[i].tolist()) for name, grad in grads}}
                   for i in range(min(4, check.autograd.shape[0]))])


def _settings_form() -> tuple[dict, bool]:
    """The run's settings, each bound to the URL's query string (``?tsne_dataset=iris&tsne_iterations=500``).

    Defaults are the widgets' own ``value=``: Streamlit leaves a setting out of
    the URL when it equals that default, so the default must be the one a
    fresh page shows.
    """
    devices = device_choices()
    for key, least, most, name in (("tsne_n", 0, 5000, "points"), ("tsne_perplexity", 2.0, 100.0, "perplexity"),
                                   ("tsne_iterations", 10, MAX_ITERATIONS, "iterations")):
        within_bounds(key, least, most, name=name)
    with st.form("tsne_settings"):
        c1, c2, c3, c4 = st.columns(4)
        settings = dict(
            dataset=c1.selectbox("dataset", DATASETS, key="tsne_dataset", bind="query-params",
                                 help="scikit-learn's bundled digits (1,797 × 64), iris, wine; "
                                      "blobs: 5 Gaussian clusters in 10-D"),
            n=c1.number_input("points (0 = all; blobs: how many)", 0, 5000, 0, step=50, key="tsne_n",
                              bind="query-params"),
            device=c1.selectbox("device", devices, key="tsne_device", bind="query-params",
                                help="auto: CUDA, then Apple MPS, then the CPU"),
            perplexity=c2.number_input("perplexity", 2.0, 100.0, 30.0, key="tsne_perplexity", bind="query-params"),
            iterations=c2.number_input("iterations (at most)", 10, MAX_ITERATIONS, 1000, key="tsne_iterations",
                                       bind="query-params"),
            run_all=st.checkbox("run every iteration", key="tsne_all", bind="query-params",
                                help="no early stop (by default a run stops when KL improves less than "
                                     "0.01 % in 50 iterations)"),
            exaggeration=c3.number_input("early exaggeration α", 1.0, 50.0, 12.0, key="tsne_exaggeration",
                                         bind="query-params"),
            exploration=c3.number_input("exaggeration iterations", 0, 1000, 250, key="tsne_exploration",
                                        bind="query-params"),
            lr=c4.number_input("learning rate (0 = auto: max(N/α/4, 50))", 0.0, 10000.0, 0.0, key="tsne_lr",
                               bind="query-params"),
            seed=c4.number_input("seed", 0, 2**31 - 1, 0, key="tsne_seed", bind="query-params"),
        )
        started = c4.form_submit_button("Start", type="primary")
    return settings, started


def _comparison(data: tuple, n_points: int, labels: np.ndarray, ours: dict, seed: int) -> None:
    st.header("Against scikit-learn")
    methods = ("barnes_hut", "exact") if n_points <= BUDGETS.sklearn_exact_points else ("barnes_hut",)
    method = st.radio("scikit-learn's method", methods, horizontal=True, key="tsne_sk_method",
                      format_func=lambda m: "Barnes-Hut (approximate)" if m == "barnes_hut"
                      else "exact (slow: about a minute on digits)",
                      help=f"scikit-learn's exact method is offered up to {BUDGETS.sklearn_exact_points} points: "
                           "it takes minutes beyond")
    if not st.button("Run scikit-learn's TSNE on the same data", key="tsne_sk_run"):
        return
    theirs = runner.result(against_sklearn, *data, method, lane="heavy", timeout=RUN_SECONDS)
    if theirs is None:
        return
    left, right = st.columns([2, 3])
    table([{"": who, "KL on the same exact P": f"{run['kl']:.4f}",
            "trustworthiness(10)": f"{run['trustworthiness']:.4f}", "iterations": run[iterations]}
           for who, run, iterations in (("explorer (exact)", ours, "iteration"),
                                        (f"scikit-learn ({method})", theirs, "iterations"))], left)
    measured("tsne_sk_seconds", left).caption(
        f"Seconds from the data to the embedding: ours {ours['seconds']:.2f} (the perplexity search and the "
        f"optimisation, not the live drawing), scikit-learn's {theirs['seconds']:.2f} (its fit_transform).")
    right.vega_lite_chart(*_embedding_chart(theirs["Y"], labels, f"scikit-learn ({method})", height=380),
                          width="stretch")


def render() -> None:
    st.title("t-SNE and its KL gradient")
    st.caption("Seed 000: does autograd's gradient of the t-SNE loss agree with van der Maaten & Hinton (2008)? "
               "Then exact t-SNE, live, with the paper's schedule.")
    s, started = _settings_form()
    n = int(s["n"]) or None
    data = (s["dataset"], n, float(s["perplexity"]), int(s["seed"]))
    try:
        rows, dims = dataset_shape(s["dataset"], n)
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return
    st.markdown(f"{rows} points of {dims} dimensions")
    try:
        _gradient_panel(data, s["exaggeration"])
    except ExpressionError as err:
        st.error(err.message, icon=":material/error:")

    st.header("The embedding")
    stop = st.button("Stop", key="tsne_stop")
    progress = st.progress(0.0, text="press Start")
    left, right = st.columns([3, 2])
    scatter_slot, kl_slot, schedule_slot = left.empty(), right.empty(), right.empty()
    state = st.session_state.setdefault("tsne_run", {"history": [], "done": False, "key": None})
    iterations, exploration = int(s["iterations"]), int(s["exploration"])
    if started:
        _run(state, data, s, iterations, exploration, progress, scatter_slot, kl_slot)
    history = state["history"] if state["key"] == data else []
    if not history:
        return
    last, labels = history[-1], state["labels"]
    ended = "stopped" if stop or not state["done"] else "done"
    progress.progress(min(1.0, last.iteration / iterations), text=f"{ended} at iteration {last.iteration}")
    scatter_slot.plotly_chart(_replay(history, labels, exploration), key="tsne_replay", width="stretch")
    kl_slot.vega_lite_chart(*_kl_chart(history, exploration), width="stretch")
    schedule_slot.caption(_schedule(last))
    scored = state.get("score")
    if scored is not None:
        st.markdown(f"Ours ({ended}): exact KL(P‖Q) **{scored['kl']:.4f}**, trustworthiness(10) "
                    f"**{scored['trustworthiness']:.4f}** after {last.iteration} iterations on {state['device']}. "
                    "▶ replay plays the saved snapshots.")
    else:
        st.markdown(f"Ours ({ended}): {last.iteration} iterations on {state['device']}; "
                    "a stopped run is not scored. ▶ replay plays the saved snapshots.")
    measured("tsne_seconds").caption(f"{last.seconds:.2f} s of computing (the live drawing not counted).")
    if st.button("Check the gradient along this run", key="tsne_check_run",
                 help="autograd against equation 5 at the first and last snapshot of each phase, float64"):
        _checks_along(data, history)
    if scored is not None:
        ours = {**scored, "iteration": last.iteration, "seconds": state["p_seconds"] + last.seconds}
        _comparison(data, len(labels), labels, ours, int(s["seed"]))


def _run(state: dict, data: tuple, s: dict, iterations: int, exploration: int, progress, scatter_slot,
         kl_slot) -> None:
    """Start a run in the heavy lane (its budget checked there) and draw it as it comes, at most four frames
    a second."""
    state.update(history=[], done=False, key=data, score=None, labels=np.zeros(0))
    last_draw, drawn_kl = 0.0, 0
    with runner.reported(retry_key="tsne_retry"):
        for item in runner.stream(live, *data, n_iter=iterations, early_exaggeration=float(s["exaggeration"]),
                                  exploration_iter=exploration, learning_rate=float(s["lr"]) or "auto",
                                  tol=0.0 if s["run_all"] else 1e-4, device=s["device"],
                                  snapshot_every=max(10, iterations // SNAPSHOTS), timeout=RUN_SECONDS,
                                  status=progress):
            if isinstance(item, dict):
                if "labels" in item:
                    state.update(labels=item["labels"], device=item["device"], p_seconds=item["p_seconds"])
                else:
                    state["score"] = item
                continue
            state["history"].append(item)
            now = time.monotonic()
            if now - last_draw >= FRAME_SECONDS:
                last_draw = now
                progress.progress(item.iteration / iterations, text=_schedule(item))
                scatter_slot.vega_lite_chart(*_embedding_chart(item.Y, state["labels"], f"iteration {item.iteration}"),
                                             width="stretch")
                kls = sum(h.kl is not None for h in state["history"])
                if kls != drawn_kl:  # the curve changes every kl_every iterations, not every frame
                    drawn_kl = kls
                    kl_slot.vega_lite_chart(*_kl_chart(state["history"], exploration), width="stretch")
        state["done"] = True


def _checks_along(data: tuple, history: list) -> None:
    checks = runner.result(checks_of_run, *data, phase_ends(history), lane="heavy", timeout=RUN_SECONDS)
    if checks is None:
        return
    table([{"at": f"iteration {snap.iteration}", "phase": snap.phase, "α": f"{snap.exaggeration:g}",
            "max |autograd − paper| / max |paper|": f"{c.max_rel_error:.2e}",
            "autograd / reference": f"{c.reference_ratio:.6f}"} for snap, c in checks])
