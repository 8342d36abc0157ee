"""t-SNE: per-iteration cost, and the full digits run against scikit-learn's TSNE.

    python bench/tsne.py [--exact]

Per-iteration cost of the exact float32 gradient (blocked, in-cache) against
a plain PyTorch exact step, at N = 500, 1,000, 1,797 and 5,000. Then digits
(1,797 x 64): our run, scikit-learn's Barnes-Hut TSNE (and its exact TSNE with
--exact, ~55 s), openTSNE if installed: wall time, exact KL(P||Q) on the same
P, trustworthiness(10). Goal: KL <= 0.685 and trustworthiness >= 0.99 in less
time than Barnes-Hut.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explorer.demos.tsne import (  # noqa: E402
    _Gradient, joint_probabilities, kl_divergence, load_dataset, paper_gradient, trustworthiness, tsne,
)


def per_iteration(fn, repeat=20) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exact", action="store_true", help="also run scikit-learn's exact TSNE (about a minute)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(f"{'N':>6}{'ours ms/iter':>14}{'plain torch ms/iter':>21}")
    X_digits, _ = load_dataset("digits")
    for n in (500, 1000, 1797, 5000):
        rng = np.random.default_rng(0)
        X = X_digits[rng.integers(0, len(X_digits), n)] + rng.normal(0, 0.5, (n, 64)) if n > 1797 else X_digits[:n]
        P = joint_probabilities(X, 30.0).float()
        Y = torch.randn(n, 2) * 1e-2
        fast = _Gradient(P)
        t_ours = per_iteration(lambda: fast(Y, 12.0))
        t_plain = per_iteration(lambda: paper_gradient(P, Y, 12.0), repeat=5)
        print(f"{n:>6}{t_ours * 1e3:>14.2f}{t_plain * 1e3:>21.2f}", flush=True)

    X, labels = load_dataset("digits")
    P = joint_probabilities(X, 30.0)
    rows = []
    start = time.perf_counter()
    for snapshot in tsne(X, P=P, device="cpu"):
        pass
    seconds = time.perf_counter() - start
    rows.append(("explorer (exact, float32)", seconds, snapshot.Y, snapshot.iteration))
    from sklearn.manifold import TSNE

    methods = [("scikit-learn Barnes-Hut", "barnes_hut")] + ([("scikit-learn exact", "exact")] if args.exact else [])
    for name, method in methods:
        start = time.perf_counter()
        Y = TSNE(perplexity=30.0, init="pca", method=method, random_state=0).fit_transform(X)
        rows.append((name, time.perf_counter() - start, Y, 1000))
    try:
        import openTSNE

        start = time.perf_counter()
        Y = np.asarray(openTSNE.TSNE(random_state=0).fit(X))
        rows.append(("openTSNE", time.perf_counter() - start, Y, 750))
    except ImportError:
        print("\nopenTSNE: not installed")
    print(f"\n{'digits 1797 x 64':<28}{'seconds':>9}{'iterations':>12}{'exact KL':>10}{'trust(10)':>11}")
    for name, seconds, Y, iterations in rows:
        kl = float(kl_divergence(P, torch.as_tensor(np.asarray(Y), dtype=torch.float64)))
        print(f"{name:<28}{seconds:>9.2f}{iterations:>12}{kl:>10.4f}{trustworthiness(X, np.asarray(Y)):>11.4f}")


if __name__ == "__main__":
    main()
