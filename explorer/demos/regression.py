"""Linear regression fitted by gradient descent with autograd, as in seed 004.

The model is ``y ≈ b0 + b1·x`` and the loss the mean squared error

    L(b0, b1) = (1/n) Σ_i (y_i − b0 − b1 x_i)²,

whose gradient autograd computes at every step. With ``X = [1, x]`` the
Hessian is constant, ``H = (2/n) XᵀX``, so full-batch gradient descent
converges exactly when the learning rate is below ``2 / λmax(H)``
(:func:`stability_limit`) and diverges above it. The least-squares answer
solves the normal equations ``XᵀX b = Xᵀy`` (:func:`least_squares`).

>>> data = make_data(n=100, seed=0)
>>> last = list(fit(data, lr=0.1, epochs=300, report_every=300))[-1]
>>> b0, b1 = least_squares(data)
>>> abs(last.b0 - b0) < 1e-4 and abs(last.b1 - b1) < 1e-4
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from explorer.checks import whole_number
from explorer.device import describe_device, resolve_device
from explorer.expression import ExpressionError
from explorer.budgets import BUDGETS

OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class Data:
    """Points ``y = b0 + b1·x + noise`` (``x`` standard normal, noise normal with std ``noise``)."""

    x: torch.Tensor
    y: torch.Tensor
    b0: float
    b1: float
    noise: float
    seed: int


@dataclass(frozen=True)
class Snapshot:
    """The state after ``epoch`` epochs (``steps`` optimiser steps in all)."""

    epoch: int
    steps: int
    b0: float
    b1: float
    grad_b0: float
    grad_b1: float
    loss: float
    diverged: bool = False


def make_data(n: int = 100, b0: float = 2.0, b1: float = 1.0, noise: float = 1.0, *, seed: int = 0,
              device: str | torch.device | None = "cpu", dtype: torch.dtype = torch.float32) -> Data:
    """``n`` points of ``y = b0 + b1·x + ε``, the defaults of seed 004 (``y = 2 + x + N(0, 1)``)."""
    whole_number(n, "n", least=2, most=10_000_000, error=ExpressionError)
    if not (math.isfinite(b0) and math.isfinite(b1)):
        raise ExpressionError("b0 and b1 must be finite numbers")
    if not (math.isfinite(noise) and noise >= 0):
        raise ExpressionError(f"noise must be a number >= 0, not {noise!r}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen, dtype=dtype)
    y = b0 + b1 * x + noise * torch.randn(n, generator=gen, dtype=dtype)
    target = resolve_device(device)
    return Data(x.to(target), y.to(target), float(b0), float(b1), float(noise), seed)


def _design(data: Data) -> torch.Tensor:
    x = data.x.double().cpu()
    return torch.stack([torch.ones_like(x), x], dim=1)


def least_squares(data: Data) -> tuple[float, float]:
    """The closed-form answer: ``b = (XᵀX)⁻¹ Xᵀy`` with ``X = [1, x]`` (solved in float64)."""
    X = _design(data)
    b = torch.linalg.solve(X.T @ X, X.T @ data.y.double().cpu())
    return float(b[0]), float(b[1])


def loss_at(data: Data, b0: float, b1: float) -> float:
    """The mean squared error at ``(b0, b1)``, in float64."""
    residual = data.y.double().cpu() - b0 - b1 * data.x.double().cpu()
    return float((residual ** 2).mean())


def stability_limit(data: Data) -> float:
    """``2 / λmax(H)`` with ``H = (2/n) XᵀX``: the largest stable learning rate of full-batch gradient descent."""
    X = _design(data)
    hessian = 2.0 / X.shape[0] * (X.T @ X)
    return float(2.0 / torch.linalg.eigvalsh(hessian).max())


def loss_graph_tensors(data: Data, b0: float = 0.0, b1: float = 0.0):
    """The loss as a live autograd graph, with its parameters: for the explorer's graph views."""
    p0 = torch.tensor([b0], requires_grad=True)
    p1 = torch.tensor([b1], requires_grad=True)
    x, y = data.x.cpu()[:1000], data.y.cpu()[:1000]
    loss = torch.mean((y - (p0 + p1 * x)) ** 2)
    return loss, {"b0": p0, "b1": p1}


