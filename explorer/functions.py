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
        if other is not None:
            return pairwise_fn(x, other)
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


def _arange(*bounds, dtype, device):
    # torch.arange(5) counts in whole numbers, torch.arange(5.) in floats.
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


_REDUCE = {"dim": DIM, "keepdim": BOOL}
_SOFTMAX = {"dim": DIM}
_PLAIN = ("", "torch.")
_F = ("", "F.", "torch.nn.functional.")
_INPUT_DIM = ("input", "dim")
_VARIANCE = {**_REDUCE, "unbiased": BOOL, "correction": NUMBER}
_LOSS = {"reduction": REDUCTION}


def _loss(name: str, fn: Callable, tensor_args: int = 2, **kwargs: object) -> Function:
    return Function(name, fn, 2, 2, kwargs={**_LOSS, **kwargs}, spaces=_F, method=False, tensor_args=tensor_args)


def _constructor(name: str, fn: Callable, min_args: int, max_args: int) -> Function:
    return Function(name, fn, min_args, max_args, spaces=("torch.",), method=False, tensor_args=0, creates=True)


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
    Function("logsumexp", _logsumexp, 1, 2, kwargs=_REDUCE, spaces=("", "torch.", "torch.special."),
             params=_INPUT_DIM),
    # Loss functions, as torch.nn.functional has them.
    _loss("mse_loss", F.mse_loss), _loss("l1_loss", F.l1_loss),
    _loss("smooth_l1_loss", F.smooth_l1_loss, beta=NUMBER), _loss("huber_loss", F.huber_loss, delta=NUMBER),
    _loss("binary_cross_entropy", F.binary_cross_entropy),
    _loss("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits),
    # The target of these two may be class indices (whole numbers): it stays as given.
    _loss("cross_entropy", F.cross_entropy, tensor_args=1, label_smoothing=NUMBER),
    _loss("nll_loss", F.nll_loss, tensor_args=1),
    _loss("kl_div", F.kl_div, reduction=(*REDUCTION, "batchmean"), log_target=BOOL),
    # Reductions and comparisons.
    Function("sum", torch.sum, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("mean", torch.mean, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("prod", torch.prod, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("var", torch.var, 1, 2, kwargs=_VARIANCE, params=_INPUT_DIM),
    Function("std", torch.std, 1, 2, kwargs=_VARIANCE, params=_INPUT_DIM),
    Function("cumsum", torch.cumsum, 2, 2, kwargs={"dim": DIM}, params=_INPUT_DIM),
    Function("max", _extremum(torch.max, torch.maximum), 1, 2, kwargs=_REDUCE, pair="dim"),
    Function("min", _extremum(torch.min, torch.minimum), 1, 2, kwargs=_REDUCE, pair="dim"),
    Function("amax", torch.amax, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("amin", torch.amin, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("argmax", torch.argmax, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("argmin", torch.argmin, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM),
    Function("maximum", torch.maximum, 2, 2, tensor_args=2),
    Function("minimum", torch.minimum, 2, 2, tensor_args=2),
    Function("clamp", torch.clamp, 1, 3, kwargs={"min": NUMBER, "max": NUMBER}, aliases=("clip",),
             params=("input", "min", "max")),
    Function("where", torch.where, 3, 3, method=False),
    # Results with values and indices: the text picks one, torch.sort(x).values.
    Function("sort", torch.sort, 1, 2, kwargs={"dim": DIM, "descending": BOOL}, params=_INPUT_DIM, pair="always"),
    Function("topk", torch.topk, 2, 3, kwargs={"k": DIM, "dim": DIM, "largest": BOOL, "sorted": BOOL},
             params=("input", "k", "dim"), pair="always"),
    Function("kthvalue", torch.kthvalue, 2, 3, kwargs={"k": DIM, "dim": DIM, "keepdim": BOOL},
             params=("input", "k", "dim"), pair="always"),
    Function("median", torch.median, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM, pair="dim"),
    Function("mode", torch.mode, 1, 2, kwargs=_REDUCE, params=_INPUT_DIM, pair="always"),
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
    Function("cross", torch.linalg.cross, 2, 2, tensor_args=2, kwargs={"dim": DIM},
             spaces=("", "torch.", "torch.linalg.")),
    Function("norm", _norm, 1, 2, kwargs={"p": NUMBER, **_REDUCE}, params=("input", "p")),
    Function("vector_norm", torch.linalg.vector_norm, 1, 2, kwargs={"ord": NUMBER, **_REDUCE},
             spaces=("torch.linalg.",), method=False, params=("x", "ord")),
    Function("linalg_norm", torch.linalg.norm, 1, 2, kwargs={"ord": NUMBER, **_REDUCE},
             spaces=(), method=False, params=("A", "ord")),
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
    _constructor("zeros", _sized(torch.zeros), 1, 8), _constructor("eye", _eye, 1, 2),
    _constructor("arange", _arange, 1, 3), _constructor("linspace", _linspace, 3, 3),
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

