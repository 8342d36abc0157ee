"""Jacobians by reverse versus forward mode, and the divergence two ways, as sizes grow.

    python bench/derivatives.py

Reverse mode costs one backward pass per output element, forward mode one
forward pass per input element: for f: R^n -> R^m the cheaper one flips
where m = n. The divergence with v = ones is one backward pass; with the
identity it is n of them (batched), and only the identity is right when the
Jacobian is not diagonal.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer.derivatives import divergence, function  # noqa: E402


def timed(fn, repeat=3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of 3, ms\n")
    print(f"{'n in':>6}{'m out':>7}{'reverse':>10}{'forward':>10}   cheaper")
    for n in (1, 10, 100, 1000):
        for m in (1, 10, 100, 1000):
            if n * m > 200_000:
                continue
            f = function("tanh(W @ x)", {"W": f"randn({m}, {n})", "x": f"randn({n})"})
            x = f.inputs["x"].detach()
            W = f.inputs["W"].detach()
            g = lambda x: torch.tanh(W @ x)  # noqa: E731
            t_rev = timed(lambda: torch.autograd.functional.jacobian(g, x, vectorize=True))
            t_fwd = timed(lambda: torch.autograd.functional.jacobian(g, x, vectorize=True, strategy="forward-mode"))
            print(f"{n:>6}{m:>7}{t_rev * 1e3:>10.2f}{t_fwd * 1e3:>10.2f}   {'reverse' if t_rev < t_fwd else 'forward'}",
                  flush=True)
    print(f"\n{'n':>6}{'v = ones':>10}{'identity':>10}   divergence of sin(x) (diagonal J): both give the same value")
    for n in (10, 100, 300, 1000):
        r = divergence("sin(x)", {"x": f"linspace(0, 1, {n})"})
        print(f"{n:>6}{r.seconds_ones * 1e3:>10.3f}{r.seconds_identity * 1e3:>10.3f}   agree: {r.agree}")


if __name__ == "__main__":
    main()
