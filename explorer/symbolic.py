"""SymPy expressions built from the validated expression tree, never from text.

The tree of :mod:`explorer.expression` (``Num``, ``Name``, ``Call``,
``Index``, ``Compare``, ``Seq``) is walked once more, with SymPy in place of
torch: every value is a NumPy array of SymPy expressions shaped like the
tensor torch would compute, and every canonical operation name of
:mod:`explorer.functions` maps through one fixed table (``_OPERATIONS``) to
the SymPy construction of the same mathematics. An input with one element is
the symbol ``x``; the elements of a vector input are ``x_0, x_1, ...``, so
``x[0]`` is the symbol ``x_0``; a matrix's are ``A_0_1, ...``. An operation
without a symbolic form is refused with an :class:`~explorer.ExpressionError`.

Going back, :func:`torch_value` evaluates a SymPy expression with torch by
walking SymPy's own tree through a second fixed table: the "hand-coded"
derivative of seed 002, computed on the same numbers as autograd.

>>> from explorer.expression import parse
>>> f = to_sympy(parse("log(x[0]*x[1]) * sin(x[1])"), {"x": (2,)})
>>> f.scalar()
log(x_0*x_1)*sin(x_1)
>>> gradient(parse("log(x[0]*x[1]) * sin(x[1])"), {"x": (2,)})["x"]
array([sin(x_1)/x_0, log(x_0*x_1)*cos(x_1) + sin(x_1)/x_1], dtype=object)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy
import torch

from explorer.expression import Call, Compare, ExpressionError, Index, Name, Num, Program, Seq

MAX_SYMBOLS = 400      # scalar symbols over all inputs
MAX_ELEMENTS = 2_500   # elements of any one symbolic array
MAX_TREE = 20_000      # nodes of one output expression
MAX_MATRIX = 4         # det and inv of at most 4 × 4 symbolic matrices


# ---------------------------------------------------------------------------
# Object arrays of SymPy expressions.

def _array(value: Any) -> np.ndarray:
    """``value`` as an object array (a 0-d one for a single expression)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype == object else value.astype(object)
    out = np.empty((), dtype=object)
    out[()] = sympy.Integer(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    return out


def _map(fn: Callable, *arrays: Any) -> np.ndarray:
    """``fn`` applied element by element, with NumPy's (= torch's) broadcasting."""
    return _array(np.frompyfunc(fn, len(arrays), 1)(*arrays))


def _element(a: Any) -> Any:
    return a[()] if isinstance(a, np.ndarray) and a.shape == () else a


def _integer(a: Any, what: str = "a dimension") -> int:
    v = _element(a)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, sympy.Integer):
        return int(v)
    raise ExpressionError(f"{what} must be a whole number here")


def _number(v: Any) -> sympy.Expr:
    """A Python number as SymPy's: whole numbers and short binary fractions exactly, others as floats."""
    if isinstance(v, sympy.Basic):
        return v
    if isinstance(v, bool):
        return sympy.true if v else sympy.false
    if isinstance(v, int):
        return sympy.Integer(v)
    if math.isinf(v):
        return sympy.oo if v > 0 else -sympy.oo
    if float(v).is_integer():
        return sympy.Integer(int(v))
    q = Fraction(v)
    if q.denominator <= 1024:  # 0.5, 0.75: exactly what the float holds, and readable
        return sympy.Rational(q.numerator, q.denominator)
    return sympy.Float(v)


def _clean(a: np.ndarray) -> np.ndarray:
    """Turn the Python integers NumPy puts in (the zeros of ``diag``) into SymPy's."""
    return _map(lambda v: sympy.Integer(v) if isinstance(v, (int, np.integer)) else v, a)


def symbols_for(name: str, shape: Sequence[int]) -> np.ndarray:
    """The symbols of an input: ``x`` for one element, ``x_0, x_1, ...`` for a vector, ``A_0_1`` for a matrix.

    >>> symbols_for("x", (3,))
    array([x_0, x_1, x_2], dtype=object)
    """
    shape = tuple(shape)
    if math.prod(shape) == 1:
        return _array(np.full(shape, sympy.Symbol(name, real=True), dtype=object))
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = sympy.Symbol(name + "".join(f"_{i}" for i in index), real=True)
    return out


# ---------------------------------------------------------------------------
# The table: canonical operation name -> SymPy construction.

