"""Speed of the regression demo's loop against a bare PyTorch loop doing the same steps.

    python bench/regression.py [--epochs 200]

Full-batch gradient descent on 10^3 to 10^6 points. The demo loop is
``explorer.demos.regression.fit`` with the page's cadence (a snapshot every
``epochs // 400`` epochs at least, here every 10); the bare loop is the seed's
loop with nothing read back. Goal: at most 1.2x slower.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer.demos.regression import fit, make_data  # noqa: E402


def bare(data, epochs: int, lr: float) -> None:
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(2, generator=gen).tolist()
    b0 = torch.tensor([start[0]], requires_grad=True)
    b1 = torch.tensor([start[1]], requires_grad=True)
    opt = torch.optim.SGD([b0, b1], lr=lr)
    for _ in range(epochs):
        opt.zero_grad(set_to_none=False)
        loss = torch.mean((data.y - (b0 + b1 * data.x)) ** 2)
        loss.backward()
        opt.step()
    loss.item()


def demo(data, epochs: int, lr: float, every: int) -> None:
    for _ in fit(data, lr=lr, epochs=epochs, report_every=every):
        pass


def best_of(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} full-batch steps, best of 3\n")
    head = f"{'points':>9}{'bare steps/s':>14}{'demo steps/s':>14}{'ratio':>8}"
    print(head)
    print("-" * len(head))
    for n in (1_000, 10_000, 100_000, 1_000_000):
        data = make_data(n, seed=0)
        demo(data, 5, 0.1, 1)
        t_bare = best_of(lambda: bare(data, args.epochs, 0.1))
        t_demo = best_of(lambda: demo(data, args.epochs, 0.1, 10))
        print(f"{n:>9,}{args.epochs / t_bare:>14.0f}{args.epochs / t_demo:>14.0f}{t_demo / t_bare:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
