"""The live SGD regression demo: fit a line with autograd while the charts follow.

The data and the fit live in a sandbox worker (the fit in the heavy lane, :mod:`explorer.ui.runner`);
this page draws what comes back. Stop, a rerun, another page or a closed tab cancels a run.
"""
from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.demos.regression import OPTIMIZERS, live, loss_graph, loss_grid, loss_surface, overview, seed_log
from explorer.device import device_choices
from explorer.expression import ExpressionError
from explorer.ui import runner
from explorer.ui.charts import log_ticks, tick_label
from explorer.ui.widgets import graph_view, row, table

FRAME_SECONDS = 0.25  # redraw at most four times a second; training never waits for drawing
CHART_WIDTH = 380     # px: room for a log axis's 1, 2, 5 ticks unrotated
RUN_SECONDS = 180.0   # a run's hard limit in the heavy lane (its budget keeps it near a minute)


PATH_COLOUR = "#d62728"   # the path in red over blue contours: it must stand out from them
SERIES_COLOUR = "#1f77b4"


def _log_axis(values, title: str) -> dict:
    """A Plotly log axis with ticks at 1, 2, 5 x 10^k only, each labelled with its value: Plotly's own log
    ticks label the minor ones with a lone digit ("8 7 6 5 4 3 2 1 9 8" on a loss axis)."""
    shown = [v for v in values if np.isfinite(v) and v > 0] or [1.0]
    ticks = log_ticks(min(shown), max(shown))
    if len(ticks) < 2:  # a narrow range: the ends themselves, written to three figures
        ticks = sorted({float(f"{min(shown):.3g}"), float(f"{max(shown):.3g}")})
    return dict(type="log", title=title, tickmode="array", tickvals=ticks, ticktext=[tick_label(t) for t in ticks],
                minor=dict(showgrid=False, ticks=""))


def _contours(data: dict, path) -> go.Figure:
    ols = data["ols"]
    g0, g1, log_loss = loss_grid(data["moments"], [*path, ols])
    # pale contours under a dark, thick path: the path is what the chart is about
    fig = go.Figure(go.Contour(x=g0, y=g1, z=log_loss,
                               colorscale=[[0, "#9ecae1"], [1, "#deebf7"]], showscale=False,
                               contours_coloring="lines", line_width=1, name="log10 loss", hoverinfo="skip"))
    fig.add_scatter(x=[p[0] for p in path], y=[p[1] for p in path], mode="lines+markers", name="path",
                    line=dict(color=PATH_COLOUR, width=3), marker=dict(size=5, color=PATH_COLOUR))
    fig.add_scatter(x=[ols[0]], y=[ols[1]], mode="markers+text", text=["least squares"], textposition="top center",
                    marker=dict(symbol="star", size=16, color="#ffbf00", line=dict(color="#333", width=1)),
                    name="least squares")
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=30, b=10), title="parameters on the loss contours",
                      xaxis_title="b0", yaxis_title="b1", showlegend=False)
    return fig


def _loss_curve(history, ols_loss: float, log_scale: bool) -> go.Figure:
    """The loss against the epochs done, on a log x axis: the first epochs, where the loss falls most, get as
    much room as the last ones (on a linear axis they were squashed against the left edge)."""
    done = [s.epoch + 1 for s in history]
    losses = [s.loss for s in history]
    ends = [1, max(done, default=1)]
    fig = go.Figure(go.Scatter(x=done, y=losses, name="loss", line=dict(color=SERIES_COLOUR)))
    # A trace, not add_hline: its label is placed in data coordinates, so it sits on its line on a log axis too.
    fig.add_scatter(x=ends, y=[ols_loss, ols_loss], mode="lines+text", name="least squares",
                    text=["", "least squares"], textposition="top left", line=dict(color="#555", dash="dot"))
    y_axis = _log_axis(losses + [ols_loss], "loss") if log_scale else dict(type="linear", title="loss")
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=30, b=10), title="loss", showlegend=False,
                      xaxis=_log_axis(ends, "epochs done"), yaxis=y_axis)
    return fig


def _fit_line(data: dict, snapshot) -> go.Figure:
    x, y = data["x"], data["y"]
    fig = go.Figure(go.Scattergl(x=x, y=y, mode="markers", marker=dict(size=4, opacity=0.5), name="data"))
    if snapshot is not None and np.isfinite(snapshot.b0) and np.isfinite(snapshot.b1):
        xs = np.array([x.min(), x.max()])
        fig.add_scatter(x=xs, y=snapshot.b0 + snapshot.b1 * xs, mode="lines", name="fit")
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=30, b=10), title="the fitted line")
    return fig


