"""Built-in models whose autograd graphs are big and real: no user code needed.

>>> loss, params = mlp(depth=3, width=4)
>>> sorted(params)[:2]
['layer0.bias', 'layer0.weight']
"""
from __future__ import annotations

from typing import Callable

import torch

MAX_DEPTH = 20_000


def _check(depth: int, width: int) -> None:
    if not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be a whole number from 1 to {MAX_DEPTH}, not {depth!r}")
    if not isinstance(width, int) or not 1 <= width <= 256:
        raise ValueError(f"width must be a whole number from 1 to 256, not {width!r}")


def mlp(depth: int = 8, width: int = 16, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A tanh MLP of ``depth`` layers on a small batch, and its mean-squared loss.

    About five autograd nodes per layer (addmm, its transposed weight, tanh and
    two leaves), so ``depth=4000`` gives a graph of some 20,000 nodes.
    """
    _check(depth, width)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, width, generator=gen)
    params: dict[str, torch.Tensor] = {}
    h = x
    for i in range(depth):
        w = (torch.randn(width, width, generator=gen) / width**0.5).requires_grad_()
        b = torch.zeros(width).requires_grad_()
        params[f"layer{i}.weight"], params[f"layer{i}.bias"] = w, b
        h = torch.tanh(torch.nn.functional.linear(h, w, b))
    return h.pow(2).mean(), params


def rnn(steps: int = 16, hidden: int = 16, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """An Elman RNN ``h_t = tanh(W h_{t-1} + U x_t + b)`` unrolled ``steps`` times, and its loss.

    The same three parameters are used at every step, so their gradients sum
    over all steps: the graph shows backpropagation through time.
    """
    _check(steps, hidden)
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, hidden, generator=gen)
    W = (torch.randn(hidden, hidden, generator=gen) / hidden**0.5).requires_grad_()
    U = (torch.randn(hidden, hidden, generator=gen) / hidden**0.5).requires_grad_()
    b = torch.zeros(hidden).requires_grad_()
    h = torch.zeros(hidden)
    for t in range(steps):
        h = torch.tanh(W @ h + U @ xs[t] + b)
    return h.pow(2).sum(), {"W": W, "U": U, "b": b}


MODELS: dict[str, tuple[Callable, str, int]] = {
    "mlp": (mlp, "a tanh MLP, one layer per depth step", 8),
    "rnn": (rnn, "an RNN unrolled over time steps", 16),
}


def build_model(name: str, depth: int | None = None, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss and named parameters of the built-in model ``name`` (``"mlp"`` or ``"rnn"``)."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, not {name!r}")
    make, _, default = MODELS[name]
    return make(depth if depth is not None else default, seed=seed)
