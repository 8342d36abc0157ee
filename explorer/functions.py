"""The one table of functions a user may call, and how each may be spelled.

Every allowed function has one entry here: its canonical name, the torch
callable that computes it, how many positional arguments it takes, which
keyword arguments it accepts (with the kind of literal each takes), and the
spellings that reach it (``sin``, ``torch.sin``, ``x.sin()``; ``softplus``,
``F.softplus``, ``torch.nn.functional.softplus``). Methods such as
``x.pow(3)`` resolve through the same table, never through attribute lookup.

>>> from explorer.functions import resolve_function, resolve_method
>>> resolve_function("torch.nn.functional.softplus").name
'softplus'
>>> resolve_method("pow").name
'pow'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
import torch.nn.functional as F

# Kinds of literal a keyword argument accepts (checked by the parser).
DIM = "dim"          # an int, a tuple of ints, or None
BOOL = "bool"
NUMBER = "number"    # a (constant-folded) int or float
TENSOR = "tensor"    # an expression, given by keyword in its own place: F.linear(x, W, bias=b)
REDUCTION = ("mean", "sum", "none")  # the reduction= of a loss function


@dataclass(frozen=True)
class Function:
    """One allowed function.

    ``tensor_args`` leading positional arguments must be tensors: a number given
    there (``sin(2)``) becomes a 0-d tensor of the inputs' dtype. ``params``
    names the positional parameters, so that a keyword can stand for one
    (``torch.cumsum(M, dim=1)`` gives both of cumsum's two). ``pair`` says
    when the result is torch's (values, indices) pair: ``"always"``
    (``sort``) or ``"dim"`` (``max(x, dim=0)``); the text then picks one,
    ``.values`` or ``.indices``. ``creates`` marks a constructor of a constant
    tensor (``torch.ones(3)``): its arguments are literal numbers, and it makes
    its tensor in the dtype and on the device of the run. ``work`` is
    ``"matmul"`` or ``"cubic"`` for functions whose cost is not linear in the
    size of their operands (the dry run uses it for the work budget).
    ``other`` marks ``max`` and ``min``, whose second positional argument is a
    dimension when it is a whole number (``torch.max(a, 1)``) and the other
    operand otherwise (``torch.max(a, b)``). ``allows`` refuses some literal
    values: given the literal arguments by name, it says why not (or None).
    """

    name: str
    fn: Callable
    min_args: int = 1
    max_args: int = 1
    kwargs: Mapping[str, object] = field(default_factory=dict)
    spaces: tuple[str, ...] = ("", "torch.")
    method: bool = True
    aliases: tuple[str, ...] = ()
    tensor_args: int = 1
    params: tuple[str, ...] = ()
    pair: str = ""
    creates: bool = False
    work: str = "linear"
    other: bool = False
    allows: Callable[[Mapping[str, object]], str | None] | None = None
    doc: str = ""


def _nn(*names: str) -> tuple[str, ...]:
    return ("", "torch.", "F.", "torch.nn.functional.") + names


def _softmax(fn: Callable) -> Callable:
    # torch.softmax has no default dim; the last one is what students mean.
    def with_default_dim(x, dim=-1):
        return fn(x, dim=dim)
    return with_default_dim


def _extremum(reduce_fn: Callable, pairwise_fn: Callable) -> Callable:
    # max(x) reduces, max(x, dim=0) reduces along a dim (torch's values and
    # indices: the parser picks one), max(a, b) is the elementwise maximum like Python's max.
    def extremum(x, other=None, dim=None, keepdim=False):
        if other is not None:   # max(x, 0.5): a number, as a tensor of x's dtype (torch.maximum takes tensors)
            return pairwise_fn(x, torch.as_tensor(other, dtype=x.dtype, device=x.device))
        if dim is None:
            return reduce_fn(x)
        return reduce_fn(x, dim=dim, keepdim=keepdim)
    return extremum


def _logsumexp(x, dim=None, keepdim=False):
    # torch insists on a dim; without one, students mean "over everything".
    if dim is None:
        dim = tuple(range(x.dim()))
    return torch.logsumexp(x, dim=dim, keepdim=keepdim)


def _transpose_attr(x):
    return x.T if x.dim() >= 2 else x


def _stack(tensors, dim=0):
    return torch.stack(_as_tensors(tensors), dim=dim)


def _cat(tensors, dim=0):
    return torch.cat(_as_tensors(tensors), dim=dim)


def _as_tensors(items):
    if not isinstance(items, (list, tuple)):
        raise TypeError("stack and cat take a list of tensors, e.g. stack([a, b])")
    ref = next((t for t in items if isinstance(t, torch.Tensor)), None)
    if ref is None:
        raise TypeError("stack and cat need at least one tensor")
    return [t if isinstance(t, torch.Tensor) else torch.full_like(ref[(0,) * ref.dim()], float(t)).reshape(())
            for t in items]


def _unwrapped(sizes: tuple) -> tuple:
    # x.view(2, 3) and x.view((2, 3)) mean the same, as in torch: sizes loose or in one sequence.
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes


def _loose(fn: Callable) -> Callable:
    def with_sizes(x, *sizes):
        return fn(x, _unwrapped(sizes))
    return with_sizes


def _matrix_transpose(x):
    return x.mT


def _values(pair):
    return pair.values


def _indices(pair):
    return pair.indices


# Constructors of constant tensors, in the dtype of the run and on its device.
def _literal_dtype(values, dtype) -> dict:
    # torch's rule for literals: whole numbers only make int64 (class indices), any float makes floats.
    values = list(values)
    return {} if values and all(isinstance(v, int) for v in values) else {"dtype": dtype}


def _flat(data):
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            yield item


def _tensor(data, *, dtype, device):
    return torch.tensor(data, device=device, **_literal_dtype(_flat(data), dtype))


def _arange(start=None, end=None, step=None, *, dtype, device):
    # torch.arange(5) counts to 5, torch.arange(0, 5, step=2) names the step (as does end=5 the end);
    # whole numbers count in whole numbers, torch.arange(5.) in floats.
    if end is None:
        start, end = 0, start
    elif start is None:
        start = 0
    bounds = (start, end) if step is None else (start, end, step)
    return torch.arange(*bounds, device=device, **_literal_dtype(bounds, dtype))


def _sized(fn: Callable) -> Callable:
    def make(*sizes, dtype, device):
        return fn(_unwrapped(sizes), dtype=dtype, device=device)
    return make


def _eye(n, m=None, *, dtype, device):
    return torch.eye(n, n if m is None else m, dtype=dtype, device=device)


def _linspace(start, end, steps, *, dtype, device):
    return torch.linspace(start, end, steps, dtype=dtype, device=device)


def _norm(x, p=2, dim=None, keepdim=False):
    return torch.norm(x, p=p, dim=dim, keepdim=keepdim)


def _cross(a, b, dim=-1):
    # torch.cross(a, b, 0) takes the dim by position; torch.linalg.cross, which computes it, by keyword only.
    return torch.linalg.cross(a, b, dim=dim)


def _layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    # F.layer_norm(M, 4) means F.layer_norm(M, (4,)): one size alone, as the docs' examples often write it.
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return F.layer_norm(x, shape, weight, bias, eps)


def _dropout(x, p=0.5, training=True):
    return F.dropout(x, p, training=training)


def _without_random_mask(given: Mapping[str, object]) -> str | None:
    # Dropout while training zeroes a random choice of elements: each run would show another graph and
    # another gradient. In evaluation mode (training=False), or with p=0, it passes its input on unchanged.
    if given.get("training", True) is False or given.get("p", 0.5) == 0:
        return None
    return ("dropout zeroes random elements while training, so each run would differ: write "
            "F.dropout(x, training=False) (the model in eval() mode) or F.dropout(x, p=0)")


_REDUCE = {"dim": DIM, "keepdim": BOOL}
_REDUCE_PARAMS = ("input", "dim", "keepdim")  # torch.sum(x, 1, True): the dim and keepdim by position
_SOFTMAX = {"dim": DIM}
_PLAIN = ("", "torch.")
_F = ("", "F.", "torch.nn.functional.")
_INPUT_DIM = ("input", "dim")
_VARIANCE = {**_REDUCE, "unbiased": BOOL, "correction": NUMBER}
_VARIANCE_PARAMS = ("input", "dim", "unbiased", "keepdim")
_LOSS = {"reduction": REDUCTION}


def _loss(name: str, fn: Callable, tensor_args: int = 2, **kwargs: object) -> Function:
    return Function(name, fn, 2, 2, kwargs={**_LOSS, **kwargs}, spaces=_F, method=False, tensor_args=tensor_args)


def _constructor(name: str, fn: Callable, min_args: int, max_args: int, params: tuple[str, ...] = ()) -> Function:
    # Keywords for the positional parameters, as the docs write them: torch.linspace(3, 10, steps=5).
    return Function(name, fn, min_args, max_args, kwargs=dict.fromkeys(params, NUMBER), spaces=("torch.",),
                    method=False, tensor_args=0, params=params, creates=True)


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    # Trigonometric, inverse trigonometric, hyperbolic.
    Function("sin", torch.sin), Function("cos", torch.cos), Function("tan", torch.tan),
    Function("asin", torch.asin, aliases=("arcsin",)),
    Function("acos", torch.acos, aliases=("arccos",)),
    Function("atan", torch.atan, aliases=("arctan",)),
    Function("atan2", torch.atan2, 2, 2, tensor_args=2, aliases=("arctan2",)),
    Function("sinh", torch.sinh), Function("cosh", torch.cosh), Function("tanh", torch.tanh, spaces=_nn()),
    Function("asinh", torch.asinh, aliases=("arcsinh",)),
    Function("acosh", torch.acosh, aliases=("arccosh",)),
    Function("atanh", torch.atanh, aliases=("arctanh",)),
    # Exponentials, logarithms, powers.
    Function("exp", torch.exp), Function("exp2", torch.exp2), Function("expm1", torch.expm1),
    Function("log", torch.log), Function("log2", torch.log2), Function("log10", torch.log10),
    Function("log1p", torch.log1p), Function("sqrt", torch.sqrt), Function("rsqrt", torch.rsqrt),
    Function("square", torch.square), Function("reciprocal", torch.reciprocal),
    Function("pow", torch.pow, 2, 2, kwargs={"exponent": NUMBER}, params=("input", "exponent")),
    Function("abs", torch.abs), Function("sign", torch.sign),
    Function("erf", torch.erf, spaces=("", "torch.", "torch.special.")),
    # Activations.
    Function("sigmoid", torch.sigmoid, spaces=_nn("torch.special.")),
    Function("relu", torch.relu, spaces=_nn()),
    Function("softplus", F.softplus, 1, 3, kwargs={"beta": NUMBER, "threshold": NUMBER}, spaces=_F, method=False,
             params=("input", "beta", "threshold")),
    Function("gelu", F.gelu, kwargs={"approximate": ("none", "tanh")}, spaces=_F, method=False),
    Function("silu", F.silu, spaces=_F, method=False),
    Function("elu", F.elu, 1, 2, kwargs={"alpha": NUMBER}, spaces=_F, method=False, params=("input", "alpha")),
    Function("leaky_relu", F.leaky_relu, 1, 2, kwargs={"negative_slope": NUMBER}, spaces=_F, method=False,
             params=("input", "negative_slope")),
    Function("softmax", _softmax(torch.softmax), 1, 2, kwargs=_SOFTMAX, spaces=_nn("torch.special."),
             params=_INPUT_DIM),
    Function("log_softmax", _softmax(torch.log_softmax), 1, 2, kwargs=_SOFTMAX,
             spaces=_nn("torch.special."), params=_INPUT_DIM),
    Function("logsumexp", _logsumexp, 1, 3, kwargs=_REDUCE, spaces=("", "torch.", "torch.special."),
             params=_REDUCE_PARAMS),
    # Loss functions, as torch.nn.functional has them.
    _loss("mse_loss", F.mse_loss), _loss("l1_loss", F.l1_loss),
    _loss("smooth_l1_loss", F.smooth_l1_loss, beta=NUMBER), _loss("huber_loss", F.huber_loss, delta=NUMBER),
    _loss("binary_cross_entropy", F.binary_cross_entropy),
    _loss("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits),
    # Layers as functions: F.linear(x, W, b) is x @ W.T + b.
    Function("linear", F.linear, 2, 3, kwargs={"bias": TENSOR}, spaces=_F, method=False, tensor_args=3,
             params=("input", "weight", "bias"), work="matmul"),
    Function("layer_norm", _layer_norm, 2, 4, kwargs={"normalized_shape": DIM, "weight": TENSOR, "bias": TENSOR,
                                                      "eps": NUMBER},
             spaces=_F, method=False, params=("input", "normalized_shape", "weight", "bias")),
    Function("normalize", F.normalize, 1, 3, kwargs={"p": NUMBER, "dim": DIM, "eps": NUMBER}, spaces=_F,
             method=False, params=("input", "p", "dim")),
    Function("dropout", _dropout, 1, 3, kwargs={"p": NUMBER, "training": BOOL}, spaces=_F, method=False,
             params=("input", "p", "training"), allows=_without_random_mask),
    # The target of these two may be class indices (whole numbers): it stays as given.
    _loss("cross_entropy", F.cross_entropy, tensor_args=1, label_smoothing=NUMBER),
    _loss("nll_loss", F.nll_loss, tensor_args=1),
    _loss("kl_div", F.kl_div, reduction=(*REDUCTION, "batchmean"), log_target=BOOL),
    # Reductions and comparisons.
    Function("sum", torch.sum, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("mean", torch.mean, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("prod", torch.prod, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("var", torch.var, 1, 4, kwargs=_VARIANCE, params=_VARIANCE_PARAMS),
    Function("std", torch.std, 1, 4, kwargs=_VARIANCE, params=_VARIANCE_PARAMS),
    Function("cumsum", torch.cumsum, 2, 2, kwargs={"dim": DIM}, params=_INPUT_DIM),
    Function("max", _extremum(torch.max, torch.maximum), 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS, pair="dim",
             other=True),
    Function("min", _extremum(torch.min, torch.minimum), 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS, pair="dim",
             other=True),
    Function("amax", torch.amax, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("amin", torch.amin, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("argmax", torch.argmax, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("argmin", torch.argmin, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS),
    Function("maximum", torch.maximum, 2, 2, tensor_args=2),
    Function("minimum", torch.minimum, 2, 2, tensor_args=2),
    Function("clamp", torch.clamp, 1, 3, kwargs={"min": NUMBER, "max": NUMBER}, aliases=("clip",),
             params=("input", "min", "max")),
    Function("where", torch.where, 3, 3, method=False),
    # Results with values and indices: the text picks one, torch.sort(x).values.
    Function("sort", torch.sort, 1, 3, kwargs={"dim": DIM, "descending": BOOL},
             params=("input", "dim", "descending"), pair="always"),
    Function("topk", torch.topk, 2, 5, kwargs={"k": DIM, "dim": DIM, "largest": BOOL, "sorted": BOOL},
             params=("input", "k", "dim", "largest", "sorted"), pair="always"),
    Function("kthvalue", torch.kthvalue, 2, 4, kwargs={"k": DIM, "dim": DIM, "keepdim": BOOL},
             params=("input", "k", "dim", "keepdim"), pair="always"),
    Function("median", torch.median, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS, pair="dim"),
    Function("mode", torch.mode, 1, 3, kwargs=_REDUCE, params=_REDUCE_PARAMS, pair="always"),
    Function("values", _values, spaces=(), method=False, tensor_args=0),
    Function("indices", _indices, spaces=(), method=False, tensor_args=0),
    # Stopping the gradient: the result is a constant to autograd.
    Function("detach", torch.detach, spaces=("torch.",)),
    # Linear algebra.
    Function("dot", torch.dot, 2, 2, tensor_args=2, work="matmul"),
    Function("matmul", torch.matmul, 2, 2, tensor_args=2, work="matmul"),
    Function("mv", torch.mv, 2, 2, tensor_args=2, work="matmul"),
    Function("mm", torch.mm, 2, 2, tensor_args=2, work="matmul"),
    Function("outer", torch.outer, 2, 2, tensor_args=2, aliases=("ger",)),
    Function("cross", _cross, 2, 3, tensor_args=2, kwargs={"dim": DIM}, spaces=("", "torch.", "torch.linalg."),
             params=("input", "other", "dim")),
    Function("norm", _norm, 1, 4, kwargs={"p": NUMBER, **_REDUCE}, params=("input", "p", "dim", "keepdim")),
    Function("vector_norm", torch.linalg.vector_norm, 1, 4, kwargs={"ord": NUMBER, **_REDUCE},
             spaces=("torch.linalg.",), method=False, params=("x", "ord", "dim", "keepdim")),
    Function("linalg_norm", torch.linalg.norm, 1, 4, kwargs={"ord": NUMBER, **_REDUCE},
             spaces=(), method=False, params=("A", "ord", "dim", "keepdim")),
    Function("det", torch.linalg.det, spaces=("", "torch.", "torch.linalg."), work="cubic"),
    Function("inv", torch.linalg.inv, spaces=("torch.linalg.",), method=False, work="cubic"),
    Function("inverse", torch.linalg.inv, work="cubic"),
    Function("trace", torch.trace),
    Function("diag", torch.diag, 1, 2, kwargs={"diagonal": DIM}, params=("input", "diagonal")),
    # Shapes.
    Function("t", torch.t),
    Function("transpose", torch.transpose, 3, 3, kwargs={"dim0": DIM, "dim1": DIM},
             params=("input", "dim0", "dim1")),
    Function("T", _transpose_attr, spaces=(), method=False),
    Function("mT", _matrix_transpose, spaces=(), method=False),
    Function("reshape", _loose(torch.reshape), 2, 9),
    Function("view", _loose(torch.Tensor.view), 2, 9, spaces=()),
    Function("permute", _loose(torch.permute), 2, 9),
    Function("expand", _loose(torch.Tensor.expand), 2, 9, spaces=()),
    Function("flatten", torch.flatten, 1, 3, kwargs={"start_dim": DIM, "end_dim": DIM},
             params=("input", "start_dim", "end_dim")),
    Function("unsqueeze", torch.unsqueeze, 2, 2, kwargs={"dim": DIM}, params=_INPUT_DIM),
    Function("squeeze", torch.squeeze, 1, 2, kwargs={"dim": DIM}, params=_INPUT_DIM),
    Function("contiguous", torch.Tensor.contiguous, spaces=()),
    Function("stack", _stack, 1, 2, kwargs={"dim": DIM}, tensor_args=0, method=False, params=("tensors", "dim")),
    Function("cat", _cat, 1, 2, kwargs={"dim": DIM}, tensor_args=0, method=False, aliases=("concat",),
             params=("tensors", "dim")),
    # Constant tensors.
    _constructor("tensor", _tensor, 1, 1), _constructor("ones", _sized(torch.ones), 1, 8),
    _constructor("zeros", _sized(torch.zeros), 1, 8), _constructor("eye", _eye, 1, 2, ("n", "m")),
    _constructor("arange", _arange, 1, 3, ("start", "end", "step")),
    _constructor("linspace", _linspace, 3, 3, ("start", "end", "steps")),
)}

# `torch.linalg.norm(x)` is the spelling of its own entry; plain `norm` is torch.norm.
_EXTRA_SPELLINGS = {"torch.linalg.norm": "linalg_norm"}
# Properties written without a call: `x.T`, `x.mT`.
PROPERTIES = {"T": "T", "mT": "mT"}


def _spellings() -> tuple[dict[str, str], dict[str, str]]:
    functions: dict[str, str] = dict(_EXTRA_SPELLINGS)
    methods: dict[str, str] = {}
    for f in FUNCTIONS.values():
        for name in (f.name, *f.aliases):
            for space in f.spaces:
                functions.setdefault(space + name, f.name)
            if f.method:
                methods.setdefault(name, f.name)
    return functions, methods


FUNCTION_SPELLINGS, METHOD_SPELLINGS = _spellings()

# Module prefixes a dotted name may start with; anything else under `torch.` is refused.
MODULE_ROOTS = ("torch", "F")

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf}
# `torch.pi` is `pi`: the constants under their torch spelling.
CONSTANT_SPELLINGS: dict[str, str] = {**{name: name for name in CONSTANTS},
                                      **{f"torch.{name}": name for name in CONSTANTS}}


def resolve_function(spelling: str) -> Function | None:
    """The function a dotted spelling names (``"torch.sin"``, ``"F.relu"``), or None."""
    name = FUNCTION_SPELLINGS.get(spelling)
    return FUNCTIONS[name] if name else None


def resolve_method(name: str) -> Function | None:
    """The function a method name calls (``x.pow(3)`` -> ``pow``), or None."""
    canonical = METHOD_SPELLINGS.get(name)
    return FUNCTIONS[canonical] if canonical else None