def fit(data: Data, *, optimizer: str = "sgd", lr: float = 0.1, batch_size: int | None = None,
        epochs: int = 500, seed: int = 0, report_every: int = 1,
        init: tuple[float, float] | None = None) -> Iterator[Snapshot]:
    """Fit ``b0, b1`` by ``optimizer`` on the MSE loss; yield a :class:`Snapshot` every ``report_every`` epochs.

    ``batch_size=None`` is full-batch gradient descent (as in seed 004); a
    smaller batch is stochastic, with batches drawn from ``seed``. The start
    is ``init`` or, as in the seed, standard normal draws. Reading numbers
    back forces a device sync, so it happens only at snapshots; a loss that
    stops being finite ends the fit with ``diverged=True``.
    """
    if optimizer not in OPTIMIZERS:
        raise ExpressionError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ExpressionError(f"the learning rate must be a positive number, not {lr!r}")
    whole_number(epochs, "epochs", least=1, most=1_000_000, error=ExpressionError)
    whole_number(report_every, "report_every", least=1, error=ExpressionError)
    n = data.x.shape[0]
    whole_number(batch_size, "batch_size (None: full batch)", least=1, most=n, none=True, error=ExpressionError)
    gen = torch.Generator().manual_seed(seed)
    start = init if init is not None else tuple(torch.randn(2, generator=gen).tolist())
    device, dtype = data.x.device, data.x.dtype
    b0 = torch.tensor([float(start[0])], device=device, dtype=dtype, requires_grad=True)
    b1 = torch.tensor([float(start[1])], device=device, dtype=dtype, requires_grad=True)
    if optimizer == "adam":
        opt = torch.optim.Adam([b0, b1], lr=lr)
    else:
        opt = torch.optim.SGD([b0, b1], lr=lr, momentum=0.9 if optimizer == "momentum" else 0.0)
    full = batch_size is None or batch_size >= n
    steps = 0
    for epoch in range(epochs):
        order = None if full else torch.randperm(n, generator=gen).to(device)
        for first in range(0, n, n if full else batch_size):
            if full:
                xb, yb = data.x, data.y
            else:
                index = order[first:first + batch_size]
                xb, yb = data.x[index], data.y[index]
            opt.zero_grad(set_to_none=False)
            loss = torch.mean((yb - (b0 + b1 * xb)) ** 2)
            loss.backward()
            opt.step()
            steps += 1
        last = epoch == epochs - 1
        if epoch % report_every == 0 or last:
            snapshot = Snapshot(epoch, steps, b0.item(), b1.item(), b0.grad.item(), b1.grad.item(), loss.item())
            if not all(math.isfinite(v) for v in (snapshot.loss, snapshot.b0, snapshot.b1)):
                yield Snapshot(**{**snapshot.__dict__, "diverged": True})
                return
            yield snapshot


def seed_log(snapshot: Snapshot) -> str:
    """The lines seed 004 prints every 100 epochs, for this snapshot."""
    return (f"Epoch {snapshot.epoch}: Loss = {snapshot.loss}\n"
            f"Gradient w.r.t b0: tensor([{snapshot.grad_b0:.4e}])\n"
            f"Gradient w.r.t b1: tensor([{snapshot.grad_b1:.4e}])")


# ---------------------------------------------------------------------------
# The live demo's work, as top-level functions for the sandbox: the data stays in the worker.

SAMPLE = 2000  # points of the data sent to the page for its scatter plot


