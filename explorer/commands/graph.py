"""Draw the autograd graph of a function (or of a built-in model) as SVG, PNG or DOT.

Examples:
  python -m explorer graph "sin(A @ x + b)" --var "A=rand(10,5)" --var "x=rand(5)" \\
      --var "b=rand(10)" --style annotated --format svg -o graph.svg
  python -m explorer graph "x**3 + 2*x**2 + 8*x" --var x=4 --style torchviz --show-saved -o g.png
  python -m explorer graph --model mlp --depth 200 --format svg -o mlp.svg

Styles: "torchviz" is torchviz's make_dot drawing; "annotated" adds the user's
names, values and the gradient at every node. Big graphs are drawn with chains
collapsed and at most --max-nodes boxes; the picture says what was left out.
Without -o the output goes to stdout.
"""
from __future__ import annotations

import argparse
import sys

from explorer.cli import add_input_arguments, inputs_from_args

HELP = "draw the autograd graph as SVG, PNG or DOT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser, source_required=False)  # --model needs no SOURCE
    parser.add_argument("--model", choices=("mlp", "rnn"), help="draw a built-in model instead of SOURCE")
    parser.add_argument("--depth", type=int, default=None,
                        help="with --model: layers of the MLP or steps of the RNN")
    parser.add_argument("--style", choices=("torchviz", "annotated"), default="annotated")
    parser.add_argument("--format", choices=("svg", "png", "dot"), default="svg")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    parser.add_argument("--show-attrs", action="store_true", help="torchviz: show each node's attributes")
    parser.add_argument("--show-saved", action="store_true", help="torchviz: show the tensors saved for backward")
    parser.add_argument("--max-nodes", type=int, default=300, help="most boxes drawn (default 300)")
    parser.add_argument("--levels", type=int, default=None, help="draw only this many levels from the output")


def run(args: argparse.Namespace) -> int:
    from explorer.export import render

    if args.model:
        from explorer.exploration import trace
        from explorer.models import build_model

        loss, params = build_model(args.model, args.depth, seed=args.seed)
        ex = trace(loss, params)
    elif args.source:
        from explorer.exploration import explore

        ex = explore(args.source, inputs=inputs_from_args(args), seed=args.seed, dtype=args.dtype,
                     device=args.device)
    else:
        raise ValueError("give a function (SOURCE) or --model")
    if args.max_nodes < 1:
        raise ValueError("--max-nodes must be at least 1")
    source = ex.to_dot(args.style, show_attrs=args.show_attrs, show_saved=args.show_saved,
                       max_nodes=args.max_nodes, depth=args.levels)
    data = render(source, args.format)
    if args.output:
        with open(args.output, "wb") as out:
            out.write(data)
        print(f"wrote {args.output} ({len(ex.nodes)} nodes, {args.style}, {args.format})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0
