"""Jacobians by reverse versus forward mode as sizes grow, and the divergence two ways as n grows.

    python bench/derivatives.py            # both tables (about a minute on 2 CPU cores)
    python bench/derivatives.py --quick    # smaller sizes
    python bench/derivatives.py --threads 1

Table 1: the Jacobian of ``f(x) = tanh(W @ x)`` (``W`` fixed, ``f: R^n -> R^m``)
by :func:`explorer.derivatives.jacobian`, i.e. through the expression engine,
in both modes, with the passes batched by ``vmap`` (``vectorize=True``, what the
app uses) and one by one (``vectorize=False``: the pass counts laid bare).
Reverse mode takes ``m`` backward passes, forward mode ``n`` forward passes,
so the cheaper one flips where ``m = n``; the reference in the same run is
PyTorch's own ``torch.func.jacrev`` / ``jacfwd`` on the same function written
in plain torch.

Table 2: the divergence of ``sin(x)`` (diagonal ``J``) and of ``x * sum(x)``
(not diagonal) with ``v = ones`` (one backward pass) and with the identity
(``n`` backward passes, batched in chunks), for ``x = rand(n)``: the time the
ones-trick saves, and whether it is right.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer.derivatives import MAX_WORK, best_time, divergence_timings, jacobian  # noqa: E402

SIZES = (1, 10, 100, 1000)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def jacobian_table(sizes: tuple[int, ...], repeat: int) -> None:
    print("Jacobian of tanh(W @ x), f: R^n -> R^m, float32; best of "
          f"{repeat} after a warm-up, milliseconds")
    print(f"{'n':>6}{'m':>6} | {'reverse':>9}{'forward':>9} {'cheaper':>8} | {'rev loop':>9}{'fwd loop':>9} "
          f"{'cheaper':>8} | {'jacrev':>8}{'jacfwd':>8}  passes rev/fwd")
    for n in sizes:
        for m in sizes:
            inputs = {"W": f"randn({m}, {n})", "x": f"randn({n})"}
            batched = jacobian("tanh(W @ x)", inputs, wrt=("x",), hessian=False, repeat=repeat,
                               max_entries=10**7, max_work=10 * MAX_WORK)
            loop = jacobian("tanh(W @ x)", inputs, wrt=("x",), hessian=False, vectorize=False, repeat=repeat,
                            max_entries=10**7, max_work=10 * MAX_WORK)
            W = torch.randn(m, n)
            x = torch.randn(n)

            def f(v):
                return torch.tanh(W @ v)

            _, rev = best_time(lambda: torch.func.jacrev(f)(x), repeat)
            _, fwd = best_time(lambda: torch.func.jacfwd(f)(x), repeat)

            def winner(r) -> str:
                return "reverse" if r.seconds["reverse"] < r.seconds.get("forward", float("inf")) else "forward"

            print(f"{n:>6}{m:>6} | {_ms(batched.seconds['reverse']):>9}{_ms(batched.seconds.get('forward')):>9} "
                  f"{winner(batched):>8} | {_ms(loop.seconds['reverse']):>9}{_ms(loop.seconds.get('forward')):>9} "
                  f"{winner(loop):>8} | {_ms(rev):>8}{_ms(fwd):>8}  {m}/{n}", flush=True)


def divergence_table(sizes: tuple[int, ...], repeat: int) -> None:
    print("\nDivergence two ways, x = rand(n), float32; best of "
          f"{repeat} after a warm-up, milliseconds")
    print(f"{'n':>7} | {'sin(x): ones':>13}{'identity':>10}{'ratio':>8} {'agree':>6} | "
          f"{'x*sum(x): ones':>15}{'identity':>10}{'ratio':>8} {'agree':>6}")
    diagonal = divergence_timings("sin(x)", sizes, repeat=repeat)
    mixing = divergence_timings("x * sum(x)", sizes, repeat=repeat)
    for d, mx in zip(diagonal, mixing):
        cells = []
        for t in (d, mx):
            if t.refusal:
                cells.append(f"{'refused: ' + t.refusal[:40]:>37}")
                continue
            ratio = t.seconds_identity / t.seconds_ones
            cells.append(f"{_ms(t.seconds_ones):>13}{_ms(t.seconds_identity):>10}{ratio:>8.0f} {str(t.agree):>6}")
        print(f"{d.n:>7} | {cells[0]} | {' ' * 2}{cells[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one timed run")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch's intra-op threads (default: torch's own choice; 1 is steadier on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    repeat = 1 if args.quick else 3
    jacobian_table(SIZES[:3] if args.quick else SIZES, repeat)
    divergence_table((10, 100, 1000) if args.quick else (10, 100, 1000, 3000, 10_000), repeat)


if __name__ == "__main__":
    main()