def moments(data: Data) -> tuple[float, float, float, float, float]:
    """``(E x, E y, E x², E xy, E y²)``: all the mean squared error needs (:func:`loss_surface`)."""
    x, y = data.x.double().cpu(), data.y.double().cpu()
    return tuple(float(m) for m in (x.mean(), y.mean(), (x * x).mean(), (x * y).mean(), (y * y).mean()))


def loss_surface(moments: tuple[float, ...], b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """The MSE at every ``(b0, b1)`` of a grid, exactly, from the data's five :func:`moments`.

    ``E (y − b0 − b1 x)² = E y² − 2 b0 E y − 2 b1 E xy + b0² + 2 b0 b1 E x + b1² E x²``:
    O(grid), whatever the number of points.

    >>> float(loss_surface((0.0, 1.0, 1.0, 0.0, 1.0), np.array(1.0), np.array(0.0)))
    0.0
    """
    mx, my, mxx, mxy, myy = moments
    return myy - 2 * b0 * my - 2 * b1 * mxy + b0**2 + 2 * b0 * b1 * mx + b1**2 * mxx


def loss_grid(moments: tuple[float, ...], points: list[tuple[float, float]], pad: float = 1.0,
              size: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(b0s, b1s, log10 MSE)`` on a ``size × size`` grid spanning ``points`` (a path, least squares) and
    ``pad`` around them: the loss contours behind the path.

    >>> b0s, b1s, z = loss_grid((0.0, 1.0, 1.0, 0.0, 2.0), [(1.0, 0.0)], size=3)
    >>> b0s.tolist(), z.shape, round(float(z[1, 1]), 3)
    ([0.0, 1.0, 2.0], (3, 3), 0.0)
    """
    b0s = np.linspace(min(p[0] for p in points) - pad, max(p[0] for p in points) + pad, size)
    b1s = np.linspace(min(p[1] for p in points) - pad, max(p[1] for p in points) + pad, size)
    B0, B1 = np.meshgrid(b0s, b1s)
    return b0s, b1s, np.log10(loss_surface(moments, B0, B1))


def overview(n: int, noise: float, seed: int, device: str = "auto") -> dict:
    """What the page shows before a run: least squares, its loss, the stability limit, a sample of the data,
    the moments of the loss surface, and the device (described)."""
    data = make_data(n, 2.0, 1.0, noise, seed=seed, device=device)
    ols = least_squares(data)
    return {"ols": ols, "ols_loss": loss_at(data, *ols), "limit": stability_limit(data),
            "x": data.x[:SAMPLE].cpu().numpy(), "y": data.y[:SAMPLE].cpu().numpy(), "moments": moments(data),
            "device": describe_device(data.x.device)}


def live(n: int, noise: float, seed: int, device: str = "auto", *, epochs: int = 500,
         batch_size: int | None = None, **options) -> Iterator[Snapshot]:
    """:func:`fit` on the page's data (``options`` are its other keywords), snapshot by snapshot: the hosted
    run, refused (:class:`~explorer.ExpressionError`) beyond :data:`explorer.budgets.BUDGETS` before it starts.

    >>> try:
    ...     next(live(1_000_000, 1.0, 0, epochs=100_000, batch_size=1))
    ... except ExpressionError as err:
    ...     print(err.message.split("; ")[1])
    this server runs at most about 60 s for one visitor: fewer epochs, fewer points or bigger batches
    """
    BUDGETS.check_regression(n, epochs, batch_size)
    yield from fit(make_data(n, 2.0, 1.0, noise, seed=seed, device=device), seed=seed, epochs=epochs,
                   batch_size=batch_size, **options)


def loss_graph(n: int, noise: float, seed: int, b0: float, b1: float) -> str:
    """The annotated DOT of the loss's autograd graph at ``(b0, b1)`` (the explorer's view of it)."""
    from explorer.exploration import trace

    loss, params = loss_graph_tensors(make_data(n, 2.0, 1.0, noise, seed=seed), b0, b1)
    return trace(loss, params).to_dot("annotated")
