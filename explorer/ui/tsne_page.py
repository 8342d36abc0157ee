"""The live t-SNE demo: the KL gradient checked three ways, then the embedding as it moves."""
from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.demos.tsne import (
    DATASETS, gradient_check, joint_probabilities, kl_divergence, load_dataset, trustworthiness, tsne,
)
from explorer.device import available_devices, describe_device, resolve_device

FRAME_SECONDS = 0.3


@st.cache_data(show_spinner="computing P by the perplexity search…", max_entries=8)
def _prepared(dataset: str, n: int, perplexity: float, seed: int):
    X, labels = load_dataset(dataset, n, seed=seed)
    return X, labels, joint_probabilities(X, perplexity)


@st.cache_data(show_spinner=False, max_entries=8)
def _check(dataset: str, n: int, perplexity: float, seed: int, alpha: float):
    _, _, P = _prepared(dataset, n, perplexity, seed)
    Y = torch.randn(P.shape[0], 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return gradient_check(P, Y, alpha)


def _scatter(Y: np.ndarray, labels: np.ndarray, title: str) -> go.Figure:
    fig = go.Figure(go.Scattergl(x=Y[:, 0], y=Y[:, 1], mode="markers",
                                 marker=dict(size=5, color=labels, colorscale="Turbo", opacity=0.8),
                                 text=[str(v) for v in labels], hovertemplate="label %{text}<extra></extra>"))
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10), title=title,
                      xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"))
    return fig


def _kl_curve(history) -> go.Figure:
    points = [(s.iteration, s.kl) for s in history if s.kl is not None]
    fig = go.Figure(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers"))
    fig.add_vrect(x0=0, x1=250, fillcolor="orange", opacity=0.12, annotation_text="early exaggeration")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), title="exact KL(P‖Q)",
                      xaxis_title="iteration")
    return fig


def _gradient_panel(dataset, n, perplexity, seed):
    st.subheader("The gradient, three ways")
    st.markdown(
        "Autograd differentiates the objective; the paper's equation 5 is "
        "`4 Σ_j (p_ij − q_ij)(1 + ‖y_i − y_j‖²)⁻¹ (y_i − y_j)`; the reference code computes the same sum "
        "**without the 4** (it folds it into the learning rate). During early exaggeration the update uses "
        "αp_ij, which is the gradient of `−α Σ p log w + log Z` — that is what autograd checks there.")
    cols = st.columns(2)
    for col, alpha in zip(cols, (1.0, 12.0)):
        check = _check(dataset, n, perplexity, seed, alpha)
        with col:
            st.markdown(f"**α = {alpha:g}** ({'plain KL' if alpha == 1 else 'early exaggeration'})")
            st.metric("max |autograd − paper| / max |paper|", f"{check.max_rel_error:.2e}")
            st.metric("autograd / reference code", f"{check.reference_ratio:.6f}")
            rows = min(5, check.autograd.shape[0])
            st.dataframe({
                "autograd ∂C/∂y_i": [str(np.round(v, 6)) for v in check.autograd[:rows].numpy()],
                "paper (eq. 5)": [str(np.round(v, 6)) for v in check.paper[:rows].numpy()],
                "reference (no 4)": [str(np.round(v, 6)) for v in check.reference[:rows].numpy()],
            }, hide_index=True)


def render() -> None:
    st.title("t-SNE and its KL gradient")
    st.caption("Seed 000: does autograd's gradient of the t-SNE loss agree with van der Maaten & Hinton (2008)?")
    with st.form("tsne_settings"):
        c1, c2, c3, c4 = st.columns(4)
        dataset = c1.selectbox("dataset", DATASETS)
        n = c1.number_input("points (0 = all)", 0, 5000, 0, step=50)
        perplexity = c2.number_input("perplexity", 2.0, 100.0, 30.0)
        iterations = c2.number_input("iterations (at most)", 10, 5000, 1000)
        exaggeration = c3.number_input("early exaggeration", 1.0, 50.0, 12.0)
        seed = c3.number_input("seed", 0, 2**31 - 1, 0)
        device = c4.selectbox("device", ["auto", *available_devices()])
        started = c4.form_submit_button("Start", type="primary")
    try:
        X, labels, P = _prepared(dataset, int(n) or None, float(perplexity), int(seed))
    except ValueError as err:
        st.error(str(err))
        return
    st.markdown(f"{X.shape[0]} points of {X.shape[1]} dimensions · computing on "
                f"**{describe_device(resolve_device(device))}**")
    _gradient_panel(dataset, int(n) or None, float(perplexity), int(seed))

    st.subheader("The embedding")
    stop = st.button("Stop", key="tsne_stop")
    progress = st.progress(0.0, text="press Start")
    left, right = st.columns([3, 2])
    scatter_slot, kl_slot = left.empty(), right.empty()
    state = st.session_state.setdefault("tsne_run", {"history": [], "done": False, "key": None})
    key = (dataset, int(n), float(perplexity), int(seed))
    if started:
        state.update(history=[], done=False, key=key)
        last_draw, frame = 0.0, 0
        for snapshot in tsne(X, P=P, n_iter=int(iterations), early_exaggeration=float(exaggeration),
                             seed=int(seed), device=device):
            state["history"].append(snapshot)
            now = time.monotonic()
            if now - last_draw >= FRAME_SECONDS:
                last_draw, frame = now, frame + 1
                progress.progress(snapshot.iteration / int(iterations),
                                  text=f"iteration {snapshot.iteration} · {snapshot.phase}")
                scatter_slot.plotly_chart(_scatter(snapshot.Y, labels, f"iteration {snapshot.iteration}"),
                                          key=f"tsne_scatter_{frame}", width="stretch")
                kl_slot.plotly_chart(_kl_curve(state["history"]), key=f"tsne_kl_{frame}", width="stretch")
        state["done"] = True
    history = state["history"] if state["key"] == key else []
    if not history:
        return
    last = history[-1]
    progress.progress(min(1.0, last.iteration / int(iterations)),
                      text=("stopped" if stop or not state["done"] else "done") + f" at iteration {last.iteration}")
    pick = st.slider("replay", 0, len(history) - 1, len(history) - 1, key="tsne_replay")
    shown = history[pick]
    scatter_slot.plotly_chart(_scatter(shown.Y, labels, f"iteration {shown.iteration} · {shown.phase}"),
                              key="tsne_scatter_final", width="stretch")
    kl_slot.plotly_chart(_kl_curve(history), key="tsne_kl_final", width="stretch")
    ours_kl = float(kl_divergence(P, torch.as_tensor(last.Y, dtype=torch.float64)))
    st.markdown(f"Ours: KL **{ours_kl:.4f}**, trustworthiness **{trustworthiness(X, last.Y):.4f}**, "
                f"{last.seconds:.1f} s for {last.iteration} iterations.")
    if st.button("Compare with scikit-learn's TSNE (Barnes-Hut)"):
        from sklearn.manifold import TSNE

        with st.spinner("scikit-learn is running…"):
            start = time.perf_counter()
            Y = TSNE(perplexity=float(perplexity), init="pca", random_state=int(seed)).fit_transform(X)
            seconds = time.perf_counter() - start
        st.table({"": ["explorer (exact, float32)", "scikit-learn Barnes-Hut"],
                  "KL on the same exact P": [ours_kl, float(kl_divergence(P, torch.as_tensor(Y, dtype=torch.float64)))],
                  "trustworthiness(10)": [trustworthiness(X, last.Y), trustworthiness(X, Y)],
                  "seconds": [last.seconds, seconds]})
