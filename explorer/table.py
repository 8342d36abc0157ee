"""The node table of a captured graph (the "w1 … w6" table of the seeds): one row a node, as text.

It reads a finished capture (:mod:`explorer.graph`) and writes every cell
with :func:`explorer.format.cell`; a graph of a model
(:func:`explorer.trace_model`) gets a "module" column.

>>> import torch
>>> from explorer.graph import capture
>>> x = torch.tensor([4.0], requires_grad=True)
>>> row = node_rows(capture(x * x, {"x": x}))[0]
>>> row["op"], row["grad received"], row["local derivative"], row["sent to inputs"]
('MulBackward0', '1', '∂/∂x: 4; ∂/∂x: 4', '→ x: 4; → x: 4')
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.format import cell

if TYPE_CHECKING:
    from explorer.graph import Graph


def node_rows(graph: Graph) -> list[dict[str, str | int | None]]:
    """The node table, one row a node in the order PyTorch's engine ran them.

    For each node: what it computes, its inputs, its value, its local
    derivative for each input (where small enough), the gradient it
    received, and what it sent to each input (received times local
    derivative); for a model's graph, the module that made it.
    """
    by_id = graph.by_id
    rows = []
    for n in graph.nodes:
        targets = [(k, by_id[i]) for k, i in enumerate(n.inputs) if i is not None]
        row: dict[str, str | int | None] = {"step": n.step, "node": n.name, "op": n.op, "kind": n.kind}
        if graph.modules:
            row["module"] = n.module
        row.update({
            "inputs": ", ".join(t.name for _, t in targets),
            "value": cell(n.value),
            "local derivative": "; ".join(f"∂/∂{t.name}: {cell(n.local[k] if k < len(n.local) else None)}"
                                          for k, t in targets),
            "grad received": cell(n.grad),
            "sent to inputs": "; ".join(f"→ {t.name}: {cell(n.sends[k] if k < len(n.sends) else None)}"
                                        for k, t in targets),
        })
        rows.append(row)
    return rows
