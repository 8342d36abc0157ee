"""Take a view of the app as a PNG, in headless Chromium: the same view gives the same pixels twice.

Examples:
  python -m explorer shot "explore?mode=function&f=sin(x)&var_x=4" -o sin.png
  python -m explorer shot "jacobian?jac_tab=Curl" -o curl.png "four-ways" -o four.png --full-page
  python -m explorer shot "regression" -o fit.png --click Start --full-page
  python -m explorer shot --list docs/shots.txt --out-dir docs/screenshots [--only explorer]
  python -m explorer shot "explore?f=tanh(x)&var_x=1" -o t.png --url http://127.0.0.1:8501
  python -m explorer shot "?f=x**3%20%2B%202*x**2%20%2B%208*x&var_x=4" --animate -o backward.gif --fps 2

VIEW is a page path and its query string, as the app's URLs carry them
(what follows http://localhost:8501/): the whole state of a page is in its
URL. The explorer is the app's root, "?mode=...", also written
"explore?mode=...". Each VIEW is followed by its -o FILE; several views in one call share
one server and one browser. --list reads a file of views instead, one
"NAME VIEW [OPTIONS]" a line (shell quoting, # comments), and writes
OUT_DIR/NAME.png for each; the options of a line are those below (--width
... --click).

The app is started on a free port of 127.0.0.1 and stopped at the end,
unless --url names a running one. Each view is taken once it has settled:
the page's script finished, graphs and charts drawn, fonts loaded, two
captures in a row alike. Streamlit's header and toolbar are hidden, and the
sidebar unless --sidebar; timings and other values measured live are
blanked to a placeholder of the same size, so that the figure does not
change from one run to the next. Each PNG records its view and the
Chromium version in its text chunks.

With --animate, a view of the explorer becomes its backward pass as an
animated GIF (or WebP, by the suffix of -o): one frame a step, in the order
PyTorch's engine ran them, the node being run highlighted, the gradients
received so far, the step's chain rule under the graph. It is drawn by the
library (Graphviz and Pillow), with no server or browser: the same view
gives the same bytes. In a list, a line with --animate makes OUT_DIR/NAME.gif.
With --export, the view becomes one offline HTML file (as the export command
makes it); in a list, OUT_DIR/NAME.html.

Needs Playwright (pip install -r requirements-dev.txt) and Chromium
(Debian's /usr/bin/chromium, or EXPLORER_CHROMIUM). Bad input ends with
exit status 2, a view that cannot be taken with exit status 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from explorer.shots import Shot

HELP = "take a view of the app (a page and its query string) as a PNG, or its backward pass as a GIF"
INTERMIXED = True  # VIEW -o FILE VIEW -o FILE: positionals between options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("views", nargs="*", metavar="VIEW",
                        help="a page path and its query string, e.g. 'explore?mode=function&f=sin(x)&var_x=4'")
    parser.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                        help="the PNG of the VIEW before it (one -o per VIEW)")
    parser.add_argument("--list", metavar="FILE", help="a file of views: NAME VIEW [OPTIONS] a line")
    parser.add_argument("--out-dir", metavar="DIR", help="with --list: where NAME.png goes")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="with --list: take only this figure (repeat for several)")
    parser.add_argument("--url", metavar="URL",
                        help="a running app's address (http or https); default: start one on 127.0.0.1")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds a view may take to settle, a --click's run included (default 180)")
    from explorer.shots import add_shot_options   # the shots module: loaded when this subcommand is used

    add_shot_options(parser)


def figures(args: argparse.Namespace) -> list[tuple[Shot, Path]]:
    """What to take, and where to write it, from the command line or from --list."""
    from explorer.shots import read_list, shot_from_args

    if args.list:
        if args.views or args.output:
            raise ValueError("give views with -o, or --list, not both")
        if not args.out_dir:
            raise ValueError("--list needs --out-dir, the folder of its figures")
        listed = read_list(args.list)
        unknown = sorted(set(args.only) - {name for name, _ in listed})
        if unknown:
            raise ValueError(f"--only {unknown[0]}: no such figure in {args.list}")
        return [(shot, Path(args.out_dir) / f"{name}{shot.suffixes[0]}") for name, shot in listed
                if not args.only or name in args.only]
    if args.out_dir or args.only:
        raise ValueError("--out-dir and --only go with --list")
    if not args.views:
        raise ValueError("give a VIEW and its -o FILE, or --list FILE")
    if len(args.output) != len(args.views):
        raise ValueError(f"each VIEW needs its own -o FILE: {len(args.views)} views, {len(args.output)} -o")
    figures = [(shot_from_args(view, args), Path(output)) for view, output in zip(args.views, args.output)]
    for shot, output in figures:
        if output.suffix.lower() not in shot.suffixes:
            kind = ("an animation is a .gif or .webp file" if shot.animate else
                    "an offline view is an .html file" if shot.export else
                    "a shot is a .png file (an animation, with --animate, a .gif or .webp)")
            raise ValueError(f"-o {output}: {kind}")
    return figures


def run(args: argparse.Namespace) -> int:
    from explorer.shots import ShotError, take_all

    taken = figures(args)  # every view is checked before a server or a browser starts
    if not taken:
        raise ValueError(f"{args.list} lists no views")
    if not 1 <= args.timeout <= 3600:
        raise ValueError("--timeout must be from 1 to 3600 seconds")

    def done(path: Path, seconds: float) -> None:
        print(f"wrote {path} ({seconds:.1f} s)", file=sys.stderr)

    try:
        take_all(taken, url=args.url, timeout=args.timeout, progress=done)
    except ShotError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0