def _arg_or(args: list, kwargs: dict, position: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    if len(args) > position:
        return _element(args[position])
    return default


def _dim(args: list, kwargs: dict, position: int = 1, default: Any = None) -> Any:
    dim = _arg_or(args, kwargs, position, "dim", default)
    if dim is None or isinstance(dim, tuple):
        return dim
    if isinstance(dim, list):   # torch.sum(A, (0, 1)): the dims by position, a list of numbers here
        return tuple(_integer(d) for d in dim)
    return _integer(dim)


def _sum(x: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
    if x.size == 0:
        raise ExpressionError("an empty sum has no symbolic form here")
    return _array(x.sum(axis=dim, keepdims=keepdim))


def _count(x: np.ndarray, dim: Any) -> int:
    if dim is None:
        return x.size
    dims = dim if isinstance(dim, tuple) else (dim,)
    return math.prod(x.shape[d] for d in dims)


def _mean(args: list, kwargs: dict) -> np.ndarray:
    x, dim = args[0], _dim(args, kwargs)
    return _array(_sum(x, dim, kwargs.get("keepdim", False)) / sympy.Integer(_count(x, dim)))


def _var(args: list, kwargs: dict) -> np.ndarray:
    x, dim = args[0], _dim(args, kwargs)
    n = _count(x, dim)
    # torch divides by n - correction: 1 by default (unbiased), 0 with unbiased=False or correction=0.
    correction = _number(kwargs["correction"]) if "correction" in kwargs else int(kwargs.get("unbiased", True))
    mean = _array(_sum(x, dim, True) / sympy.Integer(n))
    if n - correction <= 0:
        raise ExpressionError(f"the variance of {n} number{'s' if n > 1 else ''} with correction {correction} "
                              f"is not defined (it divides by n - correction = {n - correction})")
    squares = _sum(_array((x - mean) ** 2), dim, kwargs.get("keepdim", False))
    return _array(squares / (n - correction))


def _extremum(pick: Callable) -> Callable:
    # max(x): over everything; max(x, dim=0): along a dim; max(a, b): element by element.
    def extremum(args: list, kwargs: dict) -> np.ndarray:
        x = args[0]
        if len(args) > 1:
            return _map(pick, x, args[1])
        dim = kwargs.get("dim")
        if dim is None:
            return _array(pick(*x.ravel()))
        return _array(np.frompyfunc(pick, 2, 1).reduce(x, axis=dim, keepdims=kwargs.get("keepdim", False)))
    return extremum


def _amax(pick: Callable) -> Callable:
    def amax(args: list, kwargs: dict) -> np.ndarray:
        x, dim = args[0], _dim(args, kwargs)
        if dim is None or dim == ():
            return _array(pick(*x.ravel()))
        return _array(np.frompyfunc(pick, 2, 1).reduce(x, axis=dim, keepdims=kwargs.get("keepdim", False)))
    return amax


def _clamp(args: list, kwargs: dict) -> np.ndarray:
    x = args[0]
    low = kwargs["min"] if "min" in kwargs else (args[1] if len(args) > 1 else None)
    high = kwargs["max"] if "max" in kwargs else (args[2] if len(args) > 2 else None)
    if low is not None:
        x = _map(sympy.Max, x, _array(_number(_element(low))) if not isinstance(low, np.ndarray) else low)
    if high is not None:
        x = _map(sympy.Min, x, _array(_number(_element(high))) if not isinstance(high, np.ndarray) else high)
    return x


def _where(args: list, kwargs: dict) -> np.ndarray:
    return _map(lambda c, a, b: sympy.Piecewise((a, c), (b, True)), *args)


def _sigmoid(a: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-a))


def _relu(a: sympy.Expr) -> sympy.Expr:
    # As torch differentiates it: 1 where a > 0, else 0 (at 0 too).
    return sympy.Piecewise((a, a > 0), (0, True))


def _softplus(args: list, kwargs: dict) -> np.ndarray:
    beta = _number(_arg_or(args, kwargs, 1, "beta", 1))
    threshold = _number(_arg_or(args, kwargs, 2, "threshold", 20))
    # torch switches to the identity where beta·a > threshold; so does the formula.
    return _map(lambda a: sympy.Piecewise((a, beta * a > threshold), (sympy.log(1 + sympy.exp(beta * a)) / beta, True)),
                args[0])


def _gelu(args: list, kwargs: dict) -> np.ndarray:
    if kwargs.get("approximate", "none") == "tanh":
        c = sympy.sqrt(2 / sympy.pi)
        return _map(lambda a: a * (1 + sympy.tanh(c * (a + sympy.Rational(44715, 1000000) * a**3))) / 2, args[0])
    return _map(lambda a: a * (1 + sympy.erf(a / sympy.sqrt(2))) / 2, args[0])


def _elu(args: list, kwargs: dict) -> np.ndarray:
    alpha = _number(_arg_or(args, kwargs, 1, "alpha", 1))
    return _map(lambda a: sympy.Piecewise((a, a > 0), (alpha * (sympy.exp(a) - 1), True)), args[0])


def _leaky_relu(args: list, kwargs: dict) -> np.ndarray:
    slope = _number(_arg_or(args, kwargs, 1, "negative_slope", 0.01))
    return _map(lambda a: sympy.Piecewise((a, a > 0), (slope * a, True)), args[0])


def _softmax(log: bool) -> Callable:
    def softmax(args: list, kwargs: dict) -> np.ndarray:
        x, dim = args[0], _dim(args, kwargs, default=-1)
        total = _sum(_map(sympy.exp, x), dim, True)
        return _array(x - _map(sympy.log, total)) if log else _array(_map(sympy.exp, x) / total)
    return softmax


def _logsumexp(args: list, kwargs: dict) -> np.ndarray:
    x, dim = args[0], _dim(args, kwargs)
    return _map(sympy.log, _sum(_map(sympy.exp, x), dim, kwargs.get("keepdim", False)))


def _cumsum(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.cumsum(args[0], axis=_dim(args, kwargs)))


def _dot(args: list, kwargs: dict) -> np.ndarray:
    a, b = args
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ExpressionError("dot takes two vectors of the same length")
    return _sum(_array(a * b))


def _matmul(args: list, kwargs: dict) -> np.ndarray:
    a, b = args
    if a.ndim == 0 or b.ndim == 0:
        raise ExpressionError("matmul takes tensors of at least one dimension")
    return _array(np.matmul(a, b))


def _outer(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.multiply.outer(args[0], args[1]))


def _cross(args: list, kwargs: dict) -> np.ndarray:
    a, b = np.broadcast_arrays(args[0], args[1])
    dim = _dim(args, kwargs, 2, default=-1)
    a, b = np.moveaxis(a, dim, -1), np.moveaxis(b, dim, -1)
    if a.shape[-1] != 3:
        raise ExpressionError("cross takes vectors of 3 elements")
    parts = [a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
             a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]]
    return _array(np.moveaxis(np.stack([_array(p) for p in parts], axis=-1), -1, dim))


