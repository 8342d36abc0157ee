"""How the graph views scale: 100 to 50,000 nodes, against torchviz's make_dot on the same graphs.

    python bench/graph_scale.py [--sizes 100,1000,5000,20000,50000]

For each size (an MLP whose depth gives about that many autograd nodes):
the time to capture the graph (backward with hooks, local Jacobians), to build
each DOT style (the default level-of-detail view), to lay the annotated view
out with Graphviz's ``dot``, and torchviz's ``make_dot`` on the same graph
(it recurses once per level and fails near 1,000 levels). Goal: for 20,000
nodes, to_dot within 2 s and its default view laid out within 3 s.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torchviz  # noqa: E402

import explorer  # noqa: E402
from explorer.export import render  # noqa: E402
from explorer.models import mlp  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def torchviz_time(loss, params) -> str:
    try:
        _, seconds = timed(lambda: torchviz.make_dot(loss, params=params).source)
        return f"{seconds:.2f} s"
    except RecursionError:
        return "RecursionError"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000,20000,50000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; times in seconds\n")
    head = (f"{'nodes':>7}{'depth':>7}{'capture':>9}{'annotated':>11}{'torchviz':>10}"
            f"{'dot layout':>12}{'torchviz make_dot':>19}")
    print(head)
    print("-" * len(head))
    for size in sizes:
        depth = max(1, size // 5)
        loss, params = mlp(depth=depth, width=16)
        reference = torchviz_time(loss, params)
        ex, t_capture = timed(lambda: explorer.trace(loss, params))
        annotated, t_annotated = timed(lambda: ex.to_dot("annotated"))
        _, t_torchviz = timed(lambda: ex.to_dot("torchviz"))
        _, t_layout = timed(lambda: render(annotated, "svg"))
        print(f"{len(ex.nodes):>7}{depth:>7}{t_capture:>9.2f}{t_annotated:>11.2f}{t_torchviz:>10.2f}"
              f"{t_layout:>12.2f}{reference:>19}", flush=True)
    # Where torchviz's recursion gives out, on a plain chain.
    for levels in (500, 900, 1000, 2000):
        x = torch.ones(1, requires_grad=True)
        y = x
        for _ in range(levels):
            y = torch.sin(y)
        print(f"chain of {levels} levels: torchviz {torchviz_time(y, {'x': x})}; "
              f"explorer {timed(lambda: explorer.trace(y, {'x': x}).to_dot('torchviz'))[1]:.2f} s")


if __name__ == "__main__":
    main()
