"""Print the full Jacobian of a function, by reverse and forward mode (and the Hessian of a scalar one).

Examples:
  python -m explorer jacobian "sin(A @ x + b)" --var "A=rand(10,5)" --var "x=rand(5)" --var "b=rand(10)" --json
  python -m explorer jacobian "sin(A @ x + b)" --var "A=rand(10,5)" --var "x=rand(5)" --var "b=rand(10)" --wrt x
  python -m explorer jacobian "dot(x, x)" --var "x=ones(3)" --json
  python -m explorer jacobian "x**2 * y" --var x=3 --var y=5 --json     # hessian["x"]["y"] = [[6.0]]

The JSON object has "jacobian" (for each input, the Jacobian of the outputs
as nested lists: one row per output element, one column per input element,
outputs and inputs flattened), "hessian" (for a scalar output: a block for
every pair of inputs, hessian[a][b] = d2f/da db, rows the elements of a and
columns those of b, as torch.autograd.functional.hessian gives them), "output_shapes", "input_shapes", "passes"
(reverse mode: one backward pass per output element; forward mode: one
forward pass per input element), "cheaper", "verdict", "seconds" (each mode)
and "difference" (the largest gap between the two modes: rounding only).
"""
from __future__ import annotations

import argparse

from explorer.cli import add_input_arguments, inputs_from_args, print_json

HELP = "print the Jacobian (both modes, timed) and, for a scalar function, the Hessian"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--wrt", action="append", metavar="NAME",
                        help="differentiate with respect to this input only (repeat for several; default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from explorer.derivatives import jacobian

    r = jacobian(args.source, inputs_from_args(args), wrt=args.wrt, seed=args.seed, dtype=args.dtype,
                 device=args.device)
    if args.json:
        result = {"jacobian": r.jacobians, "output_shapes": r.output_shapes, "input_shapes": r.input_shapes,
                  "passes": r.passes, "cheaper": r.cheaper, "verdict": r.verdict, "seconds": r.seconds,
                  "difference": r.difference}
        if r.forward_refusal:
            result["forward_refusal"] = r.forward_refusal
        if r.hessians is not None:
            result["hessian"] = r.hessians
        elif r.hessian_refusal:
            result["hessian_refusal"] = r.hessian_refusal
        print_json(result)
        return 0
    for name, J in r.jacobians.items():
        print(f"J with respect to {name}: {J.shape[0]} × {J.shape[1]}\n{J}\n")
    for a, row in (r.hessians or {}).items():
        for b, H in row.items():
            print(f"Hessian block d2f/d{a} d{b}: {H.shape[0]} × {H.shape[1]}\n{H}\n")
    if r.hessian_refusal:
        print(f"no Hessian: {r.hessian_refusal}\n")
    print(r.verdict)
    timing = ", ".join(f"{mode} {seconds * 1e3:.3f} ms" for mode, seconds in r.seconds.items())
    print(f"timed: {timing}")
    if r.forward_refusal:
        print(r.forward_refusal)
    return 0