def _cadence(epochs: int, every: int) -> int:
    """Snapshot every r epochs: at most ~400 snapshots, and r divides the log interval."""
    r = max(1, epochs // 400)
    while every % r:
        r -= 1
    return r


def _draw(slots, data: dict, history, log_scale, frame: int):
    # Each frame replaces the last one in the same slot; a new key per frame keeps Streamlit's ids apart.
    last = history[-1] if history else None
    slots["loss"].plotly_chart(_loss_curve(history, data["ols_loss"], log_scale), key=f"reg_loss_{frame}",
                               width=CHART_WIDTH)
    slots["line"].plotly_chart(_fit_line(data, last), key=f"reg_line_{frame}", width=CHART_WIDTH)
    path = [(s.b0, s.b1) for s in history if np.isfinite(s.b0) and np.isfinite(s.b1)]
    path = path[::max(1, len(path) // 400)] + path[-1:] if path else [(0.0, 0.0)]  # from the start, ~400 points
    slots["path"].plotly_chart(_contours(data, path), key=f"reg_path_{frame}", width=CHART_WIDTH)


def render() -> None:
    st.title("SGD regression")
    st.caption("Seed 004: fit y = b0 + b1·x with autograd and an optimiser, and compare with least squares.")
    with st.form("regression"):
        c1, c2, c3, c4 = st.columns(4)
        n = c1.number_input("points", 10, 1_000_000, 100, step=10)
        noise = c1.number_input("noise (std)", 0.0, 10.0, 1.0)
        optimizer = c2.selectbox("optimizer", OPTIMIZERS)
        lr = c2.number_input("learning rate", 1e-5, 10.0, 0.1, format="%.4f")
        batch = c3.number_input("batch size (0 = all points)", 0, 1_000_000, 0)
        epochs = c3.number_input("epochs", 1, 100_000, 500)
        every = c4.number_input("log every k epochs", 1, 10_000, 100)
        seed = c4.number_input("seed", 0, 2**31 - 1, 0)
        device = st.selectbox("device", device_choices())
        log_scale = st.checkbox("log-scale loss", value=True)
        started = st.form_submit_button("Start", type="primary")
    settings = (int(n), float(noise), int(seed), device)
    try:
        data = runner.result(overview, *settings)
    except ExpressionError as err:
        st.error(err.message, icon=":material/error:")
        return
    if data is None:
        return
    ols, limit = data["ols"], data["limit"]
    st.markdown(f"Device: **{data['device']}** · least squares b0 = {ols[0]:.5f}, "
                f"b1 = {ols[1]:.5f} · full-batch gradient descent is stable for learning rates below "
                f"**{limit:.4g}** (2/λmax of the Hessian)")
    if lr > limit and (batch == 0 or batch >= n) and optimizer == "sgd":
        st.warning(f"The learning rate {lr:g} is above the stability limit {limit:.4g}: expect divergence.")
    stop = st.button("Stop", key="regression_stop")
    progress = st.progress(0.0, text="press Start")
    charts = row()  # as many charts to a line as fit: three columns squeezed each to 200 px beside the sidebar
    slots = {"loss": charts.empty(), "line": charts.empty(), "path": charts.empty()}
    log_slot = st.empty()
    state = st.session_state.setdefault("regression_run", {"history": [], "log": [], "done": False})
    if started:
        options = dict(optimizer=optimizer, lr=float(lr), batch_size=int(batch) or None, epochs=int(epochs),
                       report_every=_cadence(int(epochs), int(every)))
        _run(state, settings, options, int(every), data, slots, progress, log_slot, log_scale)
    history = state["history"]
    if history:
        progress.progress(min(1.0, (history[-1].epoch + 1) / int(epochs)),
                          text="stopped" if stop or not state["done"] else "done")
        _draw(slots, data, history, log_scale, -1)
        log_slot.code("\n".join(state["log"][-8:]))
        last = history[-1]
        if last.diverged:
            st.error(f"Diverged at epoch {last.epoch}: the learning rate {lr:g} is above the limit {limit:.4g}.")
        else:
            loss = float(loss_surface(data["moments"], np.float64(last.b0), np.float64(last.b1)))
            table([{"": "gradient descent", "b0": float(last.b0), "b1": float(last.b1), "loss": loss},
                   {"": "least squares", "b0": float(ols[0]), "b1": float(ols[1]), "loss": float(data["ols_loss"])}])
    # An expander's content is computed even while it is closed: a toggle asks for the graph instead.
    if st.toggle("the autograd graph of the loss", key="regression_graph_on"):
        b0, b1 = (history[-1].b0, history[-1].b1) if history and not history[-1].diverged else (0.0, 0.0)
        dot = runner.result(loss_graph, int(n), float(noise), int(seed), b0, b1)
        if dot is not None:
            graph_view(dot, key="regression_graph", file_stem="regression_loss", height=380,
                       alt="Autograd graph of the loss")


def _run(state: dict, settings: tuple, options: dict, every: int, data: dict, slots, progress, log_slot,
         log_scale: bool) -> None:
    """Start a fit in the heavy lane (its budget checked there) and draw it as it comes, at most four frames
    a second."""
    state.update(history=[], log=[], done=False)
    last_draw, frame = 0.0, 0
    with runner.reported(retry_key="regression_retry"):
        for snapshot in runner.stream(live, *settings, **options, timeout=RUN_SECONDS, status=progress):
            state["history"].append(snapshot)
            if snapshot.epoch % every == 0:
                state["log"].append(seed_log(snapshot))
            now = time.monotonic()
            if now - last_draw >= FRAME_SECONDS:
                last_draw, frame = now, frame + 1
                progress.progress((snapshot.epoch + 1) / options["epochs"], text=f"epoch {snapshot.epoch + 1}")
                _draw(slots, data, state["history"], log_scale, frame)
                log_slot.code("\n".join(state["log"][-8:]))
        state["done"] = True
