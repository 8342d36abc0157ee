"""What the explorer page shows of an exploration, computed where the exploration is made.

The page asks for a :class:`Request` (the state its URL holds) and one
*part* of it (the summary, the open tab) and gets plain data back: text,
table rows, DOT and SVG. The exploration itself (its tensors and graph:
megabytes for a big model) stays in the sandbox worker that made it; the
server's process only lays the answer out.

>>> request = Request("x**3 + 2*x**2 + 8*x", (("x", "4"),))
>>> view(request, ("summary",))["summary"]["lines"]
['f = tensor([128.])', 'x.grad = tensor([72.])']
"""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any

import torch

from explorer import module_view
from explorer.dot import DEFAULT_MAX_NODES   # nodes drawn before the level-of-detail view collapses the rest
from explorer.exploration import Exploration, explore
from explorer.expression import ExpressionError
from explorer.format import nbytes
from explorer.module_view import key_of
from explorer.modules import runs
from explorer.presets import model_exploration, preset_for
from explorer.table import node_rows
from explorer.vjp import ONES, VectorChoice, vector_jacobian

DRAWING_TIMEOUT = 15.0      # seconds Graphviz may take to lay a graph out
PARTS = ("summary", "graph", "table", "steps", "vjp", "offline")


@dataclass(frozen=True)
class Request:
    """A typed function with its inputs and options, or a built-in model: what the page shows.

    Frozen and made of plain values, so that it keys the cache of results.
    """

    source: str = ""
    inputs: tuple = ()                  # ((name, spec), ...)
    seed: int = 0
    dtype: str = "float32"
    device: str = "auto"
    vector: tuple = ("ones", 0, 0, "")  # a VectorChoice's fields
    model: str = ""
    depth: int = 0

    @property
    def choice(self) -> VectorChoice:
        return VectorChoice(*self.vector)

    @property
    def lane(self) -> str:
        """Built-in models are heavy work; a typed function is light (its size is bounded by the limits)."""
        return "heavy" if self.model else "light"

    def explore(self) -> Exploration:
        """Run it: the typed function in the sandbox's limits, or the model (its depth validated)."""
        if self.model:
            try:
                return model_exploration(self.model, self.depth, seed=self.seed)
            except ValueError as err:
                raise ExpressionError(str(err)) from None
        return explore(self.source, inputs=dict(self.inputs), v=self.choice, seed=self.seed, dtype=self.dtype,
                       device=self.device)


INPUT_PREFIX = "var_"        # the explorer page's URL: var_<name>=<spec> for each input


# The last few explorations of this worker: the page asks for the summary, then a tab, of the same request.
_RECENT: collections.OrderedDict[Request, Exploration] = collections.OrderedDict()
_RECENT_LOCK = threading.Lock()


def exploration(request: Request) -> Exploration:
    """``request.explore()``, kept for the next part this worker is asked of the same request."""
    with _RECENT_LOCK:
        if request in _RECENT:
            _RECENT.move_to_end(request)
            return _RECENT[request]
    ex = request.explore()
    with _RECENT_LOCK:
        _RECENT[request] = ex
        while len(_RECENT) > (1 if len(ex.nodes) > 2000 else 4):
            _RECENT.popitem(last=False)
    return ex


def view(request: Request, part: tuple = ("summary",)) -> dict:
    """``{"summary": ..., part[0]: ...}`` for ``request``: a top-level function for the sandbox.

    Parts: ``("summary",)``; ``("graph", style, options)`` with the DOT and
    its SVG; ``("table",)`` with the node table's rows; ``("steps", step,
    options)`` with the step's chain rule and the graph highlighting it;
    ``("vjp",)`` with J, v and vᵀJ, and whether vᵀJ is what ``backward(v)`` gave; ``("offline", link)``
    the view as one offline HTML page (:mod:`explorer.offline`), ``link`` its address in the app.
    """
    kind = part[0]
    if kind not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {kind!r}")
    ex = exploration(request)
    out: dict[str, Any] = {"summary": summary(request, ex)}
    if kind == "graph":
        _, style, options = part
        out["graph"] = drawing(ex.to_dot(style, **dict(options)))
    elif kind == "table":
        # float32 gradients, summed here in another order than the engine summed them: a float32 tolerance
        out["table"] = {"rows": node_rows(ex.graph),
                        "adds_up": not ex.graph.sum_mismatches(rtol=1e-4, atol=1e-5)}
    elif kind == "steps":
        _, step, options = part
        out["steps"] = steps(ex, step, dict(options))
    elif kind == "vjp":
        vj = vector_jacobian(request.source, inputs=dict(request.inputs), vector=request.choice, seed=request.seed,
                             dtype=request.dtype, device=request.device)
        out["vjp"] = {"vj": vj, "grads": ex.grads, "same": {
            name: torch.allclose(p.to(ex.grads[name].dtype), ex.grads[name], rtol=1e-5, atol=1e-6)
            for name, p in vj.products.items() if p is not None}}
    elif kind == "offline":
        from explorer.offline import offline_html

        out["offline"] = offline_html(ex, link=part[1])
    return out


