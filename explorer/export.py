"""DOT source to SVG or PNG, through Graphviz's ``dot`` program.

>>> svg = render('digraph { a -> b }', "svg")
>>> svg[:5] == b"<?xml" or svg[:4] == b"<svg"
True
"""
from __future__ import annotations

import shutil
import subprocess

FORMATS = ("svg", "png", "dot")


def render(source: str, fmt: str = "svg", *, timeout: float = 60.0) -> bytes:
    """The bytes of ``source`` laid out by ``dot`` as ``fmt`` (``"dot"`` returns the source itself).

    Raises ``ValueError`` with a readable message when the format is unknown,
    Graphviz is not installed, or the layout fails or takes longer than ``timeout`` seconds.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "dot":
        return source.encode()
    program = shutil.which("dot")
    if program is None:
        raise ValueError("Graphviz's dot program is not installed: apt-get install graphviz "
                         "(or brew install graphviz), or export the DOT source instead")
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ValueError(f"Graphviz took longer than {timeout:g} s to lay the graph out: "
                         "draw fewer nodes (max_nodes) or export the DOT source") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(f"Graphviz could not lay the graph out: {message[0] if message else 'unknown error'}")
    return done.stdout
