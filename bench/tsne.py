"""t-SNE: per-iteration cost, and the full digits run against scikit-learn's TSNE and openTSNE.

    python bench/tsne.py [--quick]

1. Per-iteration cost of the exact gradient at N = 500, 1,000, 1,797 and 5,000:
   ours on the CPU (one fused Numba pass), ours in PyTorch operations (the
   path GPUs take), and the naive PyTorch step (autograd of the KL loss, the
   seed's way), all float32.
2. Digits (1,797 x 64), from the raw data to the final embedding (perplexity
   search included): ours, scikit-learn's Barnes-Hut TSNE, scikit-learn's exact
   TSNE (about a minute; skipped with --quick) and openTSNE if installed; wall
   time, iterations, the exact KL(P||Q) on the same float64 P, and
   trustworthiness(10).

Goal: KL <= 0.685 and trustworthiness >= 0.99 in less time than Barnes-Hut.
Numba compiles our kernels once and caches them on disk; that one-time cost
(and the cost of loading the cache in a new process) is printed apart.
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
    DeviceGradient, exact_gradient, joint_probabilities, kl_divergence, load_dataset, score, sklearn_tsne, tsne,
)


def seconds_per_call(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def naive_step(P: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    Y = Y.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(kl_divergence(P, Y), Y)
    return grad


def per_iteration() -> None:
    print(f"{'N':>6}{'ours, CPU kernel':>18}{'ours, torch ops':>17}{'naive autograd':>16}   (ms per iteration)")
    X_digits, _ = load_dataset("digits")
    rng = np.random.default_rng(0)
    for n in (500, 1000, 1797, 5000):
        X = X_digits[:n] if n <= len(X_digits) else \
            X_digits[rng.integers(0, len(X_digits), n)] + rng.normal(0, 0.5, (n, 64))
        P = joint_probabilities(X, 30.0)
        P32 = P.float()
        Y = torch.randn(n, 2) * 10
        fused, blocked = exact_gradient(P, "cpu"), DeviceGradient(P, torch.device("cpu"))
        times = [seconds_per_call(lambda: fused(Y, 12.0), 50), seconds_per_call(lambda: blocked(Y, 12.0), 10),
                 seconds_per_call(lambda: naive_step(P32, Y), 3)]
        print(f"{n:>6}" + "".join(f"{t * 1e3:>{w}.2f}" for t, w in zip(times, (18, 17, 16))), flush=True)


def digits_runs(quick: bool) -> None:
    X, _ = load_dataset("digits")
    start = time.perf_counter()
    list(tsne(X[:50], perplexity=10, n_iter=2, device="cpu"))
    print(f"\nOne-time Numba cost in this process (compile, or load the disk cache): "
          f"{time.perf_counter() - start:.2f} s")
    P = joint_probabilities(X, 30.0)  # the yardstick: exact KL of every result on this float64 P

    def ours():
        *_, last = tsne(X, device="cpu")
        return last.Y, last.iteration

    def sklearn(method):
        def run():
            Y, iterations, _ = sklearn_tsne(X, perplexity=30.0, method=method)
            return Y, iterations
        return run

    runs = [("explorer (exact, CPU kernel)", ours), ("scikit-learn Barnes-Hut", sklearn("barnes_hut"))]
    if not quick:
        runs.append(("scikit-learn exact", sklearn("exact")))
    try:
        import openTSNE

        def open_tsne():
            return np.asarray(openTSNE.TSNE(perplexity=30.0, random_state=0, n_jobs=torch.get_num_threads()).fit(X)), 750
        runs.append((f"openTSNE {openTSNE.__version__} (FFT)", open_tsne))
    except ImportError:
        print("openTSNE: not installed (pip install openTSNE to compare)")
    print(f"\n{'digits 1797 x 64':<32}{'seconds':>9}{'iterations':>12}{'exact KL':>10}{'trust(10)':>11}")
    for name, run in runs:
        start = time.perf_counter()
        Y, iterations = run()
        seconds = time.perf_counter() - start
        scored = score(X, P, Y)
        print(f"{name:<32}{seconds:>9.2f}{iterations:>12}{scored['kl']:>10.4f}{scored['trustworthiness']:>11.4f}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip scikit-learn's exact TSNE (about a minute)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    per_iteration()
    digits_runs(args.quick)


if __name__ == "__main__":
    main()