def drawing(dot: str, timeout: float = DRAWING_TIMEOUT) -> dict:
    """``{"dot", "svg", "error"}``: the DOT and Graphviz's SVG of it, or why there is none."""
    from explorer.export import render

    try:
        svg = render(dot, "svg", timeout=timeout, in_process=True)   # this runs in a sandbox worker
        return {"dot": dot, "svg": svg.decode("utf-8"), "error": None}
    except ValueError as err:
        return {"dot": dot, "svg": None, "error": str(err)}


# ---------------------------------------------------------------------------
# The parts.

def summary(request: Request, ex: Exploration) -> dict:
    """The numbers shown above the tabs: outputs, gradients, shapes, and the seed's numbers for a preset."""
    lines = [f"{name} = {out!s}" for name, out in zip(ex.output_labels(), ex.outputs)]
    if request.model:
        count = sum(t.numel() for t in ex.grads.values())
        lines.append(f"{len(ex.grads)} parameter tensors ({count:,} numbers); largest |grad| = "
                     f"{max(float(g.abs().max()) for g in ex.grads.values()):.4g}")
    else:
        lines += [f"{name}.grad = {ex.grads[name]!s}" for name in ex.inputs if name in ex.grads]
    found = None if request.model else preset_for(request.source, request.inputs, request.dtype)
    modules = None
    if ex.graph.modules:
        lines.append(f"saved for backward: {nbytes(ex.saved_bytes)} (each storage once, parameters left out)")
        modules = {"depth": module_view.max_depth(ex.graph),
                   "boxes": [key_of(run) for run in runs(ex.graph)] + [m.path for m in sorted(
                       ex.graph.modules.values(), key=lambda m: m.order) if m.path]}
    return {
        "modules": modules,
        "lines": lines, "device": ex.device, "dtype": ex.dtype, "nodes": len(ex.nodes),
        "scalar": all(o.numel() == 1 for o in ex.outputs),
        "v": [v.tolist() for v in ex.v] if not request.model and request.choice != ONES else None,
        "shapes": {name: tuple(t.shape) for name, t in ex.inputs.items()},
        "outputs": list(ex.graph.outputs),
        "preset": None if found is None else (found.key, found.agreement(ex)),
    }


def steps(ex: Exploration, step: int, options: dict) -> dict:
    """Step ``step`` of backward in the engine's order: its node, heading and chain-rule text, and the graph
    with that node highlighted and the gradients received so far (its neighbourhood, for a large graph):
    the frame :mod:`explorer.animation` draws of that step."""
    from explorer.animation import received_so_far, step_text

    nodes = ex.nodes
    step = min(max(0, step), len(nodes) - 1)
    node, heading, text = step_text(ex, step)
    if ex.graph.modules:
        heading += f" · in module {node.module}" if node.module else " · outside any module"
    options = {"highlight": node.id, **options}
    if ex.graph.modules:   # the module view, the step's box highlighted
        options.pop("focus", None)
    elif len(nodes) > DEFAULT_MAX_NODES:  # draw the neighbourhood of the current node
        options.setdefault("max_nodes", DEFAULT_MAX_NODES)
        options["focus"] = node.id
    else:
        options.pop("max_nodes", None)
    dot = ex.to_dot("annotated", **options)
    if not ex.graph.modules:   # a module view's boxes stand for many steps each: drawn as they end
        dot = received_so_far(dot, ex.graph, step)
    return {"count": len(nodes), "step": step, "node": node.id, "heading": heading, "text": text,
            "graph": drawing(dot)}


__all__ = ["DEFAULT_MAX_NODES", "INPUT_PREFIX", "PARTS", "Request", "drawing", "exploration", 
           "steps", "summary", "view"]
