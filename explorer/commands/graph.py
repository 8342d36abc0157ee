"""Draw the autograd graph of a function (or of a built-in model) as SVG, PNG or DOT.

Examples:
  python -m explorer graph "sin(A @ x + b)" --var "A=rand(10,5)" --var "x=rand(5)" \\
      --var "b=rand(10)" --style annotated --format svg -o graph.svg
  python -m explorer graph "x**3 + 2*x**2 + 8*x" --var x=4 --style torchviz --show-saved -o g.png
  python -m explorer graph --model mlp --depth 4000 -o mlp.svg
  python -m explorer graph --model rnn --depth 500 --focus 120 --max-nodes 60 -o around_120.svg
  python -m explorer graph --model transformer --modules 2 -o model.svg
  python -m explorer graph --model resnet --modules 1 --open layer2.0 --colour saved -o resnet.svg

Styles: "torchviz" is torchviz's make_dot drawing; "annotated" adds the user's
names, values and the gradient at every node, coloured by its size. Big graphs
are drawn with level of detail: repeated blocks collapse into one box and at
most --max-nodes boxes are drawn; a note on the picture says what was left out.
--levels limits the drawing to that many levels below the output (or around
--focus). The real architectures (transformer, resnet) are drawn by module:
--modules K draws modules down to depth K as frames and deeper ones as one
box each, runs of identical blocks folded (first … last ×N; --open KEY opens
a module or a run "first..last"); "all" draws every node in frames, "flat"
without modules; by default, the deepest depth that fits. Without --format the format follows the suffix of -o (svg by
default); without -o the drawing goes to stdout.
"""
from __future__ import annotations

import argparse
import sys

from explorer.cli import add_input_arguments, inputs_from_args

HELP = "draw the autograd graph as SVG, PNG or DOT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser, source_required=False)  # --model needs no SOURCE
    # Checked by explorer.models.build_model in run(): importing it here would load torch for --help.
    parser.add_argument("--model", metavar="NAME",
                        help="draw a built-in model instead of SOURCE: transformer, resnet, mlp, rnn, residual "
                             "or chain")
    parser.add_argument("--depth", type=int, default=None,
                        help="with --model: its layers (or time steps, or levels)")
    parser.add_argument("--style", choices=("torchviz", "annotated"), default="annotated")
    parser.add_argument("--format", choices=("svg", "png", "dot"), default=None,
                        help="default: the suffix of -o, else svg")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    parser.add_argument("--show-attrs", action="store_true", help="show each node's saved attributes")
    parser.add_argument("--show-saved", action="store_true", help="show the tensors saved for backward")
    parser.add_argument("--max-nodes", type=int, default=300, help="most boxes drawn (default 300)")
    parser.add_argument("--levels", type=int, default=None,
                        help="draw only this many levels below the output (or around --focus)")
    parser.add_argument("--focus", type=int, default=None, metavar="NODE", help="draw the neighbourhood of this node id")
    parser.add_argument("--highlight", type=int, default=None, metavar="NODE", help="mark this node id")
    parser.add_argument("--modules", default="auto", metavar="K",
                        help="for transformer and resnet: module depth K, 'all' or 'flat' (default: the deepest "
                             "that fits)")
    parser.add_argument("--open", action="append", default=[], metavar="KEY",
                        help="a module (its path) or a run of blocks (first..last) to draw opened; repeatable")
    parser.add_argument("--colour", choices=("gradient", "saved"), default="gradient",
                        help="fill module boxes by the gradient they received or their share of saved bytes")


def run(args: argparse.Namespace) -> int:
    from explorer.export import format_of, render

    if args.model and args.source:
        raise ValueError("give a function (SOURCE) or --model, not both")
    if args.model:
        from explorer.presets import model_exploration

        ex = model_exploration(args.model, args.depth, seed=args.seed)
    elif args.source:
        from explorer.exploration import explore

        if args.depth is not None:
            raise ValueError("--depth sizes a --model; to draw fewer levels of a function use --levels")
        ex = explore(args.source, inputs=inputs_from_args(args), seed=args.seed, dtype=args.dtype,
                     device=args.device)
    else:
        raise ValueError("give a function (SOURCE) or --model")
    options = dict(show_attrs=args.show_attrs, show_saved=args.show_saved, highlight=args.highlight)
    if ex.graph.modules and args.modules != "flat":
        modules = {"all": None, "auto": "auto"}.get(args.modules, args.modules)
        if modules not in (None, "auto"):
            if not str(modules).isdigit():
                raise ValueError(f"--modules must be a whole number, 'all', 'flat' or 'auto', not {args.modules!r}")
            modules = int(modules)
        if args.max_nodes != 300:
            options["max_nodes"] = args.max_nodes
        source = ex.to_dot(args.style, modules=modules, opened=args.open, colour=args.colour, **options)
    else:
        if args.modules not in ("auto", "flat") or args.open:
            raise ValueError("--modules and --open draw a model's modules: --model transformer or resnet")
        source = ex.to_dot(args.style, modules="flat", max_nodes=args.max_nodes, depth=args.levels, focus=args.focus,
                           **options)
    fmt = args.format or (format_of(args.output) if args.output else "svg")
    data = render(source, fmt)
    if args.output:
        with open(args.output, "wb") as out:
            out.write(data)
        print(f"wrote {args.output} ({len(ex.nodes):,} nodes, {args.style}, {fmt})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0