def _p_norm(x: np.ndarray, p: Any, dim: Any, keepdim: bool) -> np.ndarray:
    p = _number(_element(p))
    if p == 2:
        return _map(sympy.sqrt, _sum(_array(x * x), dim, keepdim))
    if p == 1:
        return _sum(_map(sympy.Abs, x), dim, keepdim)
    if p in (sympy.oo, -sympy.oo):
        pick = _amax(sympy.Max if p == sympy.oo else sympy.Min)
        return pick([_map(sympy.Abs, x)], {"dim": dim, "keepdim": keepdim})
    if p == 0:
        raise ExpressionError("the 0-norm counts non-zero elements: it has no derivative")
    return _array(_sum(_array(_map(sympy.Abs, x) ** p), dim, keepdim) ** (1 / p))


def _norm(args: list, kwargs: dict) -> np.ndarray:
    return _p_norm(args[0], _arg_or(args, kwargs, 1, "p", 2), _dim(args, kwargs, 2), kwargs.get("keepdim", False))


def _vector_norm(args: list, kwargs: dict) -> np.ndarray:
    return _p_norm(args[0], _arg_or(args, kwargs, 1, "ord", 2), _dim(args, kwargs, 2), kwargs.get("keepdim", False))


def _linalg_norm(args: list, kwargs: dict) -> np.ndarray:
    x, order = args[0], _arg_or(args, kwargs, 1, "ord", None)
    dim = _dim(args, kwargs, 2)
    if order is not None and x.ndim >= 2 and (dim is None or isinstance(dim, tuple)):
        raise ExpressionError("matrix norms with ord= have no symbolic form here (the Frobenius norm does)")
    return _p_norm(x, 2 if order is None else order, dim, kwargs.get("keepdim", False))


def _linear(args: list, kwargs: dict) -> np.ndarray:
    x, weight = args[0], args[1]
    if weight.ndim not in (1, 2):
        raise ExpressionError("the weight of linear is a matrix (out_features × in_features) or a vector")
    out = _array(np.matmul(x, weight.T))
    return _array(out + args[2]) if len(args) > 2 else out


def _layer_norm(args: list, kwargs: dict) -> np.ndarray:
    x, shape = args[0], _arg_or(args, kwargs, 1, "normalized_shape", None)
    shape = _sizes(list(shape) if isinstance(shape, (list, tuple)) else [shape])   # (4,), [4] or 4
    if x.shape[x.ndim - len(shape):] != shape:
        raise ExpressionError(f"the normalized shape {shape} must be the input's last dimensions {x.shape}")
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    eps = _number(kwargs.get("eps", 1e-5))
    n = sympy.Integer(math.prod(shape))
    centred = _array(x - _sum(x, dims, True) / n)
    scale = _map(lambda v: 1 / sympy.sqrt(v + eps), _array(_sum(_array(centred**2), dims, True) / n))
    out = _array(centred * scale)
    weight, bias = (args[2] if len(args) > 2 else None), (args[3] if len(args) > 3 else None)
    if weight is not None:
        out = _array(out * weight)
    return _array(out + bias) if bias is not None else out


def _normalize(args: list, kwargs: dict) -> np.ndarray:
    # F.normalize divides by max(‖x‖_p, eps): the max keeps a zero vector finite, as torch computes it.
    x, dim = args[0], _dim(args, kwargs, 2, default=1)
    eps = _number(kwargs.get("eps", 1e-12))
    norm = _p_norm(x, _arg_or(args, kwargs, 1, "p", 2), dim, True)
    return _array(x / _map(lambda v: sympy.Max(v, eps), norm))


def _square_matrix(x: np.ndarray, what: str) -> sympy.Matrix:
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ExpressionError(f"{what} takes one square matrix here")
    if x.shape[0] > MAX_MATRIX:
        raise ExpressionError(f"the symbolic {what} is limited to {MAX_MATRIX} × {MAX_MATRIX} matrices "
                              f"(its formula grows factorially)")
    return sympy.Matrix(x.tolist())


def _det(args: list, kwargs: dict) -> np.ndarray:
    return _array(_square_matrix(args[0], "det").det())


def _inv(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.array(_square_matrix(args[0], "inverse").inv().tolist(), dtype=object))


def _trace(args: list, kwargs: dict) -> np.ndarray:
    if args[0].ndim != 2:
        raise ExpressionError("trace takes a matrix")
    return _sum(_array(np.diagonal(args[0])))


def _diag(args: list, kwargs: dict) -> np.ndarray:
    x = args[0]
    if x.ndim not in (1, 2):
        raise ExpressionError("diag takes a vector or a matrix")
    return _clean(_array(np.diag(x, _integer(_arg_or(args, kwargs, 1, "diagonal", 0)))))


def _transpose(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.swapaxes(args[0], _integer(_arg_or(args, kwargs, 1, "dim0", None)),
                              _integer(_arg_or(args, kwargs, 2, "dim1", None))))


def _t(args: list, kwargs: dict) -> np.ndarray:
    x = args[0]
    if x.ndim > 2:
        raise ExpressionError("t() takes a tensor of at most 2 dimensions")
    return _array(x.T)


def _T(args: list, kwargs: dict) -> np.ndarray:
    return _array(args[0].T) if args[0].ndim >= 2 else args[0]


def _sizes(items: list) -> tuple[int, ...]:
    """Sizes or dims given loose (``x.view(2, 3)``) or in one list (``x.view((2, 3))``)."""
    if len(items) == 1 and isinstance(items[0], list):
        items = items[0]
    return tuple(_integer(s, "a size") for s in items)


def _room(shape: Sequence[int]) -> tuple[int, ...]:
    """``shape``, refused before anything is built when its elements are too many for symbols."""
    if math.prod(shape) > MAX_ELEMENTS:
        raise ExpressionError(f"{math.prod(shape):,} symbolic elements is too many (at most {MAX_ELEMENTS:,})")
    return tuple(shape)


