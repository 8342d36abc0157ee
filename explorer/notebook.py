"""Graphs in Jupyter: :func:`draw`, the one-line replacement for ``torchviz.make_dot``, and the inline view
of an :class:`~explorer.Exploration` (the annotated graph and the node table, folded).

Everything here speaks IPython's rich display protocol (``_repr_mimebundle_``),
which needs no import of IPython: a notebook asks the object for its picture
when it shows it, and Graphviz lays the graph out only then.

>>> import torch
>>> w = torch.tensor([1.0, 2.0], requires_grad=True)
>>> loss = (w * w).sum()
>>> drawing = draw(loss)            # in a notebook, the last line of a cell shows the graph
>>> drawing.exploration.grads["w"]  # named after the variable holding the tensor
tensor([2., 4.])
>>> drawing.svg.lstrip().startswith(("<?xml", "<svg"))
True
"""
from __future__ import annotations

import functools
import html
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Iterable, Mapping, Sequence

import torch

from explorer.exploration import Exploration, trace
from explorer.export import FORMATS, format_of, render, save
from explorer.format import short
from explorer.table import node_rows
from explorer.dot import DEFAULT_MAX_NODES
from explorer.vjp import leaves_of

TABLE_ROWS = 200    # rows of the folded node table: a notebook stores its outputs, and a model has thousands
GRADS_IN_TEXT = 4   # gradients named in an exploration's one-line text form


@dataclass(eq=False)   # one drawing is itself: comparing explorations would compare tensors
class Drawing:
    """A drawn autograd graph, what :func:`draw` returns: it shows inline in Jupyter, as
    ``torchviz.make_dot``'s graph does.

    ``dot`` is the DOT source, ``svg`` Graphviz's SVG of it (laid out on first
    use), ``save(path)`` writes either or a PNG, and ``exploration`` is
    everything captured (``.grads``, ``.nodes``, ``explorer.table.node_rows(ex.graph)``).

    >>> x = torch.tensor([4.0], requires_grad=True)
    >>> d = draw(x**3 + 2*x**2 + 8*x)
    >>> d.exploration.grads["x"], d.dot.startswith("digraph")
    (tensor([72.]), True)
    """

    dot: str
    exploration: Exploration
    style: str = "annotated"

    @functools.cached_property
    def svg(self) -> str:
        """The SVG text of the graph (``ValueError`` if Graphviz is missing or takes too long)."""
        return render(self.dot, "svg").decode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Write the graph to ``path`` in the format its extension names: ``.svg``, ``.png`` or ``.dot``
        (``.gv``); any other is refused with a ``ValueError``. Returns the path.

        >>> import os, tempfile
        >>> x = torch.tensor([4.0], requires_grad=True)
        >>> out = draw(x * x).save(os.path.join(tempfile.mkdtemp(), "graph.png"))
        >>> out.read_bytes()[:4]
        b'\\x89PNG'
        """
        fmt = format_of(path, default="")   # no default: an unknown extension is a mistake, not an SVG
        if not fmt:
            raise ValueError(f"cannot tell the format of {str(path)!r}: give a file name ending in "
                             f"{', '.join('.' + f for f in FORMATS)} (or .gv for DOT)")
        return save(self.dot, path, fmt)

    def __repr__(self) -> str:
        nodes = len(self.exploration.nodes)
        return f"<Drawing ({self.style}) of {nodes:,} node{'s' * (nodes != 1)}: .svg, .dot, .save(path)>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The SVG for Jupyter; if Graphviz cannot lay the graph out, the reason instead of a traceback."""
        try:
            return {"image/svg+xml": self.svg, "text/plain": repr(self)}
        except ValueError as err:
            return {"text/plain": f"{self!r}\n{err}"}


