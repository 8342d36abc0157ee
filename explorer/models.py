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

import math
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


# ---------------------------------------------------------------------------
# Real architectures, built with torch.nn: traced with explorer.trace_model, drawn as modules.

class CausalSelfAttention(torch.nn.Module):
    """GPT-2's attention: one projection to queries, keys and values, heads, a causal mask, a projection."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.c_attn = torch.nn.Linear(width, 3 * width)
        self.c_proj = torch.nn.Linear(width, width)
        self.attn_dropout = torch.nn.Dropout(dropout)
        self.resid_dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(c // self.heads)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        weights = self.attn_dropout(scores.masked_fill(~causal, float("-inf")).softmax(dim=-1))
        y = (weights @ v).transpose(1, 2).reshape(b, t, c)
        return self.resid_dropout(self.c_proj(y))


class MLP(torch.nn.Module):
    """GPT-2's feed-forward block: widen four times, GELU, project back."""

    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.c_fc = torch.nn.Linear(width, 4 * width)
        self.act = torch.nn.GELU(approximate="tanh")
        self.c_proj = torch.nn.Linear(4 * width, width)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(torch.nn.Module):
    """A pre-norm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads, dropout)
        self.ln_2 = torch.nn.LayerNorm(width)
        self.mlp = MLP(width, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(torch.nn.Module):
    """A GPT-2-style decoder (Radford et al., 2019), named as GPT-2's checkpoints are: token and position
    embeddings, ``layers`` blocks, a final layer norm and an LM head tied to the token embedding. Called
    with token ids, it returns ``{"logits", "loss"}``: the loss is the cross-entropy of each next token
    (the logits shifted one place against the ids), as transformers' ``GPT2LMHeadModel`` computes it.

    ``GPT(50257, 1024, 12, 768, 12)`` has GPT-2 small's 124M parameters.

    >>> model = GPT(vocab=50, context=16, layers=2, width=32, heads=4)
    >>> out = model(torch.zeros(1, 8, dtype=torch.long))
    >>> out["logits"].shape, out["loss"].shape
    (torch.Size([1, 8, 50]), torch.Size([]))
    """

    def __init__(self, vocab: int, context: int, layers: int, width: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.transformer = torch.nn.ModuleDict(dict(
            wte=torch.nn.Embedding(vocab, width),
            wpe=torch.nn.Embedding(context, width),
            drop=torch.nn.Dropout(dropout),
            h=torch.nn.ModuleList(Block(width, heads, dropout) for _ in range(layers)),
            ln_f=torch.nn.LayerNorm(width),
        ))
        self.lm_head = torch.nn.Linear(width, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight   # tied, as in GPT-2
        for name, p in self.named_parameters():
            if name.endswith("weight") and p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        t = ids.shape[1]
        x = self.transformer.drop(self.transformer.wte(ids) + self.transformer.wpe(torch.arange(t, device=ids.device)))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        return {"logits": logits, "loss": loss}


class Bottleneck(torch.nn.Module):
    """ResNet's bottleneck (He et al., 2016): 1×1 narrows, 3×3 (with the stride), 1×1 widens four times,
    batch norm after each, and the input added back (through a 1×1 ``downsample`` where the shape changes)."""

    expansion = 4

    def __init__(self, inputs: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.conv1 = torch.nn.Conv2d(inputs, width, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.conv2 = torch.nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(width)
        self.conv3 = torch.nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = torch.nn.BatchNorm2d(out)
        self.relu = torch.nn.ReLU()
        self.downsample = None
        if stride != 1 or inputs != out:
            self.downsample = torch.nn.Sequential(torch.nn.Conv2d(inputs, out, 1, stride=stride, bias=False),
                                                  torch.nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(torch.nn.Module):
    """A ResNet of bottlenecks, named as torchvision's are: a 7×7 stem, max pooling, four stages
    (``layer1`` … ``layer4``, each halving the resolution after the first), average pooling and a linear
    head. ``ResNet((3, 4, 6, 3), width=64, classes=1000)`` is ResNet-50.

    >>> model = ResNet((1, 1, 1, 1), width=4, classes=3)
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 3])
    """

    def __init__(self, blocks: tuple[int, ...] = (3, 4, 6, 3), width: int = 64, classes: int = 1000):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.relu = torch.nn.ReLU()
        self.maxpool = torch.nn.MaxPool2d(3, stride=2, padding=1)
        inputs = width
        for stage, n in enumerate(blocks):
            layers = []
            for k in range(n):
                layers.append(Bottleneck(inputs, width * 2**stage, stride=2 if stage and not k else 1))
                inputs = width * 2**stage * Bottleneck.expansion
            self.add_module(f"layer{stage + 1}", torch.nn.Sequential(*layers))
        self.stages = len(blocks)
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(inputs, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in range(self.stages):
            x = self._modules[f"layer{stage + 1}"](x)
        return self.fc(self.avgpool(x).flatten(1))


class Architecture(NamedTuple):
    """A real architecture preset: its model, a batch and a loss, built under a fixed seed."""

    make: Callable[..., tuple[torch.nn.Module, tuple, Callable | None]]
    description: str
    default_depth: int
    max_depth: int


def transformer(layers: int = 4, *, seed: int = 0) -> tuple[torch.nn.Module, tuple, None]:
    """A small GPT-style decoder (4 heads, 128 wide, 512 tokens) of ``layers`` blocks, random weights, and a
    batch of 2 × 32 random token ids; its loss is its own next-token cross-entropy.

    >>> model, (ids,), loss = transformer(2)
    >>> ids.shape, loss is None, len(model.transformer.h)
    (torch.Size([2, 32]), True, 2)
    """
    whole_number(layers, "layers", least=1, most=ARCHITECTURES["transformer"].max_depth)
    torch.manual_seed(seed)
    model = GPT(vocab=512, context=64, layers=layers, width=128, heads=4)
    ids = torch.randint(0, 512, (2, 32), generator=torch.Generator().manual_seed(seed))
    return model, (ids,), None


def resnet(blocks: int = 2, *, seed: int = 0) -> tuple[torch.nn.Module, tuple, Callable]:
    """A small ResNet-style CNN (bottlenecks, 8 channels wide at the stem) with ``blocks`` bottlenecks in
    each of its four stages, random weights, on 2 random 32×32 images of 10 classes, and cross-entropy.

    >>> model, (images,), loss = resnet(1)
    >>> images.shape, len(model.layer3)
    (torch.Size([2, 3, 32, 32]), 1)
    """
    whole_number(blocks, "blocks", least=1, most=ARCHITECTURES["resnet"].max_depth)
    torch.manual_seed(seed)
    model = ResNet((blocks,) * 4, width=8, classes=10)
    gen = torch.Generator().manual_seed(seed)
    images, labels = torch.randn(2, 3, 32, 32, generator=gen), torch.randint(0, 10, (2,), generator=gen)
    return model, (images,), lambda logits: torch.nn.functional.cross_entropy(logits, labels)


ARCHITECTURES: dict[str, Architecture] = {
    "transformer": Architecture(transformer, "a GPT-style decoder: embeddings, causal self-attention, MLP, "
                                             "layer norm, LM head, next-token cross-entropy (one depth step "
                                             "is a block)", 4, 12),
    "resnet": Architecture(resnet, "a ResNet-style CNN: conv, batch norm, ReLU, residual bottlenecks, pooling, "
                                   "a linear head (depth: bottlenecks per stage)", 2, 6),
}