def _reshape(args: list, kwargs: dict) -> np.ndarray:
    return _array(args[0].reshape(_sizes(args[1:])))


def _permute(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.transpose(args[0], _sizes(args[1:])))


def _expand(args: list, kwargs: dict) -> np.ndarray:
    x, sizes = args[0], _sizes(args[1:])
    lead = len(sizes) - x.ndim  # new dimensions go in front; -1 keeps a size
    shape = tuple(x.shape[i - lead] if size == -1 and i >= lead else size for i, size in enumerate(sizes))
    return _array(np.broadcast_to(x, _room(shape)).copy())


def _unsqueeze(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.expand_dims(args[0], _dim(args, kwargs)))


def _squeeze(args: list, kwargs: dict) -> np.ndarray:
    x, dim = args[0], _dim(args, kwargs)
    if x.ndim == 0:
        return x
    dims = range(x.ndim) if dim is None else dim if isinstance(dim, tuple) else (dim,)
    return _array(np.squeeze(x, axis=tuple(d % x.ndim for d in dims if x.shape[d] == 1)))


def _flatten(args: list, kwargs: dict) -> np.ndarray:
    x = args[0]
    if x.ndim == 0:
        return _array(x.reshape(1))
    start = _integer(_arg_or(args, kwargs, 1, "start_dim", 0)) % x.ndim
    end = _integer(_arg_or(args, kwargs, 2, "end_dim", -1)) % x.ndim
    return _array(x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:]))


def _items(args: list) -> list[np.ndarray]:
    if not isinstance(args[0], list):
        raise ExpressionError("stack and cat take a list of tensors, e.g. stack([a, b])")
    return [_array(t) for t in args[0]]


def _stack(args: list, kwargs: dict) -> np.ndarray:
    return _array(np.stack(_items(args), axis=_dim(args, kwargs, default=0)))


def _cat(args: list, kwargs: dict) -> np.ndarray:
    items = _items(args)
    if any(t.ndim == 0 for t in items):
        raise ExpressionError("cat takes tensors of at least one dimension (use stack for numbers)")
    return _array(np.concatenate(items, axis=_dim(args, kwargs, default=0)))


# Constant tensors, exactly: linspace(0, 1, 3) is 0, 1/2, 1.
def _tensor(args: list, kwargs: dict) -> np.ndarray:
    def plain(item: Any) -> Any:
        return [plain(i) for i in item] if isinstance(item, list) else _element(item)
    return _clean(_array(np.array(plain(args[0]), dtype=object)))


def _filled(value: int) -> Callable:
    def filled(args: list, kwargs: dict) -> np.ndarray:
        return _array(np.full(_room(_sizes(args)), sympy.Integer(value), dtype=object))
    return filled


def _eye(args: list, kwargs: dict) -> np.ndarray:
    n = _integer(_arg_or(args, kwargs, 0, "n", None), "a size")
    m = _integer(_arg_or(args, kwargs, 1, "m", n), "a size")
    _room((n, m))
    return _clean(_array(np.eye(n, m, dtype=int).astype(object)))


def _arange(args: list, kwargs: dict) -> np.ndarray:
    # The bounds by position or keyword (torch.arange(0, 2, step=0.5)), as functions.py reads them.
    start, end, step = (_arg_or(args, kwargs, i, name, None) for i, name in enumerate(("start", "end", "step")))
    start, end = (0, start) if end is None else (start or 0, end)
    step = 1 if step is None else step
    count = max(0, int(sympy.ceiling((end - start) / step)))
    _room((count,))
    return _array(np.array([start + k * step for k in range(count)], dtype=object).reshape(count))


def _linspace(args: list, kwargs: dict) -> np.ndarray:
    start, end, steps = (_arg_or(args, kwargs, i, name, None) for i, name in enumerate(("start", "end", "steps")))
    steps = _integer(steps, "the number of steps")
    _room((steps,))
    if steps == 1:
        return _array(np.array([start], dtype=object))
    return _array(np.array([start + (end - start) * sympy.Integer(k) / (steps - 1) for k in range(steps)],
                           dtype=object).reshape(steps))


# Loss functions, as torch.nn.functional computes them.
def _reduce(loss: np.ndarray, kwargs: dict, batch: int = 1) -> np.ndarray:
    how = kwargs.get("reduction", "mean")
    if how == "none":
        return loss
    total = _sum(loss)
    if how == "sum":
        return total
    return _array(total / sympy.Integer(batch if how == "batchmean" else loss.size))


def _pointwise_loss(fn: Callable) -> Callable:
    def loss(args: list, kwargs: dict) -> np.ndarray:
        return _reduce(_map(lambda a, b: fn(a, b, kwargs), *args), kwargs)
    return loss


def _smooth_l1(a: Any, b: Any, kwargs: dict) -> Any:
    d, beta = a - b, _number(kwargs.get("beta", 1))
    if beta == 0:
        return sympy.Abs(d)
    return sympy.Piecewise((d**2 / (2 * beta), sympy.Abs(d) < beta), (sympy.Abs(d) - beta / 2, True))


def _huber(a: Any, b: Any, kwargs: dict) -> Any:
    d, delta = a - b, _number(kwargs.get("delta", 1))
    return sympy.Piecewise((d**2 / 2, sympy.Abs(d) < delta), (delta * (sympy.Abs(d) - delta / 2), True))


def _kl_div(args: list, kwargs: dict) -> np.ndarray:
    x, target = args
    if kwargs.get("log_target", False):
        loss = _map(lambda a, t: sympy.exp(t) * (t - a), x, target)
    else:
        loss = _map(lambda a, t: t * (sympy.log(t) - a), x, target)
    return _reduce(loss, kwargs, batch=x.shape[0] if x.ndim else 1)


