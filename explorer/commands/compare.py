"""Compare four ways to a derivative: symbolic, finite differences, reverse and forward mode.

Example:
  python -m explorer compare "log(x[0]*x[1]) * sin(x[1])" --var "x=[0.5, 0.75]" --json

For each input the JSON object gives the gradient by "symbolic",
"forward_difference", "central_difference", "reverse_mode" and
"forward_mode", each with its "value", its "error" (the largest absolute
difference from the symbolic answer) and its "seconds". Beside the inputs:
"function" and "formulas" (the function and each partial derivative as SymPy
writes them, built from the syntax tree), "reference" ("symbolic", or reverse
mode in float64 for a function without a symbolic form, with
"symbolic_refusal" saying why), "step", "dtype", "value" (f at the point) and
"step_errors" (the error of each finite difference for h = 1e-1 ... 1e-12, in
float32 and float64). Finite differences use --step (default 1e-3) in --dtype
(default float32).
"""
from __future__ import annotations

import argparse

from explorer.cli import add_input_arguments, inputs_from_args, print_json

HELP = "compare symbolic, finite-difference, reverse- and forward-mode derivatives"
FIELDS = ("function", "formulas", "reference", "symbolic_refusal", "step", "dtype", "value", "step_errors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--step", type=float, default=1e-3, help="finite-difference step h (default 1e-3)")
    parser.add_argument("--repeat", type=int, default=3, help="time each method as the best of this many runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from explorer.compare import compare
    from explorer.expression import ExpressionError

    specs = inputs_from_args(args)
    clash = [name for name in specs if name in FIELDS]
    if clash and args.json:
        raise ExpressionError(f"an input named {clash[0]!r} would clash with the JSON field of that name: "
                              "rename the input")
    r = compare(args.source, specs, step=args.step, dtype=args.dtype, repeat=args.repeat, seed=args.seed,
                device=args.device)
    by_input = r.by_input()
    if args.json:
        extra = {"function": r.function, "formulas": r.formulas, "reference": r.reference,
                 "symbolic_refusal": r.symbolic_refusal, "step": r.step, "dtype": r.dtype, "value": r.value,
                 "step_errors": r.step_errors}
        print_json({**by_input, **extra})
        return 0
    if r.symbolic_refusal:
        print(f"no symbolic form: {r.symbolic_refusal}\nerrors are against {r.reference}\n")
    else:
        print(f"f = {r.function}")
        for symbol, formula in r.formulas.items():
            print(f"df/d{symbol} = {formula}")
        print()
    for name, methods in by_input.items():
        for method, e in methods.items():
            if e["value"] is None:
                print(f"{name:<6} {method:<20} not available")
                continue
            values = ", ".join(f"{v:.6g}" for v in e["value"].reshape(-1).tolist())
            print(f"{name:<6} {method:<20} [{values}]  error {e['error']:.2e}  {e['seconds'] * 1e3:.3f} ms")
    return 0
