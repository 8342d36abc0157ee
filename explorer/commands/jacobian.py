"""Print the full Jacobian of a function (and the Hessian of a scalar one).

Examples:
  python -m explorer jacobian "sin(A @ x + b)" --var "A=rand(10,5)" --var "x=rand(5)" --var "b=rand(10)" --json
  python -m explorer jacobian "dot(x, x)" --var "x=ones(3)" --json

The JSON object has "jacobian" (for each input, the Jacobian of the flattened
outputs: one row per output element, one column per input element), "hessian"
(per input, for a scalar output) and "cheaper" (reverse or forward mode).
Computed in float64 unless --dtype says otherwise.
"""
from __future__ import annotations

import argparse

from explorer.cli import add_input_arguments, inputs_from_args, print_json

HELP = "print the Jacobian (and, for a scalar function, the Hessian)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.set_defaults(dtype="float64")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from explorer.derivatives import jacobian

    r = jacobian(args.source, inputs_from_args(args), seed=args.seed, dtype=args.dtype,
                 device="cpu" if args.device == "auto" else args.device)
    result = {"jacobian": r.jacobians, "outputs": r.outputs, "inputs": r.inputs, "cheaper": r.cheaper,
              "seconds": r.seconds}
    if r.hessians is not None:
        result["hessian"] = r.hessians
    if args.json:
        print_json(result)
        return 0
    for name, J in r.jacobians.items():
        print(f"J with respect to {name} ({tuple(J.shape)}):\n{J}\n")
    for name, H in (r.hessians or {}).items():
        print(f"Hessian in {name}:\n{H}\n")
    print(f"{r.cheaper} mode is cheaper for {r.outputs} outputs and {r.inputs} inputs")
    return 0
