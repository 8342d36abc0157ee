"""t-SNE with its KL gradient checked against the paper (van der Maaten & Hinton, 2008).

Affinities in the data space (§2 of the paper): for each point ``i`` a
Gaussian of precision ``β_i = 1/(2σ_i²)`` found by binary search so that the
perplexity ``2^H(P_i)`` of ``p_{j|i} = exp(−β_i d_ij²) / Σ_k exp(−β_i d_ik²)``
matches the chosen value; then ``p_ij = (p_{j|i} + p_{i|j}) / 2N``.

Affinities in the embedding (Student t with one degree of freedom)::

    q_ij = w_ij / Z,   w_ij = (1 + ‖y_i − y_j‖²)⁻¹,   Z = Σ_{k≠l} w_kl

The cost is ``C = KL(P‖Q) = Σ p_ij log(p_ij / q_ij)`` and its gradient
(equation 5 of the paper)::

    ∂C/∂y_i = 4 Σ_j (p_ij − q_ij) w_ij (y_i − y_j)

The reference implementation (``tsne.py`` on the author's page) computes the
same sum without the factor 4 — it is folded into its learning rate — which is
what seed 000 points out: autograd agrees with the formula only with the 4.

During early exaggeration the update uses ``α p_ij`` in place of ``p_ij``.
That is the gradient of ``C_α = −α Σ p_ij log w_ij + log Z`` (not of
``KL(αP‖Q)``, whose gradient is α times the plain one), so that is the
objective autograd differentiates for the check.

>>> X, labels = load_dataset("blobs", n_samples=60)
>>> P = joint_probabilities(X, perplexity=10)
>>> float(P.sum())
1.0
>>> check = gradient_check(P, torch.randn(60, 2, dtype=torch.float64))
>>> check.max_rel_error < 1e-10
True
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from explorer.device import resolve_device

DATASETS = ("digits", "iris", "wine", "blobs")


def load_dataset(name: str, n_samples: int | None = None, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Data shipped with scikit-learn (nothing is downloaded): ``digits``, ``iris``, ``wine`` or
    synthetic ``blobs``; standardised digits are not, as in the usual t-SNE examples."""
    from sklearn import datasets

    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    if name == "blobs":
        X, y = datasets.make_blobs(n_samples=n_samples or 500, n_features=10, centers=5, random_state=seed)
    else:
        X, y = {"digits": datasets.load_digits, "iris": datasets.load_iris,
                "wine": datasets.load_wine}[name](return_X_y=True)
        if name == "wine":
            X = (X - X.mean(0)) / X.std(0)
    if n_samples is not None:
        if not isinstance(n_samples, int) or n_samples < 10:
            raise ValueError(f"n_samples must be a whole number >= 10, not {n_samples!r}")
        X, y = X[:n_samples], y[:n_samples]
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def joint_probabilities(X: np.ndarray | torch.Tensor, perplexity: float = 30.0, *, tol: float = 1e-5,
                        max_steps: int = 100) -> torch.Tensor:
    """The symmetric ``P`` of the paper (float64), by a per-point binary search on the precision.

    All points are searched at once: each step halves every interval
    ``[β_lo, β_hi]`` until ``|H(P_i) − log(perplexity)| < tol`` (entropies in nats).
    """
    X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    n = X.shape[0]
    if not (isinstance(perplexity, (int, float)) and 1 < perplexity < n):
        raise ValueError(f"perplexity must be a number between 1 and the number of points ({n}), not {perplexity!r}")
    sq = (X * X).sum(1)
    D = (sq[:, None] + sq[None, :] - 2 * X @ X.T).clamp_min_(0)
    D.fill_diagonal_(math.inf)
    target = math.log(perplexity)
    beta = torch.ones(n, dtype=torch.float64)
    lo = torch.zeros(n, dtype=torch.float64)
    hi = torch.full((n,), math.inf, dtype=torch.float64)
    d_min = D.min(1, keepdim=True).values  # shift for stability: exp(-β(d - d_min))
    for _ in range(max_steps):
        logits = -(D - d_min) * beta[:, None]
        P = torch.softmax(logits, 1)
        entropy = -(P * torch.where(P > 0, P.log(), torch.zeros_like(P))).sum(1)
        error = entropy - target
        if error.abs().max() < tol:
            break
        too_flat = error > 0  # entropy too high: sharpen (raise β)
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2, (lo + hi) / 2)
    P = (P + P.T) / (2 * n)
    return P


