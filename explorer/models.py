"""Built-in models whose autograd graphs are big and real: no user code needed.

Each preset returns ``(loss, params)``: a scalar loss tensor whose graph is
alive and its named parameters, ready for :func:`explorer.graph.capture` or
:func:`explorer.trace`. Weights are orthogonal, so gradients neither vanish
nor explode through thousands of layers and the annotated graph's colours
still say something at depth.

>>> loss, params = mlp(depth=3, width=4)
>>> sorted(params)[:2]
['layer0.bias', 'layer0.weight']
>>> MODELS["rnn"].description
'an Elman RNN unrolled over time, its weights shared by every step (about 5 nodes per step)'
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from explorer.checks import whole_number

# Once Python has walked a graph (capture, torchviz, any walker), PyTorch frees its nodes
# recursively: a chain near 43,000 levels deep overflows an 8 MB C stack and the process dies
# with a segmentation fault when the graph is freed. Capture refuses graphs deeper than
# explorer.live.MAX_LEVELS; presets stay below that.
MAX_LEVELS = 30_000
MAX_WIDTH = 256
BATCH = 8
_LEVELS_PER_STEP = {"mlp": 2, "residual_mlp": 3, "rnn": 4, "chain": 1}   # levels of the graph per layer or step


class Model(NamedTuple):
    """A preset: the function that builds it, what it is, and its default depth."""

    make: Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]
    description: str
    default_depth: int

    @property
    def max_depth(self) -> int:
        """The largest depth the preset builds (``MAX_LEVELS`` over its levels per layer or step)."""
        return MAX_LEVELS // _LEVELS_PER_STEP[self.make.__name__]


def _check(preset: str, name: str, depth: int, width_name: str, width: int) -> None:
    most = MAX_LEVELS // _LEVELS_PER_STEP[preset]
    whole_number(depth, name, least=1, most=most)
    whole_number(width, width_name, least=1, most=MAX_WIDTH)


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    """A random orthogonal matrix (QR of a Gaussian one, signs fixed so it is uniformly distributed)."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen))
    return q * torch.sign(torch.diagonal(r))


def mlp(depth: int = 8, width: int = 16, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A tanh MLP of ``depth`` layers on a batch of 8, and its mean-squared activation as the loss.

    Five autograd nodes per layer (``addmm``, the transposed weight, ``tanh``
    and two leaves), so ``depth=4000`` gives a graph of some 20,000 nodes.

    >>> loss, params = mlp(depth=2, width=3, seed=1)
    >>> loss.shape, len(params)
    (torch.Size([]), 4)
    """
    _check("mlp", "depth", depth, "width", width)
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(BATCH, width, generator=gen)
    params: dict[str, torch.Tensor] = {}
    for i in range(depth):
        w = _orthogonal(width, gen).requires_grad_()
        b = torch.zeros(width).requires_grad_()
        params[f"layer{i}.weight"], params[f"layer{i}.bias"] = w, b
        h = torch.tanh(torch.nn.functional.linear(h, w, b))
    return h.pow(2).mean(), params


def residual_mlp(depth: int = 8, width: int = 16, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``depth`` residual blocks ``h = h + tanh(h Wᵀ + b)``, and the mean-squared output as the loss.

    Every block forks and joins again, so the graph is no plain chain: six
    nodes per block, grouped block by block in big views.

    >>> loss, params = residual_mlp(depth=2, width=3)
    >>> sorted(params)
    ['block0.bias', 'block0.weight', 'block1.bias', 'block1.weight']
    """
    _check("residual_mlp", "depth", depth, "width", width)
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(BATCH, width, generator=gen)
    params: dict[str, torch.Tensor] = {}
    for i in range(depth):
        w = (_orthogonal(width, gen) / depth**0.5).requires_grad_()   # keeps the sum of blocks bounded
        b = torch.zeros(width).requires_grad_()
        params[f"block{i}.weight"], params[f"block{i}.bias"] = w, b
        h = h + torch.tanh(torch.nn.functional.linear(h, w, b))
    return h.pow(2).mean(), params


def rnn(steps: int = 16, hidden: int = 16, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """An Elman RNN ``h_t = tanh(W h_{t-1} + U x_t + b)`` unrolled ``steps`` times, and ``|h_T|²``.

    The same three parameters are used at every step, so their gradients sum
    over all steps: the graph shows backpropagation through time.

    >>> loss, params = rnn(steps=3, hidden=2)
    >>> sorted(params)
    ['U', 'W', 'b']
    """
    _check("rnn", "steps", steps, "hidden", hidden)
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, hidden, generator=gen)
    W = _orthogonal(hidden, gen).requires_grad_()
    U = (torch.randn(hidden, hidden, generator=gen) / hidden**0.5).requires_grad_()
    b = torch.zeros(hidden).requires_grad_()
    h = torch.zeros(hidden)
    for t in range(steps):
        h = torch.tanh(W @ h + U @ xs[t] + b)
    return h.pow(2).sum(), {"W": W, "U": U, "b": b}


def chain(depth: int = 2000, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``sin(sin(…sin(x)))`` nested ``depth`` times: one node per level, the depth where torchviz's
    recursive walk fails (near 1,000).

    >>> loss, params = chain(depth=3)
    >>> loss.item() == params["x"].sin().sin().sin().item()
    True
    """
    _check("chain", "depth", depth, "width", 1)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(1, generator=gen) + 0.5).requires_grad_()
    y = x
    for _ in range(depth):
        y = torch.sin(y)
    return y.sum(), {"x": x}


MODELS: dict[str, Model] = {
    "mlp": Model(mlp, "a tanh MLP, one layer per depth step (about 5 nodes per layer)", 8),
    "rnn": Model(rnn, "an Elman RNN unrolled over time, its weights shared by every step (about 5 nodes per step)", 16),
    "residual": Model(residual_mlp, "a residual tanh MLP: blocks that fork and join (6 nodes per block)", 8),
    "chain": Model(chain, "sin(sin(…sin(x))): one node per level, deeper than torchviz can draw", 2000),
}


def build_model(name: str, depth: int | None = None, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss and named parameters of the built-in model ``name`` (a key of :data:`MODELS`).

    >>> loss, params = build_model("chain", 10)
    >>> list(params)
    ['x']
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, not {name!r}")
    model = MODELS[name]
    return model.make(model.default_depth if depth is None else depth, seed=seed)
