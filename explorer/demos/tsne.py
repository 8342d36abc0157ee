"""t-SNE with its KL gradient checked against the paper (van der Maaten & Hinton, 2008).

Affinities in the data space (§2 of the paper): for each point ``i`` a
Gaussian of precision ``β_i = 1/(2σ_i²)`` found by a per-point search so that the
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

import functools
import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from explorer.checks import whole_number
from explorer.device import describe_device, resolve_device
from explorer.expression import ExpressionError
from explorer.budgets import BUDGETS

DATASETS = ("digits", "iris", "wine", "blobs")


def load_dataset(name: str, n_samples: int | None = None, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Data shipped with scikit-learn (nothing is downloaded): ``digits``, ``iris``, ``wine`` or
    synthetic ``blobs``; standardised digits are not, as in the usual t-SNE examples."""
    from sklearn import datasets

    if name not in DATASETS:
        raise ExpressionError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    if name == "blobs":
        X, y = datasets.make_blobs(n_samples=n_samples or 500, n_features=10, centers=5, random_state=seed)
    else:
        X, y = {"digits": datasets.load_digits, "iris": datasets.load_iris,
                "wine": datasets.load_wine}[name](return_X_y=True)
        if name == "wine":
            X = (X - X.mean(0)) / X.std(0)
    if n_samples is not None:
        whole_number(n_samples, "n_samples", least=10, error=ExpressionError)
        X, y = X[:n_samples], y[:n_samples]
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def dataset_shape(name: str, n_samples: int | None = None) -> tuple[int, int]:
    """``(points, dimensions)`` that :func:`load_dataset` gives for these arguments, without loading anything.

    >>> dataset_shape("digits"), dataset_shape("blobs", 2000)
    ((1797, 64), (2000, 10))
    """
    full = {"digits": (1797, 64), "iris": (150, 4), "wine": (178, 13), "blobs": (n_samples or 500, 10)}
    if name not in full:
        raise ExpressionError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    points, dims = full[name]
    return min(points, n_samples or points), dims


def squared_distances(X: torch.Tensor) -> torch.Tensor:
    """``‖x_i − x_j‖²`` for all pairs (exact: no ``|x|² + |y|² − 2x·y`` cancellation), differentiable."""
    return torch.cdist(X, X, compute_mode="donot_use_mm_for_euclid_dist").square()


