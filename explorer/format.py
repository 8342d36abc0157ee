"""How numbers and tensors are written out: for people (graph labels, the node table, the chain rule of a
step) and as JSON values (for scripts).

One way to write a number, :func:`number`: as PyTorch prints it, four
decimals without trailing zeros. Everything that shows a gradient or a value
to a reader builds on it, so the same number reads the same in the graph, the
node table, the step-through and the command line.

>>> import torch
>>> number(-0.6536436), numbers(torch.tensor([1.36327, 0.19124]))
('-0.6536', '[1.3633 0.1912]')
>>> to_jsonable({"x": torch.tensor([1.0, float("inf")])})
{'x': [1.0, 'inf']}
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

import torch

if TYPE_CHECKING:  # the graph's types only: capture never waits on presentation
    from explorer.graph import Node

NONE = "–"   # a value that is not there (a constant's gradient, a gradient not kept)


def number(v: float) -> str:
    """A number as PyTorch prints it, four decimals, without trailing zeros: ``72``, ``-0.6536``, ``1.2e-07``.

    >>> number(72.0), number(1.36327), number(0.000012), number(float("nan"))
    ('72', '1.3633', '1.2e-05', 'nan')
    """
    if v != v or v in (math.inf, -math.inf):
        return str(v)
    if v == 0 or 1e-3 <= abs(v) < 1e6:
        return f"{v:.4f}".rstrip("0").rstrip(".") if v else "0"
    return f"{v:.2g}" if abs(v) < 1e-3 else f"{v:.4g}"


def numbers(t: torch.Tensor | None, most: int | None = 4, sep: str = " ") -> str:
    """A tensor's first ``most`` entries (all with ``None``), as :func:`number` writes them.

    >>> numbers(torch.tensor([72.0])), numbers(torch.arange(6.0), 3, ", "), numbers(torch.arange(6.0), None, ", ")
    ('72', '[0, 1, 2, …]', '[0, 1, 2, 3, 4, 5]')
    """
    if t is None:
        return "0"
    if t.numel() == 1:
        return number(t.item())
    most = t.numel() if most is None else min(most, t.numel())
    # The first entries only: reshaping a strided tensor (a broadcast gradient) would copy all of it.
    first = t.reshape(-1)[:most].tolist() if t.is_contiguous() or most == t.numel() else \
        [t[_unravel(k, t.shape)].item() for k in range(most)]
    shown = sep.join(number(v) for v in first)
    return f"[{shown}{sep + '…' if t.numel() > most else ''}]"


def _unravel(k: int, size: torch.Size) -> tuple[int, ...]:
    """The index of entry ``k`` of a tensor of this size, in row-major order."""
    index = []
    for n in reversed(size):
        k, i = divmod(k, n)
        index.append(i)
    return tuple(reversed(index))


def shape(size: tuple | torch.Size | None) -> str:
    """A shape as torchviz writes it: ``(3, 4)``, ``(5)``, ``()``.

    >>> shape((3, 4)), shape((5,)), shape(())
    ('(3, 4)', '(5)', '()')
    """
    return "(" + ", ".join("%d" % v for v in (size or ())) + ")"


def nbytes(size: int) -> str:
    """A size in memory, in the unit that keeps it short (powers of 1024).

    >>> nbytes(0), nbytes(1536), nbytes(96 * 2**20), nbytes(3 * 2**30)
    ('0 B', '1.5 KiB', '96 MiB', '3 GiB')
    """
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.3g} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
    return f"{size:.3g} GiB"


def count(n: int) -> str:
    """A count of parameters as model cards write it: ``124M``, ``2.4M``, ``768``, ``11.2k``.

    >>> count(124_439_808), count(2_362_368), count(768), count(11_200)
    ('124M', '2.36M', '768', '11.2k')
    """
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def short(t: torch.Tensor | None) -> str:
    """A tensor in a graph's box: its number, or its first three entries and its shape.

    >>> short(torch.tensor([2.0])), short(torch.ones(2, 3))
    ('2', '[1, 1, 1, …] (2, 3)')
    """
    if t is None:
        return NONE
    if t.numel() == 1:
        return numbers(t)
    return f"{numbers(t, 3, ', ')} {shape(t.shape)}"


def cell(value: Any) -> str:
    """A table cell: a number, a short tensor whole, or a long one's shape and first six entries.

    >>> cell(torch.tensor([0.5403, 1.0])), cell(torch.zeros(20)), cell(None)
    ('[0.5403, 1]', '(20): [0, 0, 0, 0, 0, 0, …]', '–')
    """
    if value is None:
        return NONE
    if isinstance(value, torch.Tensor):
        if value.numel() > 12:
            return f"{shape(value.shape)}: {numbers(value, 6, ', ')}"
        return numbers(value, None, ", ")
    return str(value)


def summed_dims(shapes: tuple) -> tuple[int, ...]:
    """The dimensions of ``shapes[0]`` that the engine summed to reach ``shapes[1]`` (a broadcast undone).

    >>> summed_dims(((2, 3), (3,)))
    (0,)
    >>> summed_dims(((2, 3), (2, 1)))
    (1,)
    """
    big, small = shapes
    lead = len(big) - len(small)
    return tuple(range(lead)) + tuple(lead + d for d, n in enumerate(small) if n == 1 and big[lead + d] != 1)


def chain_rule(node: Node, nodes: Mapping[int, Node]) -> str:
    """The chain-rule product of one step of backward, written out, one line per input of ``node``:
    ``∂L/∂w3 = ∂L/∂w4 · ∂w4/∂w3 = 1 · 2 = 2`` (``+=`` where the input has several consumers and this is
    one term of its sum); ``nodes`` are the graph's nodes by id.

    >>> import torch
    >>> from explorer.graph import capture
    >>> x = torch.tensor([3.0], requires_grad=True)
    >>> g = capture(2 * x, {"x": x})
    >>> print(chain_rule(g.nodes[0], g.by_id))
    ∂L/∂x = ∂L/∂output · ∂output/∂x = 1 · 2 = 2
    """
    lines = []
    here = node.name
    for i, target in enumerate(node.inputs):
        if target is None or i >= len(node.sends):
            continue
        into, send = nodes[target].name, node.sends[i]
        op = "+=" if len(nodes[target].consumers) > 1 else "="
        local = node.local[i] if i < len(node.local) else None
        grad = node.grad
        if grad is not None and local is not None and grad.numel() == 1 and local.numel() == 1:
            line = (f"∂L/∂{into} {op} ∂L/∂{here} · ∂{here}/∂{into} = {numbers(grad)} · {numbers(local)} = "
                    f"{numbers(send)}")
        elif local is not None:
            line = (f"∂L/∂{into} {op} ∂L/∂{here} · ∂{here}/∂{into} = {numbers(grad)} · "
                    f"J ({local.shape[0]}×{local.shape[1]}) = {numbers(send)}")
        else:
            line = f"∂L/∂{into} {op} vᵀJ of {node.op} with v = {numbers(grad)}: {numbers(send)}"
        reduced = node.reduced[i] if i < len(node.reduced) else None
        if reduced is not None:
            dims = ", ".join(map(str, summed_dims(reduced)))
            line += f"   (the engine summed the broadcast over dim {dims})"
        lines.append(line)
    return "\n".join(lines)


def to_jsonable(value: Any) -> Any:
    """Tensors, arrays and numbers as plain JSON values (NaN and infinities as strings)."""
    if hasattr(value, "detach") and hasattr(value, "tolist"):
        value = value.detach().cpu().tolist()
    elif hasattr(value, "tolist") and hasattr(value, "dtype"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


__all__ = ["NONE", "cell", "chain_rule", "number", "numbers", "shape", "short", "summed_dims", "to_jsonable"]
