"""Evaluate a function, run backward, and print outputs, gradients and the node table.

Examples:
  python -m explorer explore "x**3 + 2*x**2 + 8*x" --var x=4 --json
  python -m explorer explore "sin(A @ x + b)" --var "A=rand(10,5)" --var "x=rand(5)" --var "b=rand(10)"
  python -m explorer explore "sin(x)" --var "x=linspace(0, 1, 5)" --v "[1, 0, 0, 0, 0]"

The JSON object has "outputs", "grads" (input name -> nested lists), "v" (the
vector of backward(v) used for each output: ones unless --v is given) and
"nodes" (the node table, in the order PyTorch's engine ran the backward pass).
"""
from __future__ import annotations

import argparse

from explorer.cli import add_input_arguments, inputs_from_args, print_json

HELP = "evaluate a function and print outputs, gradients and the node table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--v", action="append", metavar="SPEC",
                        help="the vector of backward(v), one per output (default: ones)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from explorer.exploration import explore
    from explorer.format import cell

    v = None if not args.v else (args.v[0] if len(args.v) == 1 else args.v)
    ex = explore(args.source, inputs=inputs_from_args(args), v=v, seed=args.seed, dtype=args.dtype,
                 device=args.device)
    if args.json:
        print_json(ex.to_json())
        return 0
    for i, out in enumerate(ex.outputs):
        print(f"output[{i}] = {out}")
    for name, grad in ex.grads.items():
        print(f"d/d{name} = {grad}")
    print()
    print(f"{'step':>4}  {'node':<22} {'label':<10} grad received")
    for step, node in enumerate(ex.nodes):
        print(f"{step:>4}  {node.op:<22} {node.label or '':<10} {cell(node.grad)}")
    return 0
