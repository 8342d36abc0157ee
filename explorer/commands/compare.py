"""Compare four ways to a derivative: symbolic, finite differences, reverse and forward mode.

Example:
  python -m explorer compare "log(x[0]*x[1]) * sin(x[1])" --var "x=[0.5, 0.75]" --json

For each input the JSON object gives the gradient by "symbolic",
"forward_difference", "central_difference", "reverse_mode" and "forward_mode",
each with its "value", its "error" (max absolute difference from the symbolic
answer) and its "seconds"; "formulas" holds the symbolic derivatives as text.
Finite differences use --step (default 1e-3) in --dtype (default float32).
"""
from __future__ import annotations

import argparse

from explorer.cli import add_input_arguments, inputs_from_args, print_json

HELP = "compare symbolic, finite-difference, reverse- and forward-mode derivatives"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--step", type=float, default=1e-3, help="finite-difference step h (default 1e-3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from explorer.compare import compare

    r = compare(args.source, inputs_from_args(args), step=args.step, dtype=args.dtype, seed=args.seed)
    by_input: dict = {}
    for method, estimates in r.methods.items():
        for name, e in estimates.items():
            by_input.setdefault(name, {})[method] = {"value": e.value, "error": e.error, "seconds": e.seconds}
    if args.json:
        print_json({**by_input, "formulas": r.formulas, "step": r.step})
        return 0
    for symbol, formula in r.formulas.items():
        print(f"df/d{symbol} = {formula}")
    for name, methods in by_input.items():
        for method, e in methods.items():
            print(f"{name:<4} {method:<20} {e['value'].tolist()}  error {e['error']:.2e}  {e['seconds'] * 1e3:.3f} ms")
    return 0
