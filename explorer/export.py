"""DOT source to SVG or PNG through Graphviz, or the DOT source itself.

By default the ``dot`` program lays the graph out: it can be stopped after
``timeout`` seconds, and a crash of Graphviz is its own. With
``in_process=True`` a small graph is laid out in this process by Graphviz's
library (``libgvc``, through ctypes): under a millisecond, where starting
``dot`` costs about 20 ms of CPU, the largest part of what a visitor's new
function cost the sandbox. That is for a sandbox worker only
(:func:`explorer.views.drawing`), where an overrun or a crash ends the worker,
not the server, and where a worker is replaced after some jobs (the library
keeps about 1 KB a layout).

>>> svg = render('digraph { a -> b }', "svg")
>>> svg[:5] == b"<?xml" or svg[:4] == b"<svg"
True
>>> format_of("graph.png")
'png'
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re
import shutil
import subprocess
import threading
from pathlib import Path

FORMATS = ("svg", "png", "dot")
DEFAULT_TIMEOUT = 60.0
# Characters of DOT laid out in process (``in_process=True``). Below this a layout takes milliseconds (the
# explorer's default drawing is 1.5 KB; 120 nodes, 33 KB: about 50 ms); a larger graph goes to the dot program,
# which ``timeout`` can stop. No timeout stops a library call, so only graphs too small to take long go in.
IN_PROCESS_MAX = 40_000
NOT_INSTALLED = "Graphviz's dot program is not installed: apt-get install graphviz (or brew install graphviz)"


def render(source: str, fmt: str = "svg", *, timeout: float = DEFAULT_TIMEOUT, in_process: bool = False) -> bytes:
    """The bytes of ``source`` laid out by ``dot`` as ``fmt`` (``"dot"`` returns the source itself).

    ``in_process``: a graph of at most :data:`IN_PROCESS_MAX` characters is
    laid out by Graphviz's library in this process (a sandbox worker's
    choice, see above); one it refuses still goes to ``dot``, for the message.

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
    if in_process and len(source) <= IN_PROCESS_MAX:
        laid_out = _in_process(source, fmt)
        if laid_out is not None:
            return laid_out
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


class _Graphviz:
    """Graphviz's library through ctypes: ``agmemread`` (cgraph), ``gvLayout`` and ``gvRenderData`` (gvc), one
    context for the process. Graphviz is not thread-safe: one layout at a time."""

    def __init__(self, gvc: ctypes.CDLL, cgraph: ctypes.CDLL):
        self.gvc, self.cgraph = gvc, cgraph
        pointer, data = ctypes.c_void_p, ctypes.POINTER(ctypes.c_char)
        cgraph.agmemread.argtypes, cgraph.agmemread.restype = [ctypes.c_char_p], pointer
        cgraph.agclose.argtypes = [pointer]
        cgraph.agseterr.argtypes = [ctypes.c_int]
        gvc.gvContext.restype = pointer
        gvc.gvLayout.argtypes = [pointer, pointer, ctypes.c_char_p]
        gvc.gvRenderData.argtypes = [pointer, pointer, ctypes.c_char_p, ctypes.POINTER(data),
                                     ctypes.POINTER(ctypes.c_uint)]
        gvc.gvFreeRenderData.argtypes = [data]
        gvc.gvFreeLayout.argtypes = [pointer, pointer]
        cgraph.agseterr(3)   # AGMAX: print nothing on stderr (a failure goes to the dot program, which words it)
        self.context = gvc.gvContext()
        self.lock = threading.Lock()

    def render(self, source: str, fmt: str) -> bytes | None:
        """The bytes of ``source`` laid out as ``fmt``, or None when Graphviz refuses it."""
        with self.lock:
            graph = self.cgraph.agmemread(source.encode())
            if not graph:
                return None
            try:
                if self.gvc.gvLayout(self.context, graph, b"dot") != 0:
                    return None
                try:
                    data, size = ctypes.POINTER(ctypes.c_char)(), ctypes.c_uint()
                    if self.gvc.gvRenderData(self.context, graph, fmt.encode(), ctypes.byref(data),
                                             ctypes.byref(size)) != 0:
                        return None
                    try:
                        return ctypes.string_at(data, size.value)
                    finally:
                        self.gvc.gvFreeRenderData(data)
                finally:
                    self.gvc.gvFreeLayout(self.context, graph)
            finally:
                self.cgraph.agclose(graph)


@functools.cache
def _graphviz() -> _Graphviz | None:
    """The process's Graphviz library, or None where it is not installed (the dot program is used then)."""
    names = [ctypes.util.find_library(name) for name in ("gvc", "cgraph")]
    if not all(names):
        return None
    try:
        return _Graphviz(ctypes.CDLL(names[0]), ctypes.CDLL(names[1]))
    except (OSError, AttributeError):   # not loadable, or a Graphviz without these functions
        return None


# cgraph names an anonymous graph by its count of graphs read in the process; the dot program, reading one,
# names it %3. The SVG's title is made the same, so that a drawing does not depend on where it was made.
_ANONYMOUS_TITLE = re.compile(rb"(<!-- Title: |<title>)%\d+(?=[ <])")


def _in_process(source: str, fmt: str) -> bytes | None:
    library = _graphviz()
    data = None if library is None else library.render(source, fmt)
    if data is not None and fmt == "svg":
        data = _ANONYMOUS_TITLE.sub(rb"\g<1>%3", data, count=2)
    return data


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