def _classes(x: np.ndarray, target: np.ndarray, what: str) -> np.ndarray:
    """The target as probabilities over the classes (the last dim of ``x``): class indices become one-hot rows."""
    if x.ndim not in (1, 2):
        raise ExpressionError(f"{what} has a symbolic form here for inputs of shape (C,) or (N, C)")
    if target.shape == x.shape:
        return target
    if target.shape != x.shape[:-1]:
        raise ExpressionError(f"{what}: the target must have the input's shape (probabilities) or the input's "
                              "shape without its class dimension (class indices)")
    classes = x.shape[-1]
    one_hot = np.full(x.shape, sympy.Integer(0), dtype=object)
    for index in np.ndindex(*target.shape):
        k = _integer(target[index], "a class index")
        if not 0 <= k < classes:
            raise ExpressionError(f"{what}: class index {k} is not one of 0 to {classes - 1}")
        one_hot[index + (k,)] = sympy.Integer(1)
    return one_hot


def _cross_entropy(args: list, kwargs: dict) -> np.ndarray:
    x, target = args
    probabilities = _classes(x, target, "cross_entropy")
    smoothing = _number(kwargs.get("label_smoothing", 0))
    if smoothing:
        probabilities = _array(probabilities * (1 - smoothing) + smoothing / x.shape[-1])
    log_p = _softmax(log=True)([x], {"dim": -1})
    return _reduce(_array(-_sum(_array(probabilities * log_p), -1)), kwargs)


def _nll_loss(args: list, kwargs: dict) -> np.ndarray:
    x, target = args
    return _reduce(_array(-_sum(_array(_classes(x, target, "nll_loss") * x), -1)), kwargs)


def _elementwise(fn: Callable) -> Callable:
    return lambda args, kwargs: _map(fn, *args)


_UNARY: dict[str, Callable] = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos,
    "atan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "asinh": sympy.asinh,
    "acosh": sympy.acosh, "atanh": sympy.atanh, "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt,
    "abs": sympy.Abs, "sign": sympy.sign, "erf": sympy.erf,
    "exp2": lambda a: 2**a, "expm1": lambda a: sympy.exp(a) - 1, "log2": lambda a: sympy.log(a, 2),
    "log10": lambda a: sympy.log(a, 10), "log1p": lambda a: sympy.log(1 + a), "square": lambda a: a**2,
    "reciprocal": lambda a: 1 / a, "rsqrt": lambda a: 1 / sympy.sqrt(a), "neg": lambda a: -a,
    "sigmoid": _sigmoid, "relu": _relu, "silu": lambda a: a * _sigmoid(a),
}

_OPERATIONS: dict[str, Callable[[list, dict], np.ndarray]] = {
    **{name: _elementwise(fn) for name, fn in _UNARY.items()},
    "add": _elementwise(lambda a, b: a + b), "sub": _elementwise(lambda a, b: a - b),
    "mul": _elementwise(lambda a, b: a * b), "div": _elementwise(lambda a, b: a / b),
    "pow": lambda args, kw: _map(lambda a, b: a**b, args[0], args[1] if len(args) > 1 else _number(kw["exponent"])),
    "atan2": _elementwise(sympy.atan2),
    "maximum": _elementwise(sympy.Max), "minimum": _elementwise(sympy.Min),
    "softplus": _softplus, "gelu": _gelu, "elu": _elu, "leaky_relu": _leaky_relu,
    "softmax": _softmax(log=False), "log_softmax": _softmax(log=True), "logsumexp": _logsumexp,
    "sum": lambda args, kw: _sum(args[0], _dim(args, kw), kw.get("keepdim", False)),
    "mean": _mean, "prod": lambda args, kw: _array(args[0].prod(axis=_dim(args, kw), keepdims=kw.get("keepdim", False))),
    "var": _var, "std": lambda args, kw: _map(sympy.sqrt, _var(args, kw)), "cumsum": _cumsum,
    "max": _extremum(sympy.Max), "min": _extremum(sympy.Min), "amax": _amax(sympy.Max), "amin": _amax(sympy.Min),
    "clamp": _clamp, "where": _where,
    "dot": _dot, "matmul": _matmul, "mv": _matmul, "mm": _matmul, "outer": _outer, "cross": _cross,
    "norm": _norm, "vector_norm": _vector_norm, "linalg_norm": _linalg_norm,
    "det": _det, "inv": _inv, "inverse": _inv, "trace": _trace, "diag": _diag,
    "t": _t, "T": _T, "transpose": _transpose, "reshape": _reshape, "flatten": _flatten,
    "stack": _stack, "cat": _cat,
    "view": _reshape, "permute": _permute, "expand": _expand, "unsqueeze": _unsqueeze, "squeeze": _squeeze,
    "mT": lambda args, kw: _array(np.swapaxes(args[0], -1, -2)), "contiguous": lambda args, kw: args[0],
    "values": lambda args, kw: args[0],  # max(x, dim=0).values: the symbolic max is its values
    "tensor": _tensor, "ones": _filled(1), "zeros": _filled(0), "eye": _eye, "arange": _arange,
    "linspace": _linspace,
    "mse_loss": _pointwise_loss(lambda a, b, kw: (a - b) ** 2),
    "l1_loss": _pointwise_loss(lambda a, b, kw: sympy.Abs(a - b)),
    "smooth_l1_loss": _pointwise_loss(_smooth_l1), "huber_loss": _pointwise_loss(_huber),
    "binary_cross_entropy": _pointwise_loss(lambda p, t, kw: -(t * sympy.log(p) + (1 - t) * sympy.log(1 - p))),
    "binary_cross_entropy_with_logits": _pointwise_loss(lambda z, t, kw: (1 - t) * z + sympy.log(1 + sympy.exp(-z))),
    "cross_entropy": _cross_entropy, "nll_loss": _nll_loss, "kl_div": _kl_div,
    "linear": _linear, "layer_norm": _layer_norm, "normalize": _normalize,
    "dropout": lambda args, kw: args[0],   # only without its random mask (training=False or p=0): the identity
}

