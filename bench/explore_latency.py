"""Latency of explore() on the seed examples, against the same function written by hand in PyTorch.

    python bench/explore_latency.py [--repeat 30]

For each example: the median time of plain PyTorch (build the inputs, forward,
backward) and of ``explorer.explore`` (parse, inputs, dry run on shapes,
forward, graph capture with local derivatives), their ratio, and where
explore's time goes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import explorer  # noqa: E402
from explorer import graph as graph_module  # noqa: E402
from explorer.expression import check, evaluate, parse  # noqa: E402
from explorer.inputs import make_inputs  # noqa: E402

X10 = [5.6419, 1.1369, 4.7996, 0.8205, 0.4615, 0.4596, 2.5004, 1.2695, 2.5845, 0.4513]
XY = [[5.9066, 1.1849], [6.0019, 1.2083], [3.8134, 4.7397], [2.1871, 2.9670], [0.4878, 4.3015],
      [2.5796, 3.2423], [1.0124, 5.7254], [4.4697, 4.1561], [5.1514, 6.0768], [0.3598, 1.5586]]


def _leaf(v, dtype=torch.float32):
    return torch.tensor(v if isinstance(v, list) else [v], dtype=dtype, requires_grad=True)


# (name, source, inputs, dtype, the same function by hand: inputs -> outputs)
EXAMPLES = [
    ("poly at 4 (001)", "x**3 + 2*x**2 + 8*x", {"x": 4}, "float32",
     lambda: (lambda x: ((x**3 + 2 * x**2 + 8 * x), [x]))(_leaf(4))),
    ("w1..w6 (001)", "w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5", {"x": 4}, "float32",
     lambda: (lambda x: ((x**3 + 2 * x**2 + 8 * x), [x]))(_leaf(4))),
    ("sin of 10 (001)", "sin(X)", {"X": X10}, "float32",
     lambda: (lambda X: (torch.sin(X), [X]))(_leaf(X10))),
    ("sin XY cols (001)", "sin(XY[:, 0]) + sin(XY[:, 1])", {"XY": XY}, "float32",
     lambda: (lambda t: (torch.sin(t[:, 0]) + torch.sin(t[:, 1]), [t]))(torch.tensor(XY, requires_grad=True))),
    ("x,y product (002)", "(x + y) * (y + 3)", {"x": 1, "y": 2}, "float32",
     lambda: (lambda x, y: ((x + y) * (y + 3), [x, y]))(_leaf(1), _leaf(2))),
    ("log(1+x.x) (003)", "z = dot(x, x)\nlog(1 + z)", {"x": "rand(10)"}, "float64",
     lambda: (lambda x: (torch.log(1 + torch.dot(x, x)), [x]))(
         torch.rand(10, dtype=torch.float64, requires_grad=True))),
    ("sin(Ax+b) (003)", "sin(mv(A, x) + b)", {"A": "rand(10, 5)", "x": "rand(5)", "b": "rand(10)"}, "float64",
     lambda: (lambda A, x, b: (torch.sin(torch.mv(A, x) + b), [A, x, b]))(
         *(torch.rand(*s, dtype=torch.float64, requires_grad=True) for s in ((10, 5), (5,), (10,))))),
    ("g(f(x)) (004)", "log(x[0]*x[1]) * sin(x[1])", {"x": [0.5, 0.75]}, "float32",
     lambda: (lambda x: (torch.log(x[0] * x[1]) * torch.sin(x[1]), [x]))(_leaf([0.5, 0.75]))),
]


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plain(build):
    def run():
        out, leaves = build()
        torch.autograd.grad(out, leaves, torch.ones_like(out))
    return run


def phases(source, inputs, dtype, repeat):
    """Median time of each phase of explore(), in the order explore() runs them."""
    program = parse(source)
    tensors = make_inputs(program.inputs, inputs, dtype=dtype)
    with graph_module.recording() as recorded:
        ev = evaluate(program, tensors)
    return {
        "parse": median_seconds(lambda: parse(source), repeat),
        "inputs": median_seconds(lambda: make_inputs(program.inputs, inputs, dtype=dtype), repeat),
        "dry run": median_seconds(lambda: check(program, tensors), repeat),
        "forward": median_seconds(lambda: evaluate(program, tensors), repeat),
        "capture": median_seconds(
            lambda: graph_module.capture(ev.outputs, tensors, labels=ev.names,
                                         grad_outputs=[torch.ones_like(o) for o in ev.outputs],
                                         values=recorded), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small tensors: threads only add noise
    print(f"torch {torch.__version__}, {args.repeat} repeats, median times in ms\n")
    head = f"{'example':<20}{'plain torch':>12}{'explore()':>11}{'ratio':>8}   " \
           f"{'parse':>7}{'inputs':>8}{'dry run':>9}{'forward':>9}{'capture':>9}"
    print(head)
    print("-" * len(head))
    for name, source, inputs, dtype, build in EXAMPLES:
        t_plain = median_seconds(plain(build), args.repeat)
        t_explore = median_seconds(lambda: explorer.explore(source, inputs=inputs, dtype=dtype, device="cpu"),
                                   args.repeat)
        ph = phases(source, inputs, dtype, args.repeat)
        print(f"{name:<20}{t_plain * 1e3:>12.3f}{t_explore * 1e3:>11.2f}{t_explore / t_plain:>7.0f}x   "
              + "".join(f"{ph[k] * 1e3:>{w}.2f}" for k, w in
                        (("parse", 7), ("inputs", 8), ("dry run", 9), ("forward", 9), ("capture", 9))))


if __name__ == "__main__":
    main()
