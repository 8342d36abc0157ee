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


@dataclass(frozen=True)
class Function:
    """One allowed function.

    ``tensor_args`` leading positional arguments must be tensors: a number given
    there (``sin(2)``) becomes a 0-d tensor of the inputs' dtype. ``work`` is
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
    # max(x) reduces, max(x, dim=0) reduces along a dim (values only, as the
    # user sees them), max(a, b) is the elementwise maximum like Python's max.
    def extremum(x, other=None, dim=None, keepdim=False):
        if other is not None:
            return pairwise_fn(x, other)
        if dim is None:
            return reduce_fn(x)
        return reduce_fn(x, dim=dim, keepdim=keepdim).values
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


def _reshape(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return torch.reshape(x, shape)


def _norm(x, p=2, dim=None, keepdim=False):
    return torch.norm(x, p=p, dim=dim, keepdim=keepdim)


_REDUCE = {"dim": DIM, "keepdim": BOOL}
_SOFTMAX = {"dim": DIM}
_PLAIN = ("", "torch.")

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
    Function("pow", torch.pow, 2, 2), Function("abs", torch.abs), Function("sign", torch.sign),
    Function("erf", torch.erf, spaces=("", "torch.", "torch.special.")),
    # Activations.
    Function("sigmoid", torch.sigmoid, spaces=_nn("torch.special.")),
    Function("relu", torch.relu, spaces=_nn()),
    Function("softplus", F.softplus, kwargs={"beta": NUMBER, "threshold": NUMBER},
             spaces=("", "F.", "torch.nn.functional."), method=False),
    Function("gelu", F.gelu, kwargs={"approximate": ("none", "tanh")},
             spaces=("", "F.", "torch.nn.functional."), method=False),
    Function("silu", F.silu, spaces=("", "F.", "torch.nn.functional."), method=False),
    Function("elu", F.elu, kwargs={"alpha": NUMBER}, spaces=("", "F.", "torch.nn.functional."), method=False),
    Function("leaky_relu", F.leaky_relu, 1, 2, kwargs={"negative_slope": NUMBER},
             spaces=("", "F.", "torch.nn.functional."), method=False),
    Function("softmax", _softmax(torch.softmax), 1, 2, kwargs=_SOFTMAX, spaces=_nn("torch.special.")),
    Function("log_softmax", _softmax(torch.log_softmax), 1, 2, kwargs=_SOFTMAX,
             spaces=_nn("torch.special.")),
    Function("logsumexp", _logsumexp, 1, 2, kwargs=_REDUCE, spaces=("", "torch.", "torch.special.")),
    # Reductions and comparisons.
    Function("sum", torch.sum, 1, 2, kwargs=_REDUCE), Function("mean", torch.mean, 1, 2, kwargs=_REDUCE),
    Function("prod", torch.prod, 1, 2, kwargs=_REDUCE),
    Function("var", torch.var, 1, 2, kwargs={**_REDUCE, "unbiased": BOOL}),
    Function("std", torch.std, 1, 2, kwargs={**_REDUCE, "unbiased": BOOL}),
    Function("cumsum", torch.cumsum, 2, 2, kwargs={"dim": DIM}),
    Function("max", _extremum(torch.max, torch.maximum), 1, 2, kwargs=_REDUCE),
    Function("min", _extremum(torch.min, torch.minimum), 1, 2, kwargs=_REDUCE),
    Function("amax", torch.amax, 1, 2, kwargs=_REDUCE), Function("amin", torch.amin, 1, 2, kwargs=_REDUCE),
    Function("maximum", torch.maximum, 2, 2, tensor_args=2),
    Function("minimum", torch.minimum, 2, 2, tensor_args=2),
    Function("clamp", torch.clamp, 1, 3, kwargs={"min": NUMBER, "max": NUMBER}, aliases=("clip",)),
    Function("where", torch.where, 3, 3, method=False),
    # Linear algebra.
    Function("dot", torch.dot, 2, 2, tensor_args=2, work="matmul"),
    Function("matmul", torch.matmul, 2, 2, tensor_args=2, work="matmul"),
    Function("mv", torch.mv, 2, 2, tensor_args=2, work="matmul"),
    Function("mm", torch.mm, 2, 2, tensor_args=2, work="matmul"),
    Function("outer", torch.outer, 2, 2, tensor_args=2, aliases=("ger",)),
    Function("cross", torch.linalg.cross, 2, 2, tensor_args=2, kwargs={"dim": DIM},
             spaces=("", "torch.", "torch.linalg.")),
    Function("norm", _norm, 1, 2, kwargs={"p": NUMBER, **_REDUCE}),
    Function("vector_norm", torch.linalg.vector_norm, 1, 2, kwargs={"ord": NUMBER, **_REDUCE},
             spaces=("torch.linalg.",), method=False),
    Function("linalg_norm", torch.linalg.norm, 1, 2, kwargs={"ord": NUMBER, **_REDUCE},
             spaces=(), method=False),
    Function("det", torch.linalg.det, spaces=("", "torch.", "torch.linalg."), work="cubic"),
    Function("inv", torch.linalg.inv, spaces=("torch.linalg.",), method=False, work="cubic"),
    Function("inverse", torch.linalg.inv, work="cubic"),
    Function("trace", torch.trace), Function("diag", torch.diag, 1, 2),
    Function("t", torch.t), Function("transpose", torch.transpose, 3, 3),
    Function("T", _transpose_attr, spaces=(), method=False),
    Function("reshape", _reshape, 2, 8), Function("flatten", torch.flatten, 1, 3),
    Function("stack", _stack, 1, 2, kwargs={"dim": DIM}, tensor_args=0, method=False),
    Function("cat", _cat, 1, 2, kwargs={"dim": DIM}, tensor_args=0, method=False, aliases=("concat",)),
)}

# `torch.linalg.norm(x)` is the spelling of its own entry; plain `norm` is torch.norm.
_EXTRA_SPELLINGS = {"torch.linalg.norm": "linalg_norm"}
# Properties written without a call: `x.T`.
PROPERTIES = {"T": "T"}


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


def resolve_function(spelling: str) -> Function | None:
    """The function a dotted spelling names (``"torch.sin"``, ``"F.relu"``), or None."""
    name = FUNCTION_SPELLINGS.get(spelling)
    return FUNCTIONS[name] if name else None


def resolve_method(name: str) -> Function | None:
    """The function a method name calls (``x.pow(3)`` -> ``pow``), or None."""
    canonical = METHOD_SPELLINGS.get(name)
    return FUNCTIONS[canonical] if canonical else None

