"""How the graph views scale, 100 to 50,000 nodes, against PyTorch itself and torchviz's make_dot.

    python bench/graph_scale.py [--sizes 100,1000,5000,20000,50000] [--models mlp,rnn,residual,chain]
                                [--steps 8000] [--repeat 3]

First, against PyTorch: the graph of issue 13, ``--steps`` alternating
``sin(y)*y`` and ``tanh(y*1.01+0.1)`` steps on 8 elements (20,002 nodes for
8,000 steps). PyTorch builds it and runs backward; explorer goes from that
tensor to its drawn default view: ``explorer.trace`` (structure, values and
gradients; a node's details wait until it is drawn or asked for), the default
annotated DOT (level of detail above 300 nodes) and Graphviz laying it out as
SVG. Each is the best of ``--repeat`` runs on a fresh graph, in the same run.
Goal: within 3 times PyTorch's own forward and backward. It also times
completing every node's details, what pickling a graph costs.

Then, for each model preset and size (its depth chosen to give about that
many autograd nodes): ``explorer.trace``, the default DOT view of each style,
laying out the annotated one, and torchviz's ``make_dot`` on the same live
graph with Graphviz laying it out too (torchviz recurses once per level: a
RecursionError near 1,000 levels). Goal: at 20,000 nodes, ``to_dot`` within
2 s and its default view laid out within 3 s. Sizes that would need a preset
deeper than its limit (``explorer.models.MAX_LEVELS``: PyTorch frees a deep
graph that Python has walked recursively, and crashes near 43,000 levels) are
skipped.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torchviz  # noqa: E402

import explorer  # noqa: E402
from explorer.export import render  # noqa: E402
from explorer.graph import longest_path  # noqa: E402
from explorer.models import MODELS, build_model  # noqa: E402

NODES_PER_STEP = {"mlp": 5, "rnn": 5, "residual": 6, "chain": 1}
REFERENCE_TIMEOUT = 120.0   # seconds for Graphviz on torchviz's full drawing


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def reference_graph(steps: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Issue 13's graph: alternating ``sin(y)*y`` and ``tanh(y*1.01+0.1)`` steps on 8 elements."""
    x = torch.rand(8, generator=torch.Generator().manual_seed(0)).requires_grad_()
    y = x
    for i in range(steps):
        y = torch.sin(y) * y if i % 2 == 0 else torch.tanh(y * 1.01 + 0.1)
    return y.sum(), {"x": x}


def against_pytorch(steps: int, repeat: int) -> None:
    """PyTorch's forward and backward of the reference graph, against explorer's tensor-to-drawing."""
    def pytorch() -> float:
        start = time.perf_counter()
        loss, params = reference_graph(steps)
        torch.autograd.grad(loss, list(params.values()))
        return time.perf_counter() - start

    def explorer_view() -> tuple[float, float, float, int]:
        loss, params = reference_graph(steps)
        ex, t_trace = timed(lambda: explorer.trace(loss, params))
        dot, t_dot = timed(lambda: ex.to_dot("annotated"))
        _, t_layout = timed(lambda: render(dot, "svg"))
        return t_trace, t_dot, t_layout, len(ex.nodes)

    pytorch()   # torch imports its symbolic-shape machinery on the first backward of a process
    ours, theirs = [], []
    for _ in range(repeat):
        theirs.append(pytorch())
        ours.append(explorer_view())
    best = min(ours, key=lambda r: sum(r[:3]))
    reference = min(theirs)
    loss, params = reference_graph(steps)
    ex = explorer.trace(loss, params)
    _, t_complete = timed(ex.graph.complete)
    print(f"Issue 13's graph, {steps:,} steps ({best[3]:,} nodes), best of {repeat}, seconds:")
    print(f"  PyTorch forward + backward       {reference:6.2f}   (runs: {', '.join(f'{t:.2f}' for t in theirs)})")
    print(f"  explorer: trace {best[0]:.2f} + to_dot {best[1]:.2f} + dot -Tsvg {best[2]:.2f} = {sum(best[:3]):.2f}"
          f"   (runs: {', '.join(f'{sum(r[:3]):.2f}' for r in ours)})")
    print(f"  tensor to drawn default view: {sum(best[:3]) / reference:.1f} times PyTorch's own (goal: 3)")
    print(f"  every node's details, as pickling computes them: {t_complete:.2f}\n", flush=True)
    del ex, loss, params