# Functions of the table without a symbolic form, and why.
_WHOLE_NUMBERS = "it gives whole numbers (positions), which have no derivative"
_BY_VALUE = "its result depends on the order of the values, which a formula of symbols does not know"
NO_SYMBOLIC_FORM: dict[str, str] = {
    "detach": "detach() stops the gradient, which a formula cannot say (autograd shows it)",
    "indices": _WHOLE_NUMBERS, "argmax": _WHOLE_NUMBERS, "argmin": _WHOLE_NUMBERS,
    **dict.fromkeys(("sort", "topk", "kthvalue", "median", "mode"), _BY_VALUE),
}

_RELATIONS: dict[str, Callable] = {
    "<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge, "==": sympy.Eq, "!=": sympy.Ne,
}


def operations() -> tuple[str, ...]:
    """The canonical operation names that have a symbolic form.

    >>> "softplus" in operations() and "matmul" in operations()
    True
    """
    return tuple(_OPERATIONS)


# ---------------------------------------------------------------------------
# Building.

@dataclass
class Symbolic:
    """A program's outputs as SymPy expressions: object arrays shaped like torch's outputs."""

    outputs: list[np.ndarray]
    symbols: dict[str, np.ndarray]

    def scalar(self) -> sympy.Expr:
        """The one output element of a scalar function (``ExpressionError`` otherwise)."""
        if len(self.outputs) != 1 or self.outputs[0].size != 1:
            sizes = sum(o.size for o in self.outputs)
            raise ExpressionError(f"the symbolic derivative here needs a scalar function (one output element), "
                                  f"not {sizes} output elements")
        return self.outputs[0].reshape(-1)[0]

    def names(self) -> dict[sympy.Symbol, str]:
        """LaTeX names of the symbols of matrices, ``A_{0,1}`` (vectors need none: ``x_0`` is ``x_{0}``)."""
        names = {}
        for name, symbols in self.symbols.items():
            if symbols.ndim >= 2 and symbols.size > 1:
                for index in np.ndindex(*symbols.shape):
                    names[symbols[index]] = f"{sympy.latex(sympy.Symbol(name))}_{{{','.join(map(str, index))}}}"
        return names


def to_sympy(program: Program, shapes: Mapping[str, Sequence[int]] | None = None,
             values: Mapping[str, torch.Tensor] | None = None) -> Symbolic:
    """The program's outputs as SymPy expressions, each input an array of symbols of the given shape.

    ``shapes`` maps each input to its shape (as torch's tensor has it); an
    input without one is a single symbol. An input of whole numbers in
    ``values`` (the class indices of ``cross_entropy``) is not a variable:
    it stays its numbers. Refuses, with an ExpressionError, operations without
    a symbolic form and expressions too large to handle.

    >>> from explorer.expression import parse
    >>> to_sympy(parse("w = x**2\\nexp(w) * y")).outputs[0]
    array(y*exp(x**2), dtype=object)
    >>> to_sympy(parse("F.nll_loss(z, k)"), {"z": (2,)}, {"k": torch.tensor(1)}).outputs[0]
    array(-z_1, dtype=object)
    """
    shapes = dict(shapes or {})
    fixed = {name: t for name, t in (values or {}).items()
             if name in program.inputs and not t.is_floating_point()}
    symbols = {name: symbols_for(name, shapes.get(name, ())) for name in program.inputs if name not in fixed}
    _check_symbols(symbols)
    env: dict[str, Any] = dict(symbols)
    for name, t in fixed.items():
        _room(tuple(t.shape))
        env[name] = _clean(_array(np.array(t.detach().cpu().tolist(), dtype=object)))
    for name, expr in program.assignments:
        try:
            env[name] = _build(expr, env)
        except ExpressionError as err:   # refused only if used: `v, i = torch.max(A, 1)` then v alone
            env[name] = err
    outputs = [_array(_build(expr, env)) for expr in program.outputs]
    for out in outputs:
        for element in out.reshape(-1):
            _check_tree(element)
    return Symbolic(outputs, symbols)


def _check_symbols(symbols: Mapping[str, np.ndarray]) -> None:
    total = sum(s.size for s in symbols.values())
    if total > MAX_SYMBOLS:
        raise ExpressionError(f"the inputs have {total:,} elements, each a symbol: the symbolic form takes at most "
                              f"{MAX_SYMBOLS}")
    seen: dict[sympy.Symbol, str] = {}
    for name, array in symbols.items():
        for s in set(array.reshape(-1)):
            if s in seen and seen[s] != name:
                raise ExpressionError(f"the symbol {s} would stand for an element of {seen[s]} and of {name}: "
                                      "rename one of the inputs")
            seen[s] = name


def _check_tree(expr: Any) -> None:
    if not isinstance(expr, sympy.Basic):
        return
    for count, _ in enumerate(sympy.preorder_traversal(expr)):
        if count > MAX_TREE:
            raise ExpressionError(f"the symbolic expression is too large (more than {MAX_TREE:,} terms): "
                                  "symbolic differentiation grows with the expression, autograd does not")