def conditional_probabilities(X: np.ndarray | torch.Tensor, perplexity: float = 30.0, *, tol: float = 1e-5,
                              max_steps: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """``p_{j|i} = exp(−β_i d_ij²) / Σ_k exp(−β_i d_ik²)`` with ``β_i`` chosen so that ``2^H(P_i)`` is the perplexity.

    Returns ``(p_{j|i}, β)`` in float64. All rows are solved at once by Newton's
    method on ``log β_i``, since ``H_i = log S_0 + β_i S_1 / S_0`` and
    ``dH_i/dβ_i = −β_i Var_i(d²)`` come from the same three sums
    ``S_k = Σ_j d_ij^{2k} exp(−β_i d_ij²)``; a step that leaves the bracket
    known so far falls back to bisection. A row is done when
    ``|H_i − log(perplexity)| < tol`` (entropies in nats, as scikit-learn's
    ``_binary_search_perplexity``) and is then left alone: on digits every row
    is done in 7 steps, where bisection in lock-step took 28.
    """
    X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    n = X.shape[0]
    if not (isinstance(perplexity, (int, float)) and 1 < perplexity < n):
        raise ExpressionError(f"perplexity must be a number between 1 and the number of points ({n}), not {perplexity!r}")
    sq = (X * X).sum(1)
    D = (sq[:, None] + sq[None, :] - 2 * X @ X.T).clamp_min_(0)
    D.fill_diagonal_(math.inf)
    D -= D.min(1, keepdim=True).values  # exp(−β(d − d_min)): the same p_{j|i}, and the nearest never underflows
    D.fill_diagonal_(0.0)
    target = math.log(perplexity)
    u = -D.mean(1).clamp_min(1e-300).log()  # log β: start at the scale of each row's distances
    lo = torch.full((n,), -math.inf, dtype=torch.float64)
    hi = torch.full((n,), math.inf, dtype=torch.float64)
    beta = u.exp()
    rows = torch.arange(n)  # the rows still searching: a converged row is left alone
    for _ in range(max_steps):
        everyone = len(rows) == n  # the first steps: views, not copies, of the N×N matrices
        d, b = (D, beta) if everyone else (D[rows], beta[rows])
        E = torch.mul(d, -b[:, None]).exp_()
        E[torch.arange(len(rows)), rows] = 0.0
        Ed = E * d
        s0, s1, s2 = E.sum(1), Ed.sum(1), Ed.mul_(d).sum(1)
        E /= s0[:, None]
        if everyone:
            P = E
        else:
            P[rows] = E
        mean = s1 / s0
        error = s0.log() + b * mean - target
        searching = error.abs() >= tol
        if not searching.any():
            break
        rows, error, b, mean, s0, s2 = (t[searching] for t in (rows, error, b, mean, s0, s2))
        u, lo_, hi_ = b.log(), lo[rows], hi[rows]
        too_flat = error > 0  # entropy too high: sharpen (raise β)
        lo_, hi_ = torch.where(too_flat, u, lo_), torch.where(too_flat, hi_, u)
        slope = b * b * (s2 / s0 - mean * mean)  # −dH/d(log β)
        step = u + (error / slope).clamp(-2.0, 2.0)
        bisect = torch.where(torch.isinf(hi_), u + 2.0, torch.where(torch.isinf(lo_), u - 2.0, (lo_ + hi_) / 2))
        beta[rows] = torch.where((step > lo_) & (step < hi_), step, bisect).exp()
        lo[rows], hi[rows] = lo_, hi_
    return P, beta


def joint_probabilities(X: np.ndarray | torch.Tensor, perplexity: float = 30.0, *, tol: float = 1e-5,
                        max_steps: int = 100) -> torch.Tensor:
    """The symmetric ``P`` of the paper (float64): ``p_ij = (p_{j|i} + p_{i|j}) / 2N``.

    See :func:`conditional_probabilities` for the perplexity search.
    """
    conditional, _ = conditional_probabilities(X, perplexity, tol=tol, max_steps=max_steps)
    return (conditional + conditional.T) / (2 * conditional.shape[0])


def kl_divergence(P: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``KL(P‖Q) = Σ_{i≠j} p_ij log(p_ij / q_ij)``, differentiable in ``Y``.

    Written as ``Σ p log p + Σ p log(1 + d²) + (Σ p) log Z``, which needs no mask
    for the diagonal (``p_ii = 0`` and ``log(1 + d_ii²) = 0``).
    """
    D = squared_distances(Y)
    Z = (1.0 / (1.0 + D)).sum() - Y.shape[0]
    return torch.xlogy(P, P).sum() + (P * torch.log1p(D)).sum() + P.sum() * Z.log()


def exaggerated_objective(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> torch.Tensor:
    """``C_α = −α Σ p_ij log w_ij + log Z``: the objective whose gradient the update follows.

    For ``α = 1`` it equals ``KL(P‖Q)`` up to the constant ``Σ p log p``.
    """
    D = squared_distances(Y)
    return exaggeration * (P * torch.log1p(D)).sum() + ((1.0 / (1.0 + D)).sum() - Y.shape[0]).log()


def paper_gradient(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> torch.Tensor:
    """Equation 5: ``4 Σ_j (α p_ij − q_ij) w_ij (y_i − y_j)``."""
    return 4.0 * reference_gradient(P, Y, exaggeration)


def reference_gradient(P: torch.Tensor, Y: torch.Tensor, exaggeration: float = 1.0) -> torch.Tensor:
    """The reference code's ``Σ_j (α p_ij − q_ij) w_ij (y_i − y_j)``: the paper's gradient without the 4."""
    W = 1.0 / (1.0 + squared_distances(Y))
    W.fill_diagonal_(0)
    M = (exaggeration * P - W / W.sum()) * W
    # Differences first: near a minimum the sum cancels, and Σ_j m_ij y_i − Σ_j m_ij y_j would lose
    # the digits of |y| (tens, once spread out) that (y_i − y_j) keeps.
    return torch.stack([(M * (y[:, None] - y[None, :])).sum(1) for y in Y.unbind(1)], 1)


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
    """The embedding after ``iteration`` iterations, and where the schedule stood."""

    iteration: int
    Y: np.ndarray
    kl: float | None              # KL(P‖Q), computed every ``kl_every`` iterations
    phase: str                    # "early exaggeration" or "main"
    exaggeration: float           # α multiplying P in the update
    momentum: float
    mean_gain: float
    grad_norm: float
    seconds: float                # computing since the call (the perplexity search included when P was not
                                  # given), not counting the time the consumer held the generator


def pca_initialisation(X: np.ndarray, scale: float = 1e-4) -> np.ndarray:
    """The first two principal components of ``X``, scaled so the first has standard deviation ``scale``.

    scikit-learn's ``init="pca"``. Exact (SVD of the centred data); each
    component's sign is fixed so that its largest coordinate is positive, so
    the result does not depend on the solver.
    """
    Xc = torch.as_tensor(X, dtype=torch.float64)
    Xc = Xc - Xc.mean(0)
    U, S, _ = torch.linalg.svd(Xc, full_matrices=False)
    Y = U[:, :2] * S[:2]
    Y = Y * torch.sign(Y.gather(0, Y.abs().argmax(0, keepdim=True)))
    return (Y / Y[:, 0].std(correction=0) * scale).numpy()  # numpy's std, as scikit-learn


class DeviceGradient:
    """The exact gradient and KL with PyTorch operations, on any device, row block by row block.

    One pass over ``P`` suffices although ``q_ij = w_ij / Z`` needs all of ``W`` for ``Z``:
    ``Σ_j (αp_ij − w_ij/Z) w_ij (y_i − y_j) = α Σ_j p_ij w_ij (y_i − y_j) − (1/Z) Σ_j w_ij² (y_i − y_j)``.
    The differences ``y_i − y_j`` are formed first (not ``|y_i|² + |y_j|² − 2y_i·y_j`` and
    ``Σ_j m_ij y_i − Σ_j m_ij y_j``): in float32 the expanded forms lose three digits once
    the embedding has spread out and the sum nearly cancels.
    """

    def __init__(self, P: torch.Tensor, device: torch.device, block: int | None = None):
        self.n = P.shape[0]
        self.plogp = float(torch.xlogy(P, P).sum())
        self.P = P.to(device, torch.float32)
        block = block or (256 if device.type == "cpu" else 4096)  # a CPU block stays in cache
        self.rows = [(s, min(s + block, self.n)) for s in range(0, self.n, block)]

    def _blocks(self, Y: torch.Tensor):
        y0, y1 = Y[:, 0], Y[:, 1]
        for s, e in self.rows:
            d0, d1 = y0[s:e, None] - y0, y1[s:e, None] - y1  # y_i − y_j, coordinate by coordinate
            yield s, e, d0, d1, torch.addcmul(d0 * d0, d1, d1).add_(1.0).reciprocal_()

    def __call__(self, Y: torch.Tensor, exaggeration: float) -> torch.Tensor:
        sums = torch.empty(4, self.n, device=Y.device)  # attraction (x, y), repulsion × Z (x, y)
        Z = torch.zeros((), device=Y.device)
        for s, e, d0, d1, W in self._blocks(Y):
            Z += W.sum()
            PW = W * self.P[s:e]
            W.square_()
            for k, (m, d) in enumerate(((PW, d0), (PW, d1), (W, d0), (W, d1))):
                sums[k, s:e] = (m * d).sum(1)
        return 4.0 * (exaggeration * sums[:2] - sums[2:] / (Z - self.n)).T  # the diagonal's w_ii = 1 left Z

    def kl(self, Y: torch.Tensor) -> float:
        plogd = Z = 0.0
        for s, e, _, _, W in self._blocks(Y):
            Z += float(W.sum())
            plogd -= float((self.P[s:e] * W.log_()).sum())
        return self.plogp + plogd + math.log(Z - self.n)


class CpuGradient:
    """The same gradient and KL in one fused pass over the pairs (:mod:`explorer.demos.tsne_kernels`)."""

    def __init__(self, P: torch.Tensor):
        from explorer.demos import tsne_kernels

        self.kernels = tsne_kernels
        self.n = P.shape[0]
        self.plogp = float(torch.xlogy(P, P).sum())
        self.P = P.to(torch.float32).contiguous().numpy()
        self.sums = np.empty((self.n, 5), dtype=np.float32)

    def __call__(self, Y: torch.Tensor, exaggeration: float) -> torch.Tensor:
        self.kernels.gradient_sums(self.P, np.ascontiguousarray(Y.numpy().T), self.sums)
        Z = self.sums[:, 4].sum(dtype=np.float64) - self.n
        grad = 4.0 * (exaggeration * self.sums[:, :2] - self.sums[:, 2:4] / np.float32(Z))
        return torch.from_numpy(grad)

    def kl(self, Y: torch.Tensor) -> float:
        sums = np.empty((self.n, 2))
        self.kernels.kl_sums(self.P, np.ascontiguousarray(Y.numpy().T), sums)
        return self.plogp + float(sums[:, 0].sum()) + math.log(sums[:, 1].sum() - self.n)


def warm_kernels() -> None:
    """Load the CPU kernels now (Numba compiles them once, then loads them from its disk cache), so that
    the first run does not pay for it."""
    gradient = CpuGradient(torch.full((3, 3), 1 / 9, dtype=torch.float64))
    Y = torch.zeros(3, 2)
    gradient(Y, 1.0)
    gradient.kl(Y)


def exact_gradient(P: torch.Tensor, device: torch.device | str = "cpu") -> CpuGradient | DeviceGradient:
    """A callable ``(Y, α) -> ∂C_α/∂Y`` (float32, on ``device``) with a ``.kl(Y)`` method, for this ``P``.

    On the CPU, the fused kernel of :mod:`explorer.demos.tsne_kernels`; on a
    GPU (or without Numba), blocked PyTorch operations. Both are exact
    (no Barnes-Hut approximation) and agree with :func:`paper_gradient`.

    >>> P = joint_probabilities(load_dataset("iris")[0], 20)
    >>> Y = torch.randn(150, 2)
    >>> torch.allclose(exact_gradient(P)(Y, 1.0), paper_gradient(P.float(), Y), rtol=1e-3, atol=1e-6)
    True
    """
    device = resolve_device(device)
    P = P.to(torch.float64).cpu()
    if device.type == "cpu":
        try:
            return CpuGradient(P)
        except ImportError:  # Numba is a requirement; a bare torch install still runs, fifteen times slower
            pass
    return DeviceGradient(P, device)


def tsne(X: np.ndarray, *, perplexity: float = 30.0, n_iter: int = 1000, early_exaggeration: float = 12.0,
         exploration_iter: int = 250, learning_rate: float | str = "auto", seed: int = 0,
         device: str | None = "auto", kl_every: int = 50, snapshot_every: int = 10, min_gain: float = 0.01,
         tol: float = 1e-4, P: torch.Tensor | None = None) -> Iterator[Snapshot]:
    """Run exact t-SNE on ``X``, yielding :class:`Snapshot` s as it goes.

    The schedule is scikit-learn's and the paper's: PCA initialisation scaled
    to a standard deviation of 1e-4, early exaggeration ``α = 12`` with momentum
    0.5 for the first 250 iterations, then momentum 0.8; per-parameter gains
    (+0.2 when the gradient changes sign, ×0.8 otherwise, at least
    ``min_gain``); learning rate ``"auto"`` = max(N / α / 4, 50). After the
    exaggeration phase the run stops early when KL improves by less than
    ``tol`` (relative) between two checks ``kl_every`` iterations apart
    (``tol=0`` runs all ``n_iter``). ``seed`` is accepted for symmetry with the
    other demos: PCA initialisation and the exact gradient are deterministic.

    >>> X, labels = load_dataset("iris")
    >>> *_, last = tsne(X, n_iter=300, device="cpu")
    >>> last.iteration, last.phase, last.kl < 0.5
    (300, 'main', True)
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    for name, value, least in (("n_iter", n_iter, 1), ("exploration_iter", exploration_iter, 0),
                               ("kl_every", kl_every, 1), ("snapshot_every", snapshot_every, 1)):
        whole_number(value, name, least=least, error=ExpressionError)
    if not (isinstance(early_exaggeration, (int, float)) and early_exaggeration >= 1):
        raise ExpressionError(f"early_exaggeration must be >= 1, not {early_exaggeration!r}")
    if learning_rate == "auto":
        learning_rate = max(n / early_exaggeration / 4, 50.0)
    elif not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ExpressionError(f"learning_rate must be 'auto' or a positive number, not {learning_rate!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise ExpressionError(f"tol must be a number >= 0, not {tol!r}")
    target = resolve_device(device)
    start = time.perf_counter()
    if P is None:
        P = joint_probabilities(X, perplexity)
    gradient = exact_gradient(P, target)
    Y = torch.as_tensor(pca_initialisation(X), dtype=torch.float32, device=target)
    update = torch.zeros_like(Y)
    gains = torch.ones_like(Y)
    last_kl = None
    held = 0.0
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
            kl = gradient.kl(Y)
            settled = tol > 0 and last_kl is not None and last_kl - kl < tol * last_kl
            done = done or (not early and settled and it >= exploration_iter + 2 * kl_every)
            last_kl = kl
        if (it + 1) % snapshot_every == 0 or done or kl is not None:
            now = time.perf_counter()
            yield Snapshot(it + 1, Y.cpu().numpy().copy(), kl, "early exaggeration" if early else "main",
                           alpha, momentum, float(gains.mean()), float(grad.norm()), now - start - held)
            held += time.perf_counter() - now  # the consumer's time (drawing, sending) is not the run's
        if done:
            return


def checks_along_run(P: torch.Tensor, snapshots: list[Snapshot]) -> list[tuple[Snapshot, GradientCheck]]:
    """:func:`gradient_check` at the first and last snapshot of each phase, with that phase's ``α``.

    The check is an identity in ``Y`` and ``α``; running it on the embeddings the
    optimiser really visited (tiny and clustered early, spread out at the end)
    shows it holds where it matters, during early exaggeration too.
    """
    return [(s, gradient_check(P, torch.as_tensor(s.Y, dtype=torch.float64), s.exaggeration))
            for s in phase_ends(snapshots)]


def phase_ends(snapshots: list[Snapshot]) -> list[Snapshot]:
    """The first and the last snapshot of each phase of a run, in order."""
    picks: dict[int, Snapshot] = {}
    for phase in dict.fromkeys(s.phase for s in snapshots):
        in_phase = [s for s in snapshots if s.phase == phase]
        picks.update({s.iteration: s for s in (in_phase[0], in_phase[-1])})
    return [s for _, s in sorted(picks.items())]


def trustworthiness(X: np.ndarray, Y: np.ndarray, n_neighbors: int = 10) -> float:
    """scikit-learn's trustworthiness: how well the embedding keeps the data's nearest neighbours."""
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    return float(sk_trustworthiness(X, Y, n_neighbors=n_neighbors))


# ---------------------------------------------------------------------------
# The live demo's runs, as top-level functions for the sandbox's heavy lane: the data, P and the
# embedding stay in the worker; what comes back is small.

@functools.lru_cache(maxsize=1)
def prepared(dataset: str, n: int | None, perplexity: float, seed: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor,
                                                                                   float]:
    """``(X, labels, P, seconds of the perplexity search)``; the last one is kept (P of 5,000 points is 200 MB).

    Every hosted run starts here: more points than :data:`explorer.budgets.BUDGETS` allows are refused first.
    """
    BUDGETS.check_tsne(dataset_shape(dataset, n)[0])
    X, labels = load_dataset(dataset, n, seed=seed)
    start = time.perf_counter()
    P = joint_probabilities(X, perplexity)
    return X, labels, P, time.perf_counter() - start


def random_checks(dataset: str, n: int | None, perplexity: float, seed: int,
                  exaggerations: tuple[float, ...] = (1.0, 12.0)) -> dict:
    """:func:`gradient_check` at a random ``Y ~ N(0, 1)`` of ``seed`` for each ``α``, with the data's shape."""
    X, _, P, seconds = prepared(dataset, n, perplexity, seed)
    Y = torch.randn(P.shape[0], 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return {"shape": X.shape, "p_seconds": seconds,
            "checks": {alpha: gradient_check(P, Y, alpha) for alpha in dict.fromkeys(exaggerations)}}


def live(dataset: str, n: int | None, perplexity: float, seed: int, *, n_iter: int = 1000,
         **options) -> Iterator[dict | Snapshot]:
    """A run for the page: first ``{"labels", "shape", "p_seconds", "device"}`` (described), then the :class:`Snapshot` s of
    :func:`tsne` (``options`` are its other keywords), then ``{"kl", "trustworthiness"}`` of the last embedding.

    Refused (:class:`~explorer.ExpressionError`) beyond :data:`explorer.budgets.BUDGETS` before anything runs:

    >>> try:
    ...     next(live("blobs", 5000, 30.0, 0, n_iter=20_000))
    ... except ExpressionError as err:
    ...     print(err.message.split(": ")[1])
    at most 8,000 iterations for 5,000 points
    """
    BUDGETS.check_tsne(dataset_shape(dataset, n)[0], n_iter)
    X, labels, P, seconds = prepared(dataset, n, perplexity, seed)
    device = resolve_device(options.pop("device", "auto"))
    yield {"labels": labels, "shape": X.shape, "p_seconds": seconds, "device": describe_device(device)}
    last = None
    for last in tsne(X, P=P, seed=seed, device=device, n_iter=n_iter, **options):
        yield last
    if last is not None:
        yield score(X, P, last.Y)


def score(X: np.ndarray, P: torch.Tensor, Y: np.ndarray) -> dict:
    """How good an embedding ``Y`` of ``X`` is: exact ``KL(P‖Q)`` on the same ``P``, and trustworthiness(10)."""
    return {"kl": float(kl_divergence(P, torch.as_tensor(np.asarray(Y), dtype=torch.float64))),
            "trustworthiness": trustworthiness(X, np.asarray(Y))}


def checks_of_run(dataset: str, n: int | None, perplexity: float, seed: int,
                  snapshots: list[Snapshot]) -> list[tuple[Snapshot, GradientCheck]]:
    """:func:`checks_along_run` for the page: P from the data settings, as the run had it."""
    return checks_along_run(prepared(dataset, n, perplexity, seed)[2], snapshots)


def sklearn_tsne(X: np.ndarray, *, perplexity: float = 30.0, method: str = "barnes_hut",
                 seed: int = 0) -> tuple[np.ndarray, int, float]:
    """scikit-learn's TSNE with the same initialisation and perplexity: ``(Y, iterations, seconds)``."""
    from sklearn.manifold import TSNE

    start = time.perf_counter()
    model = TSNE(perplexity=perplexity, init="pca", method=method, random_state=seed)
    Y = model.fit_transform(X)
    return Y, int(model.n_iter_), time.perf_counter() - start


def against_sklearn(dataset: str, n: int | None, perplexity: float, seed: int, method: str = "barnes_hut") -> dict:
    """scikit-learn's TSNE on the same data, scored as ours is (:func:`score`): ``Y``, iterations, seconds.

    Its exact method is refused past :attr:`explorer.budgets.Budgets.sklearn_exact_points`.
    """
    BUDGETS.check_sklearn(dataset_shape(dataset, n)[0], method)
    X, _, P, _ = prepared(dataset, n, perplexity, seed)
    Y, iterations, seconds = sklearn_tsne(X, perplexity=perplexity, method=method, seed=seed)
    return {"Y": Y, "iterations": iterations, "seconds": seconds, **score(X, P, Y)}