def draw(tensor: torch.Tensor | Sequence[torch.Tensor] | Exploration,
         params: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]] | None = None,
         style: str = "annotated", **options: Any) -> Drawing:
    """The graph of ``tensor`` (a loss, a model's output, several outputs, or an
    :class:`~explorer.Exploration`), drawn: what ``torchviz.make_dot(tensor, params)`` draws, and more.

    ``style="annotated"`` labels each node with its name, its value and the
    gradient it received, coloured by gradient size; ``style="torchviz"`` is
    ``make_dot``'s own look. ``params`` names the leaves as in ``make_dot``
    (``dict(model.named_parameters())``). Without it, each tensor is named
    after the variable that holds it where ``draw`` is called: ``w``, a named
    intermediate ``h``, or ``model.0.weight`` for a parameter of a module held
    by ``model``; a leaf held by no variable is ``leaf0``, ``leaf1``...
    The backward pass runs with ``torch.autograd.grad`` (for a non-scalar
    tensor, with ones as ``v``): no ``.grad`` is touched.

    ``options`` go to :meth:`Exploration.to_dot`: ``show_attrs``,
    ``show_saved``, ``max_nodes`` (by default the app's
    :data:`explorer.views.DEFAULT_MAX_NODES`: past it, chains collapse into
    dashed boxes), ``depth``, ``focus``, ``highlight``; for a model traced by
    :func:`explorer.trace_model`, the module view's ``modules`` (a depth,
    None for every node, ``"flat"``), ``opened`` and ``colour``.

    >>> import torch
    >>> model = torch.nn.Linear(3, 1)
    >>> loss = model(torch.ones(2, 3)).pow(2).mean()
    >>> "weight" in draw(loss, dict(model.named_parameters()), style="torchviz", show_saved=True).dot
    True
    >>> "model.weight" in draw(loss).dot
    True
    """
    if isinstance(tensor, Exploration):
        if params is not None:
            raise ValueError("an Exploration already names its tensors: draw it without params")
        exploration = tensor
    else:
        outputs = [tensor] if isinstance(tensor, torch.Tensor) else tensor
        if not isinstance(outputs, (list, tuple)) or not outputs or \
                not all(isinstance(t, torch.Tensor) for t in outputs):
            raise ValueError("draw() takes a tensor (a loss, a model's output), a list or tuple of tensors, or an "
                             f"Exploration, not {type(tensor).__name__}")
        if params is None:
            params, labels = _callers_names(list(outputs), sys._getframe(1))
        else:
            labels = {}
        exploration = trace(list(outputs), params, labels=labels)
    if not exploration.graph.modules:
        options.setdefault("max_nodes", DEFAULT_MAX_NODES)   # the app's level of detail, for the same picture
    return Drawing(exploration.to_dot(style, **options), exploration, style)


def _callers_names(outputs: list[torch.Tensor], frame: FrameType) -> tuple[dict, dict]:
    """``(leaves, labels)``: the leaves of the outputs' graph and its other tensors that the caller's
    variables hold, by the variables' names (``w``; ``model.0.weight`` for a module's parameter).

    Only the graph's own leaves are named (a named tensor outside the graph would get a zero gradient);
    names starting with ``_`` are skipped: they are IPython's history of outputs (``_``, ``_3``).
    """
    scopes = [frame.f_locals, frame.f_globals]
    names: dict[int, tuple[str, torch.Tensor]] = {}
    for scope in scopes:          # variables first: ``w = model.weight`` is called w
        for name, value in list(scope.items()):
            if isinstance(value, torch.Tensor) and not name.startswith("_"):
                names.setdefault(id(value), (name, value))
    for scope in scopes:
        for name, value in list(scope.items()):
            if isinstance(value, torch.nn.Module) and not name.startswith("_"):
                for path, p in value.named_parameters():
                    names.setdefault(id(p), (f"{name}.{path}", p))
    leaves = {id(t) for t in leaves_of(outputs)}
    named_leaves = {name: t for key, (name, t) in names.items() if key in leaves}
    labels = {name: t for name, t in names.values() if t.grad_fn is not None}
    return named_leaves, labels


# ---------------------------------------------------------------------------
# An exploration inline.

def exploration_bundle(ex: Exploration) -> dict[str, str]:
    """What Jupyter shows for ``ex``: the annotated graph (level of detail as in the app) above the node table,
    folded; and a one-line text form for consoles."""
    drawing = draw(ex)
    try:
        svg = drawing.svg
        picture = f'<div style="overflow:auto">{svg[svg.index("<svg"):]}</div>'   # no XML prolog inside HTML
    except ValueError as err:
        picture = f"<p><b>The graph could not be drawn:</b> {html.escape(str(err))}</p>"
    return {"text/html": picture + _table(node_rows(ex.graph)), "text/plain": _text(ex)}


def _table(rows: list[dict]) -> str:
    """The node table as an HTML ``<details>``, folded: its first ``TABLE_ROWS`` rows."""
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(key))}</th>" for key in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row.values())
                   + "</tr>" for row in rows[:TABLE_ROWS])
    more = len(rows) - TABLE_ROWS
    tail = f"<p>… {more:,} more rows: <code>explorer.table.node_rows(ex.graph)</code> has them all.</p>" if more > 0 else ""
    count = f"{len(rows):,} node{'s' * (len(rows) != 1)}"
    return (f"<details><summary>Node table: {count}, in the order backward ran them</summary>"
            f'<table style="font-family:monospace;font-size:11px"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{tail}</details>")


def _text(ex: Exploration) -> str:
    """One line: the outputs and the first gradients (``Exploration (6 nodes): f = 128; x.grad = 72``)."""
    parts = [f"{name} = {short(out)}" for name, out in zip(ex.output_labels(), ex.outputs)]
    grads = list(ex.grads.items())
    parts += [f"{name}.grad = {short(g)}" for name, g in grads[:GRADS_IN_TEXT]]
    if len(grads) > GRADS_IN_TEXT:
        parts.append(f"… {len(grads) - GRADS_IN_TEXT} more gradients")
    return f"Exploration ({len(ex.nodes):,} nodes): " + "; ".join(parts)


__all__ = ["Drawing", "draw", "exploration_bundle"]