def torchviz_figures(loss, params) -> tuple[str, str]:
    """torchviz's make_dot on the live graph, and Graphviz laying its drawing out (or why not)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            dot, seconds = timed(lambda: torchviz.make_dot(loss, params=params).source)
        except RecursionError:
            return "RecursionError", "-"
    try:
        _, layout = timed(lambda: render(dot, "svg", timeout=REFERENCE_TIMEOUT))
    except ValueError:
        return f"{seconds:.2f}", f">{REFERENCE_TIMEOUT:.0f}"
    return f"{seconds:.2f}", f"{layout:.2f}"


def torchviz_limit() -> int:
    """The shortest chain ``sin(sin(…x))`` on which torchviz's make_dot fails (bisection)."""
    def draws(levels: int) -> bool:
        loss, params = build_model("chain", levels)
        return torchviz_figures(loss, params)[0] != "RecursionError"

    low, high = 1, 4 * sys.getrecursionlimit()
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if draws(middle) else (low, middle)
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000,20000,50000")
    parser.add_argument("--models", default="mlp,rnn,residual,chain")
    parser.add_argument("--steps", type=int, default=8000, help="steps of issue 13's graph (0: skip it)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the best kept")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if args.steps:
        against_pytorch(args.steps, args.repeat)
    print("Seconds. Ours: trace, default view DOT of each style, dot -Tsvg of the annotated view, DOT nodes in "
          "it. torchviz: make_dot, dot -Tsvg of its drawing.\n")
    head = (f"{'model':<9}{'nodes':>7}{'levels':>7}{'trace':>9}{'annotated':>10}{'torchviz':>9}{'layout':>8}"
            f"{'drawn':>7}  |{'make_dot':>15}{'its layout':>11}")
    print(head)
    print("-" * len(head))
    worst = {}
    for model in models:
        for size in sizes:
            depth = max(1, size // NODES_PER_STEP[model])
            if depth > MODELS[model].max_depth:
                print(f"{model:<9}{size:>7}  skipped: depth {depth:,} is over the preset's {MODELS[model].max_depth:,} "
                      "(explorer/models.py: MAX_LEVELS)", flush=True)
                continue
            loss, params = build_model(model, depth)
            ex, t_capture = timed(functools.partial(explorer.trace, loss, params))
            make_dot, reference_layout = torchviz_figures(loss, params)
            annotated, t_annotated = timed(functools.partial(ex.to_dot, "annotated"))
            _, t_torchviz = timed(functools.partial(ex.to_dot, "torchviz"))
            _, t_layout = timed(functools.partial(render, annotated, "svg"))
            boxes = sum(1 for line in annotated.splitlines()[3:] if line.startswith("\t") and " -> " not in line)
            levels = longest_path(ex.nodes)
            print(f"{model:<9}{len(ex.nodes):>7}{levels:>7}{t_capture:>9.2f}{t_annotated:>10.2f}{t_torchviz:>9.2f}"
                  f"{t_layout:>8.2f}{boxes:>7}  |{make_dot:>15}{reference_layout:>11}", flush=True)
            if 15_000 <= len(ex.nodes) <= 30_000:
                worst[model] = (max(t_annotated, t_torchviz), t_layout)
            del ex, loss, params
    print(f"\ntorchviz's make_dot fails from a chain of {torchviz_limit():,} levels "
          f"(Python's recursion limit: {sys.getrecursionlimit():,}); explorer draws any depth")
    if worst:
        dot_s = max(d for d, _ in worst.values())
        layout_s = max(layout for _, layout in worst.values())
        print(f"about 20,000 nodes: to_dot at most {dot_s:.2f} s (goal 2 s), "
              f"its view laid out at most {layout_s:.2f} s (goal 3 s)")


if __name__ == "__main__":
    main()
