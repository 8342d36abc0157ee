"""Random autograd graphs for the graph tests: a program of torch operations on two leaves, with
broadcasts, reductions, nodes with several outputs and values used more than once."""
from __future__ import annotations

import torch
from hypothesis import strategies as st


def two_parts(t):
    a, b = t.reshape(-1).split([2, t.numel() - 2])
    return a.sum() * b.mean()


UNARY = [torch.sin, torch.tanh, torch.exp, torch.sigmoid, lambda t: t * t, lambda t: t.pow(3),
         lambda t: t.sum(0, keepdim=True), lambda t: t + torch.ones(3, 1, dtype=t.dtype),
         lambda t: t.unbind(-1)[0] * 2, lambda t: torch.stack(t.unbind(-1), 0).cos(), two_parts,
         lambda t: t.abs().sqrt(), lambda t: t @ t.T if t.dim() == 2 else t.dot(t), lambda t: t.max()]
BINARY = [torch.add, torch.mul, torch.sub, lambda s, t: s / (t.abs() + 1), torch.maximum]

# (binary?, operation, first operand, second operand): indices taken modulo what exists
PROGRAMS = st.lists(st.tuples(st.booleans(), st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)),
                    min_size=1, max_size=10)


def random_graph(program: list[tuple], seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The output (every value feeds it) and the two leaves of ``program`` run on seeded inputs."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.rand(4, generator=gen, dtype=torch.float64, requires_grad=True)
    values = [a, b, a * b]
    for binary, op, i, j in program:
        x, y = values[i % len(values)], values[j % len(values)]
        try:
            values.append(BINARY[op % len(BINARY)](x, y) if binary else UNARY[op % len(UNARY)](x))
        except (RuntimeError, IndexError):   # shapes that do not fit: skip the op
            continue
    return sum(v.sum() * (k + 1) for k, v in enumerate(values[2:])), {"a": a, "b": b}