def kl_divergence(P: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``KL(P‖Q) = Σ_{i≠j} p_ij log(p_ij / q_ij)``, differentiable in ``Y``."""
    W = 1.0 / (1.0 + torch.cdist(Y, Y).pow(2))
    off = ~torch.eye(Y.shape[0], dtype=torch.bool, device=Y.device)
    Q = W[off] / W[off].sum()
    p = P[off]
    mask = p > 0
    return (p[mask] * (p[mask].log() - Q[mask].log())).sum()


def exaggerated_objective(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> torch.Tensor:
    """``C_α = −α Σ p_ij log w_ij + log Z``: the objective whose gradient the update follows.

    For ``α = 1`` it equals ``KL(P‖Q)`` up to the constant ``Σ p log p``.
    """
    W = 1.0 / (1.0 + torch.cdist(Y, Y).pow(2))
    off = ~torch.eye(Y.shape[0], dtype=torch.bool, device=Y.device)
    return -exaggeration * (P[off] * W[off].log()).sum() + W[off].sum().log()


def paper_gradient(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> torch.Tensor:
    """Equation 5: ``4 Σ_j (α p_ij − q_ij) w_ij (y_i − y_j)``."""
    return 4.0 * reference_gradient(P, Y, exaggeration)


def reference_gradient(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> torch.Tensor:
    """The reference code's ``Σ_j (α p_ij − q_ij) w_ij (y_i − y_j)``: the paper's gradient without the 4."""
    W = 1.0 / (1.0 + torch.cdist(Y, Y).pow(2))
    W.fill_diagonal_(0)
    M = (exaggeration * P - W / W.sum()) * W
    return M.sum(1, keepdim=True) * Y - M @ Y


@dataclass
class GradientCheck:
    """The three gradients at one point and how far apart they are."""

    autograd: torch.Tensor
    paper: torch.Tensor
    reference: torch.Tensor
    max_rel_error: float          # |autograd − paper| / max|paper|
    reference_ratio: float        # median of autograd / reference: 4


def gradient_check(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> GradientCheck:
    """Autograd's gradient of :func:`exaggerated_objective` against the paper's and the reference's, in float64."""
    P = P.to(torch.float64)
    Yd = Y.detach().to(torch.float64).requires_grad_(True)
    (auto,) = torch.autograd.grad(exaggerated_objective(P, Yd, exaggeration), Yd)
    Yd = Yd.detach()
    paper = paper_gradient(P, Yd, exaggeration)
    ref = reference_gradient(P, Yd, exaggeration)
    scale = paper.abs().max().clamp_min(1e-300)
    ratio = (auto / ref)[ref.abs() > 1e-12 * ref.abs().max()]
    return GradientCheck(auto, paper, ref, float((auto - paper).abs().max() / scale),
                         float(ratio.median()) if ratio.numel() else float("nan"))


@dataclass
class Snapshot:
    """The embedding after ``iteration`` iterations."""

    iteration: int
    Y: np.ndarray
    kl: float | None              # exact KL(P‖Q), computed every ``kl_every`` iterations
    phase: str                    # "early exaggeration" or "main"
    grad_norm: float
    seconds: float


def _pca_init(X: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    Y = PCA(n_components=2, svd_solver="randomized", random_state=seed).fit_transform(X)
    return Y / np.std(Y[:, 0]) * 1e-4


class _Gradient:
    """The exact gradient in float32, row block by row block so that each block stays in cache.

    ``1 + ‖y_i − y_j‖²`` is one small matrix product, ``[1+|y_i|², 1, −2y_i]·[1, |y_j|², y_j]``,
    and the row sums of ``M = (αP − W/Z)∘W`` come out of the same product as ``M·Y`` by
    appending a column of ones to ``Y``. P is read once per iteration; W is never stored whole.
    """

    def __init__(self, P: torch.Tensor, block: int = 512):
        self.P = P
        self.n = P.shape[0]
        self.block = block
        self.rows = [(s, min(s + block, self.n)) for s in range(0, self.n, block)]
        self.ones = torch.ones(self.n, 1, dtype=P.dtype, device=P.device)
        self._scaled: dict[float, torch.Tensor] = {}  # αP, kept per phase: one pass less per iteration

    def scaled(self, exaggeration: float) -> torch.Tensor:
        if exaggeration == 1.0:
            return self.P
        if exaggeration not in self._scaled:
            self._scaled = {exaggeration: self.P * exaggeration}
        return self._scaled[exaggeration]

    def _w(self, A, Bt, s, e):
        W = A[s:e] @ Bt
        return W.reciprocal_()

    def __call__(self, Y: torch.Tensor, exaggeration: float) -> torch.Tensor:
        sq = (Y * Y).sum(1, keepdim=True)
        A = torch.cat([1 + sq, self.ones, -2 * Y], 1)
        Bt = torch.cat([self.ones, sq, Y], 1).T.contiguous()
        Y1 = torch.cat([Y, self.ones], 1)
        Z = sum(self._w(A, Bt, s, e).sum() for s, e in self.rows) - self.n  # the diagonal's w_ii = 1
        out = torch.empty(self.n, 3, dtype=Y.dtype, device=Y.device)
        P = self.scaled(exaggeration)
        for s, e in self.rows:
            W = self._w(A, Bt, s, e)
            W.diagonal(offset=s).zero_()
            M = W * P[s:e]
            M.addcmul_(W, W, value=-1.0 / float(Z))
            torch.mm(M, Y1, out=out[s:e])
        return 4.0 * (out[:, 2:3] * Y - out[:, :2])


def tsne(X: np.ndarray, *, perplexity: float = 30.0, n_iter: int = 1000, early_exaggeration: float = 12.0,
         exploration_iter: int = 250, learning_rate: float | str = "auto", seed: int = 0,
         device: str | None = "auto", kl_every: int = 50, snapshot_every: int = 10, min_gain: float = 0.01,
         tol: float = 1e-4, P: torch.Tensor | None = None) -> Iterator[Snapshot]:
    """Run t-SNE on ``X``, yielding :class:`Snapshot` s.

    The schedule is scikit-learn's and the paper's: PCA initialisation scaled
    to a standard deviation of 1e-4, early exaggeration ``α = 12`` with momentum
    0.5 for the first 250 iterations, then momentum 0.8; per-parameter gains
    (+0.2 when the gradient changes sign, ×0.8 otherwise, at least
    ``min_gain``); learning rate ``"auto"`` = max(N / α / 4, 50). After the
    exaggeration phase the run stops early when KL improves by less than
    ``tol`` (relative) between two checks ``kl_every`` iterations apart.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a whole number >= 1, not {n_iter!r}")
    if not (isinstance(early_exaggeration, (int, float)) and early_exaggeration >= 1):
        raise ValueError(f"early_exaggeration must be >= 1, not {early_exaggeration!r}")
    if learning_rate == "auto":
        learning_rate = max(n / early_exaggeration / 4, 50.0)
    elif not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be 'auto' or a positive number, not {learning_rate!r}")
    target = resolve_device(device)
    start = time.perf_counter()
    P64 = joint_probabilities(X, perplexity) if P is None else P.to(torch.float64).cpu()
    P32 = P64.to(target, torch.float32)
    gradient = _Gradient(P32)
    Y = torch.as_tensor(_pca_init(X, seed), dtype=torch.float32, device=target)
    update = torch.zeros_like(Y)
    gains = torch.ones_like(Y)
    last_kl = None
    for it in range(n_iter):
        early = it < exploration_iter
        alpha, momentum = (early_exaggeration, 0.5) if early else (1.0, 0.8)
        grad = gradient(Y, alpha)
        increase = (update * grad) < 0
        gains = torch.where(increase, gains + 0.2, gains * 0.8).clamp_min_(min_gain)
        update = momentum * update - learning_rate * gains * grad
        Y = Y + update
        done = it == n_iter - 1
        kl = None
        if (it + 1) % kl_every == 0 or done:
            kl = float(kl_divergence(P64, Y.double().cpu()))
            if not early and last_kl is not None and last_kl - kl < tol * last_kl and it >= exploration_iter + 2 * kl_every:
                done = True
            last_kl = kl
        if (it + 1) % snapshot_every == 0 or done or kl is not None:
            yield Snapshot(it + 1, Y.cpu().numpy().copy(), kl, "early exaggeration" if early else "main",
                           float(grad.norm()), time.perf_counter() - start)
        if done:
            return


def trustworthiness(X: np.ndarray, Y: np.ndarray, n_neighbors: int = 10) -> float:
    """scikit-learn's trustworthiness: how well the embedding keeps the data's nearest neighbours."""
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    return float(sk_trustworthiness(X, Y, n_neighbors=n_neighbors))
