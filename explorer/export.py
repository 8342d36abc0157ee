"""DOT source to SVG or PNG through Graphviz's ``dot`` program, or the DOT source itself.

>>> svg = render('digraph { a -> b }', "svg")
>>> svg[:5] == b"<?xml" or svg[:4] == b"<svg"
True
>>> format_of("graph.png")
'png'
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FORMATS = ("svg", "png", "dot")
DEFAULT_TIMEOUT = 60.0
NOT_INSTALLED = "Graphviz's dot program is not installed: apt-get install graphviz (or brew install graphviz)"


def render(source: str, fmt: str = "svg", *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The bytes of ``source`` laid out by ``dot`` as ``fmt`` (``"dot"`` returns the source itself).

    Raises ``ValueError`` with a readable message when the format is unknown,
    Graphviz is not installed, or the layout fails or takes longer than
    ``timeout`` seconds (the ``dot`` process is killed then).
    """
    if not isinstance(source, str):
        raise ValueError(f"source must be DOT text (a str), not {type(source).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if fmt == "dot":
        return source.encode()
    program = shutil.which("dot")
    if program is None:
        raise ValueError(NOT_INSTALLED)
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ValueError(f"Graphviz took longer than {timeout:g} s to lay the graph out: "
                         "draw fewer nodes (max_nodes) or export the DOT source") from None
    except OSError as err:   # found but not runnable
        raise ValueError(f"Graphviz's dot program could not run: {err.strerror or err}") from None
    if done.returncode != 0:
        message = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise ValueError(f"Graphviz could not lay the graph out: {message[0] if message else 'unknown error'}")
    return done.stdout


def format_of(path: str | Path, default: str = "svg") -> str:
    """The format a file name asks for by its suffix (``.svg``, ``.png``, ``.dot``/``.gv``), else ``default``."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return "dot" if suffix == "gv" else suffix if suffix in FORMATS else default


def save(source: str, path: str | Path, fmt: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Write ``source`` to ``path`` as ``fmt`` (by default the format of the file's suffix); returns the path.

    >>> import tempfile, os
    >>> out = save('digraph { a -> b }', os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> out.read_text().startswith("digraph")
    True
    """
    path = Path(path)
    data = render(source, fmt or format_of(path), timeout=timeout)
    path.write_bytes(data)
    return path