def _build(node: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(node, Num):
        if node.name == "pi":
            return _array(sympy.pi)
        if node.name == "e":
            return _array(sympy.E)
        return _array(_number(node.value))
    if isinstance(node, Name):
        if isinstance(env[node.id], ExpressionError):
            raise env[node.id]
        return env[node.id]
    if isinstance(node, Seq):
        return [_array(_build(item, env)) for item in node.items]
    if isinstance(node, Index):
        value = _build(node.value, env)
        if not isinstance(value, np.ndarray):
            raise ExpressionError(f"{node.text}: only tensors can be indexed", node.line, node.column)
        try:
            return _array(value[node.index if len(node.index) != 1 else node.index[0]])
        except IndexError as err:
            raise ExpressionError(f"{node.text}: {err}", node.line or None, node.column or None) from None
    if isinstance(node, Compare):
        return _map(_RELATIONS[node.op], _build(node.left, env), _build(node.right, env))
    if isinstance(node, Call):
        operation = _OPERATIONS.get(node.op)
        if operation is None:
            why = NO_SYMBOLIC_FORM.get(node.op, "it has none here")
            raise ExpressionError(f"{node.text or node.op}: no symbolic form: {why}",
                                  node.line or None, node.column or None)
        args = [_build(a, env) for a in node.args]
        kwargs = dict(node.kwargs)
        try:
            result = operation(args, kwargs)
        except ExpressionError as err:
            raise ExpressionError(f"{node.text or node.op}: {err.message}", node.line or None,
                                  node.column or None) from None
        except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as err:
            raise ExpressionError(f"{node.text or node.op}: {err}", node.line or None, node.column or None) from None
        if result.size > MAX_ELEMENTS:
            raise ExpressionError(f"{node.text or node.op}: {result.size:,} symbolic elements is too many "
                                  f"(at most {MAX_ELEMENTS:,})")
        return result
    raise ExpressionError("this part of the expression has no symbolic form")


# ---------------------------------------------------------------------------
# Derivatives, formulas, numbers.

def gradient(program: Program, shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, np.ndarray]:
    """``∂f/∂s`` for every symbol ``s`` of each input of a scalar ``f``, shaped like the input.

    >>> from explorer.expression import parse
    >>> gradient(parse("(x + y) * (y + 3)"))
    {'x': array(y + 3, dtype=object), 'y': array(x + 2*y + 3, dtype=object)}
    """
    return partials(to_sympy(program, shapes))


def partials(f: Symbolic) -> dict[str, np.ndarray]:
    """``∂f/∂s`` for every symbol of each input of the scalar ``f``: :func:`gradient` of a built :class:`Symbolic`.

    >>> from explorer.expression import parse
    >>> partials(to_sympy(parse("x * y")))
    {'x': array(y, dtype=object), 'y': array(x, dtype=object)}
    """
    expr = f.scalar()
    return {name: _map(lambda s: sympy.diff(expr, s), symbols) for name, symbols in f.symbols.items()}


def derivatives(program: Program, order: int) -> list[sympy.Expr]:
    """``f, f', ..., f⁽ᵒʳᵈᵉʳ⁾`` of a function of one input, taken as one symbol (an elementwise ``f``).

    >>> from explorer.expression import parse
    >>> derivatives(parse("sin(x)"), 2)
    [sin(x), cos(x), -sin(x)]
    """
    if len(program.inputs) != 1:
        raise ExpressionError("derivatives of one variable need a function of one input")
    f = to_sympy(program)
    expr, (x,) = f.scalar(), f.symbols.values()
    x = x[()]
    out = [expr]
    for _ in range(order):
        out.append(sympy.diff(out[-1], x))
        _check_tree(out[-1])
    return out


def latex(expr: Any, names: Mapping[sympy.Symbol, str] | None = None) -> str:
    """LaTeX of a SymPy expression (``names``: LaTeX for some symbols, see :meth:`Symbolic.names`).

    >>> latex(sympy.sin(sympy.Symbol("x_1")) / sympy.Symbol("x_0"))
    '\\\\frac{\\\\sin{\\\\left(x_{1} \\\\right)}}{x_{0}}'
    """
    return sympy.latex(expr, symbol_names=dict(names or {}))


def point(symbols: Mapping[str, np.ndarray], values: Mapping[str, torch.Tensor]) -> dict[sympy.Symbol, sympy.Float]:
    """Each symbol with the exact value of its tensor element (every binary digit kept).

    >>> point({"x": symbols_for("x", (2,))}, {"x": torch.tensor([0.5, 0.1])})
    {x_0: 0.500000000000000000000000000000, x_1: 0.100000001490116119384765625000}
    """
    at: dict[sympy.Symbol, sympy.Float] = {}
    for name, array in symbols.items():
        numbers = values[name].detach().cpu().to(torch.float64).reshape(-1).tolist()
        for s, v in zip(array.reshape(-1), numbers if array.size > 1 else numbers[:1]):
            at[s] = sympy.Float(v, 30)
    return at


def numeric(expr: Any, at: Mapping[sympy.Symbol, Any], digits: int = 30) -> float:
    """The value of ``expr`` at the point ``at``, computed with ``digits`` significant digits (NaN if not real).

    >>> x = sympy.Symbol("x", real=True)
    >>> numeric(sympy.log(x), {x: 2.0}), numeric(sympy.log(x), {x: -1.0})
    (0.6931471805599453, nan)
    """
    if not isinstance(expr, sympy.Basic):
        return float(expr)
    value = expr.evalf(digits, subs=dict(at))
    if value.is_real and value.is_finite:
        return float(value)
    if value in (sympy.oo, -sympy.oo):
        return float(value)
    return math.nan


def numeric_array(exprs: np.ndarray, at: Mapping[sympy.Symbol, Any]) -> torch.Tensor:
    """:func:`numeric` of every element, as a float64 tensor of the same shape.

    >>> x = sympy.Symbol("x", real=True)
    >>> numeric_array(np.array([x, 2 * x], dtype=object), {x: 1.5})
    tensor([1.5000, 3.0000], dtype=torch.float64)
    """
    flat = [numeric(e, at) for e in exprs.reshape(-1)]
    return torch.tensor(flat, dtype=torch.float64).reshape(exprs.shape)


# ---------------------------------------------------------------------------
# Back to torch: SymPy's tree through a fixed table.

_TORCH_FUNCTIONS: dict[type, Callable] = {
    sympy.sin: torch.sin, sympy.cos: torch.cos, sympy.tan: torch.tan, sympy.asin: torch.asin,
    sympy.acos: torch.acos, sympy.atan: torch.atan, sympy.sinh: torch.sinh, sympy.cosh: torch.cosh,
    sympy.tanh: torch.tanh, sympy.asinh: torch.asinh, sympy.acosh: torch.acosh, sympy.atanh: torch.atanh,
    sympy.exp: torch.exp, sympy.log: torch.log, sympy.Abs: torch.abs, sympy.sign: torch.sign,
    sympy.erf: torch.erf, sympy.sec: lambda a: 1 / torch.cos(a), sympy.csc: lambda a: 1 / torch.sin(a),
    sympy.cot: lambda a: 1 / torch.tan(a),
}
_TORCH_RELATIONS: dict[type, Callable] = {
    sympy.StrictLessThan: torch.lt, sympy.LessThan: torch.le, sympy.StrictGreaterThan: torch.gt,
    sympy.GreaterThan: torch.ge, sympy.Equality: torch.eq, sympy.Unequality: torch.ne,
}


def torch_value(expr: Any, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``expr`` evaluated by torch, each symbol named in ``values`` replaced by its tensor.

    Walks SymPy's tree (sums, products, powers, the functions of a fixed
    table, ``Piecewise``, ``Max``/``Min``, ``Heaviside``, ``DiracDelta``), computing in the tensors' dtype
    as a hand-written formula would. Refuses anything else with an ExpressionError.

    >>> x = torch.tensor([0.0, 1.0])
    >>> torch_value(-sympy.sin(sympy.Symbol("x", real=True)), {"x": x})
    tensor([-0.0000, -0.8415])
    """
    reference = next(iter(values.values()))
    tensors = {sympy.Symbol(name, real=True): t for name, t in values.items()}

    def walk(e: Any) -> Any:
        if isinstance(e, sympy.Symbol):
            if e not in tensors:
                raise ExpressionError(f"no value for the symbol {e}")
            return tensors[e]
        if e is sympy.true or e is sympy.false:
            return bool(e)
        if e.is_number:
            try:
                value = complex(e.evalf(30))
            except TypeError:
                raise ExpressionError(f"{e} is not a finite number") from None
            if value.imag:
                raise ExpressionError(f"{e} is not a real number")
            return value.real
        if isinstance(e, sympy.Add):
            total = walk(e.args[0])
            for a in e.args[1:]:
                total = total + walk(a)
            return total
        if isinstance(e, sympy.Mul):
            product = walk(e.args[0])
            for a in e.args[1:]:
                product = product * walk(a)
            return product
        if isinstance(e, sympy.Pow):
            base, exponent = e.args
            if exponent == sympy.Rational(1, 2):
                return torch.sqrt(_tensor(walk(base), reference))
            if exponent == sympy.Rational(-1, 2):
                return torch.rsqrt(_tensor(walk(base), reference))
            if exponent == -1:
                return 1 / walk(base)
            return torch.pow(_tensor(walk(base), reference), walk(exponent))
        if isinstance(e, sympy.Piecewise):
            out = walk(e.args[-1].expr)
            for piece in reversed(e.args[:-1]):
                out = torch.where(_tensor(walk(piece.cond), reference, torch.bool),
                                  _tensor(walk(piece.expr), reference), _tensor(out, reference))
            return out
        if isinstance(e, (sympy.Max, sympy.Min)):
            pick = torch.maximum if isinstance(e, sympy.Max) else torch.minimum
            out = _tensor(walk(e.args[0]), reference)
            for a in e.args[1:]:
                out = pick(out, _tensor(walk(a), reference))
            return out
        if isinstance(e, sympy.DiracDelta):
            # Zero away from the kink; autograd gives 0 at the kink too (the derivative of sign is 0).
            return torch.zeros_like(_tensor(walk(e.args[0]), reference))
        if isinstance(e, sympy.Heaviside):
            at_zero = float(e.args[1]) if len(e.args) > 1 else 0.5
            step = _tensor(walk(e.args[0]), reference)
            return torch.heaviside(step, torch.tensor(at_zero, dtype=step.dtype, device=step.device))
        if isinstance(e, sympy.atan2):
            return torch.atan2(_tensor(walk(e.args[0]), reference), _tensor(walk(e.args[1]), reference))
        if type(e) in _TORCH_RELATIONS:
            return _TORCH_RELATIONS[type(e)](_tensor(walk(e.args[0]), reference), walk(e.args[1]))
        function = _TORCH_FUNCTIONS.get(e.func)
        if function is not None and len(e.args) == 1:
            return function(_tensor(walk(e.args[0]), reference))
        raise ExpressionError(f"{type(e).__name__} has no torch form here")

    return _tensor(walk(expr), reference)


def _tensor(value: Any, reference: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.tensor(value, dtype=dtype or reference.dtype, device=reference.device)


__all__ = [
    "MAX_SYMBOLS", "NO_SYMBOLIC_FORM", "Symbolic", "derivatives", "gradient", "latex", "numeric", "numeric_array",
    "operations", "partials", "point", "symbols_for", "to_sympy", "torch_value",
]
