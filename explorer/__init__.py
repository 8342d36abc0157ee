"""Autograd Explorer: see what PyTorch's autograd builds and computes.

>>> import explorer
>>> ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
>>> ex.grads["x"]
tensor([72.])
>>> import torch
>>> w = torch.tensor([1.0, 2.0], requires_grad=True)
>>> drawing = explorer.draw((w * w).sum())   # in Jupyter, the graph shows inline
>>> drawing.exploration.grads["w"], drawing.dot.startswith("digraph")
(tensor([2., 4.]), True)

Importing the package imports nothing else: each name below is imported from
its module when first used (PEP 562), so that the tools that need no torch
(``explorer.local_app``, ``explorer.shots``, ``python -m explorer --help``)
start at once.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

# The public names and the module of each: a fixed table, read by name, never searched.
_EXPORTS = {
    "Animation": "explorer.animation",
    "Drawing": "explorer.notebook",
    "ExpressionError": "explorer.expression",
    "Exploration": "explorer.exploration",
    "Limits": "explorer.expression",
    "animate": "explorer.animation",
    "draw": "explorer.notebook",
    "explore": "explorer.exploration",
    "offline_html": "explorer.offline",
    "parse": "explorer.expression",
    "trace": "explorer.exploration",
    "trace_model": "explorer.exploration",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    value = vars(importlib.import_module(module))[name]
    globals()[name] = value   # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def _show_exploration(exploration: Any) -> dict[str, str]:
    """Jupyter's inline view of an :class:`Exploration` (the graph and the folded node table)."""
    from explorer.notebook import exploration_bundle

    return exploration_bundle(exploration)


def _register_display() -> None:
    """Have IPython show an ``Exploration`` inline, by the class's name: the exploration module never
    imports the notebook's display, and the display is imported only when a notebook shows one."""
    ipython_module = sys.modules.get("IPython")   # IPython is never imported here: only an open one is used
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    if shell is not None:
        shell.display_formatter.mimebundle_formatter.for_type_by_name(
            "explorer.exploration", "Exploration", _show_exploration)


_register_display()
