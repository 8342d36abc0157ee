"""Write a view of the explorer as one offline HTML file: it opens from disk, with no server and no network.

Examples:
  python -m explorer export "?f=x**3%20%2B%202*x**2%20%2B%208*x&var_x=4" -o seed.html
  python -m explorer export "explore?mode=function&f=sin(A%20@%20x)&var_A=rand(3,2)&var_x=ones(2)" -o sin.html

VIEW is the explorer's page path and query string, as the app's URL carries
it (what follows http://localhost:8501/; the share control of the app gives
it). The file holds the annotated graph as SVG (drag to pan, wheel or
buttons to zoom), the outputs and gradients, the node table, and a node's
local derivative and chain rule on click; its scripts are inline and its
Content-Security-Policy forbids any request. Bad input ends with exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "write a view of the explorer as one offline HTML file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("view", metavar="VIEW", help="the explorer's query string, e.g. '?f=sin(x)&var_x=4'")
    parser.add_argument("-o", "--output", metavar="FILE", required=True, help="the .html file to write")
    parser.add_argument("--url", metavar="URL", default="http://localhost:8501",
                        help="the app's address, written in the file as the view's live link "
                             "(default http://localhost:8501; never fetched)")


def run(args: argparse.Namespace) -> int:
    from explorer.offline import offline_html
    from explorer.shots import Shot, check_base_url
    from explorer.shots import request_from_view
    from explorer.views import exploration

    output = Path(args.output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"-o {output}: the offline view is an .html file")
    request = request_from_view(args.view)
    page = offline_html(exploration(request), link=Shot(args.view).url(check_base_url(args.url)))
    output.write_text(page, encoding="utf-8")
    print(f"wrote {output} ({len(page.encode()):,} bytes)", file=sys.stderr)
    return 0
