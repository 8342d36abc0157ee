"""Vector-Jacobian products: what ``backward(v)`` computes when the output is not a scalar.

For outputs ``y = f(x)`` with ``M`` elements in all and an input ``x`` with
``N`` elements, ``J`` is the ``M x N`` matrix of partial derivatives
``J[i, j] = dy_i / dx_j``. Reverse mode never builds ``J``: ``backward(v)``
computes the row vector ``vᵀJ`` (of ``N`` elements, shaped like ``x``) in one
pass. ``v = ones`` sums the rows of ``J``, a one-hot ``v`` picks one row, and
without ``v`` PyTorch refuses a non-scalar output. This module chooses ``v``
(:class:`VectorChoice`), builds the small ``J`` row by row, one one-hot ``v``
at a time (which is what a Jacobian is to reverse mode), and asks PyTorch
what it says when ``v`` is missing.

>>> from explorer.vjp import VectorChoice, vector_jacobian
>>> vj = vector_jacobian("sin(x)", inputs={"x": "[0.0, 1.0]"}, vector=VectorChoice("one-hot", index=1))
>>> vj.v
tensor([0., 1.])
>>> vj.products["x"]   # row 1 of J = diag(cos x)
tensor([0.0000, 0.5403])
>>> vj.implicit_error
'grad can be implicitly created only for scalar outputs'
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from explorer.checks import whole_number
from explorer.expression import DEFAULT_LIMITS, ExpressionError, Limits, evaluate, first_line
from explorer.inputs import make_input, prepare, resolve_dtype

VECTOR_KINDS = ("ones", "one-hot", "random", "typed")
MAX_JACOBIAN_ENTRIES = 250_000  # entries of J shown, over all inputs
MAX_JACOBIAN_ROWS = 2_000       # backward passes to build J row by row


@dataclass(frozen=True)
class VectorChoice:
    """How to choose ``v``: ``"ones"``, ``"one-hot"`` (a 1 at flat ``index``), ``"random"``
    (standard normal, from ``seed``) or ``"typed"`` (``values``, an input spec such as ``"[1, 0, 2]"``).

    The index and the values run over the elements of all outputs, flattened and
    concatenated in order. Frozen and hashable, so that it can key a cache.

    >>> VectorChoice("one-hot", index=2).vectors([(2,), (2,)], "float32")
    [tensor([0., 0.]), tensor([1., 0.])]
    """

    kind: str = "ones"
    index: int = 0
    seed: int = 0
    values: str = ""

    def __post_init__(self) -> None:
        if self.kind not in VECTOR_KINDS:
            raise ValueError(f"v must be one of {', '.join(VECTOR_KINDS)}, not {self.kind!r}")
        whole_number(self.index, "the one-hot index", least=0)
        whole_number(self.seed, "the seed of a random v", least=0)

    def vectors(self, shapes: Sequence[tuple[int, ...]], dtype: str | torch.dtype,
                limits: Limits = DEFAULT_LIMITS) -> list[torch.Tensor]:
        """One ``v`` per output, shaped like it (on the CPU). Bad choices raise ``ExpressionError``."""
        dtype = resolve_dtype(dtype)
        sizes = [math.prod(s) for s in shapes]
        total = sum(sizes)
        if self.kind == "ones":
            flat = torch.ones(total, dtype=dtype)
        elif self.kind == "one-hot":
            if self.index >= total:
                raise ExpressionError(f"the one-hot index {self.index} is out of range: the outputs have "
                                      f"{total} element{'s' if total != 1 else ''} (index 0 to {total - 1})")
            flat = torch.zeros(total, dtype=dtype)
            flat[self.index] = 1
        elif self.kind == "random":
            flat = torch.randn(total, generator=torch.Generator().manual_seed(self.seed), dtype=dtype)
        else:
            # v is numbers of the outputs' dtype, even written tensor([1, 0]) (whole numbers, for an input).
            flat = make_input(self.values or "[]", dtype=dtype, limits=limits, name="v").reshape(-1).to(dtype)
            if flat.numel() != total:
                raise ExpressionError(f"v needs {total} number{'s' if total != 1 else ''} (one per element "
                                      f"of the output{'s' if len(shapes) > 1 else ''}), got {flat.numel()}")
        return [part.reshape(shape) for part, shape in zip(torch.split(flat, sizes), shapes)]

    def describe(self) -> str:
        """A short phrase for headings: ``"v = ones"``, ``"v = e_3"``, ...

        >>> VectorChoice("one-hot", index=3).describe()
        'v = e_3 (one-hot)'
        """
        return {"ones": "v = ones", "one-hot": f"v = e_{self.index} (one-hot)",
                "random": f"v = randn (seed {self.seed})", "typed": f"v = {self.values}"}[self.kind]


ONES = VectorChoice()


@dataclass
class VectorJacobian:
    """``J`` for each input, the ``v`` used, ``vᵀJ`` for each input, and PyTorch's refusal without ``v``.

    ``jacobians[name]`` is ``M x N`` (``None`` when too large to show);
    ``v`` is flat (``M``); ``products[name]`` is ``vᵀJ`` shaped like the input
    (``None`` with its ``J``); ``implicit_error`` is the message of
    ``backward()`` called without ``v``, or ``None`` when PyTorch accepts that
    (every output has one element).
    """

    jacobians: dict[str, torch.Tensor | None]
    v: torch.Tensor
    products: dict[str, torch.Tensor | None]
    output_shapes: list[tuple[int, ...]]
    input_shapes: dict[str, tuple[int, ...]]
    implicit_error: str | None


def implicit_backward_error(outputs: Sequence[torch.Tensor]) -> str | None:
    """What PyTorch says when ``backward()`` is called on ``outputs`` without ``v`` (``None``: it accepts it).

    The graph is kept (``retain_graph=True``) so that the caller can still use
    it; gradients that PyTorch accumulates into leaves on success are cleared.

    >>> x = torch.ones(3, requires_grad=True)
    >>> implicit_backward_error([2 * x])
    'grad can be implicitly created only for scalar outputs'
    >>> implicit_backward_error([(2 * x).sum()]) is None
    True
    """
    leaves = leaves_of(outputs)
    before = {id(t): t.grad for t in leaves}
    try:
        torch.autograd.backward(list(outputs), retain_graph=True)
    except RuntimeError as err:
        return first_line(err)
    finally:
        for leaf in leaves:
            leaf.grad = before[id(leaf)]
    return None


def leaves_of(outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The leaf tensors that ``backward()`` through ``outputs`` writes ``.grad`` into, found without recursion
    (graphs run deep): an output that is a leaf itself, and the tensor of every ``AccumulateGrad`` below.

    >>> w = torch.ones(2, requires_grad=True)
    >>> [t is w for t in leaves_of([(w * 3).sum(), w])]
    [True, True]
    """
    found = [o for o in outputs if o.requires_grad and o.grad_fn is None]
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    seen = set()
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        variable = getattr(fn, "variable", None)   # AccumulateGrad holds its leaf
        if isinstance(variable, torch.Tensor):
            found.append(variable)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return found


def jacobian_rows(outputs: Sequence[torch.Tensor], leaves: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``J`` of the flattened, concatenated ``outputs`` with respect to each leaf, one backward pass per row.

    Row ``i`` is ``backward(e_i)``: the one-hot ``v`` picks row ``i`` of ``J``.

    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> jacobian_rows([x * x], {"x": x})["x"]
    tensor([[2., 0.],
            [0., 4.]])
    """
    sizes = [o.numel() for o in outputs]
    total = sum(sizes)
    names = list(leaves)
    tensors = [leaves[n] for n in names]
    rows: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    for i in range(total):
        flat = torch.zeros(total, dtype=outputs[0].dtype, device=outputs[0].device)
        flat[i] = 1
        v = [part.reshape(o.shape) for part, o in zip(torch.split(flat, sizes), outputs)]
        grads = torch.autograd.grad(list(outputs), tensors, v, retain_graph=True, allow_unused=True)
        for name, tensor, grad in zip(names, tensors, grads):
            rows[name].append(torch.zeros(tensor.numel(), dtype=tensor.dtype, device=tensor.device)
                              if grad is None else grad.reshape(-1))
    return {n: torch.stack(r).detach().cpu() if r else torch.zeros(0, leaves[n].numel()) for n, r in rows.items()}


def vector_jacobian(source: str, /, *, inputs: Mapping[str, Any], vector: VectorChoice = ONES, seed: int = 0,
                    dtype: str = "float32", device: str | None = "cpu",
                    limits: Limits = DEFAULT_LIMITS) -> VectorJacobian:
    """``J``, ``v`` and ``vᵀJ`` for ``source`` at ``inputs``, and what ``backward()`` says without ``v``.

    ``J`` is built only when it is small (at most ``MAX_JACOBIAN_ROWS`` rows and
    ``MAX_JACOBIAN_ENTRIES`` entries in all); otherwise ``jacobians`` and
    ``products`` hold ``None`` and only ``v`` and the refusal are given. The
    arguments are those of :func:`explorer.explore`; a picklable top-level
    function, for :func:`explorer.sandbox.run_isolated`.
    """
    prepared = prepare(source, dict(inputs), seed=seed, dtype=dtype, device=device, limits=limits)
    tensors, shapes = prepared.tensors, prepared.cost.output_shapes
    vectors = vector.vectors(shapes, prepared.dtype, limits)
    with torch.enable_grad():
        outputs = evaluate(prepared.program, tensors).outputs
    if not any(o.requires_grad for o in outputs):
        raise ExpressionError("the output does not depend on any input, so there is nothing to differentiate")
    error = implicit_backward_error([o for o in outputs if o.requires_grad])
    leaves = {n: t for n, t in tensors.items() if t.requires_grad}   # not inputs of whole numbers
    rows = sum(math.prod(s) for s in shapes)
    entries = rows * sum(t.numel() for t in leaves.values())
    flat_v = torch.cat([v.reshape(-1) for v in vectors]) if vectors else torch.zeros(0)
    jacobians: dict[str, torch.Tensor | None] = dict.fromkeys(leaves)
    products: dict[str, torch.Tensor | None] = dict.fromkeys(leaves)
    if rows <= MAX_JACOBIAN_ROWS and entries <= MAX_JACOBIAN_ENTRIES:
        jacobians = dict(jacobian_rows(outputs, leaves))
        for name, jac in jacobians.items():
            products[name] = (flat_v.to(jac.dtype) @ jac).reshape(tensors[name].shape)
    return VectorJacobian(
        jacobians=jacobians, v=flat_v, products=products, output_shapes=shapes,
        input_shapes={n: tuple(t.shape) for n, t in leaves.items()}, implicit_error=error,
    )


__all__ = ["MAX_JACOBIAN_ENTRIES", "MAX_JACOBIAN_ROWS", "ONES", "VECTOR_KINDS", "VectorChoice", "VectorJacobian",
           "implicit_backward_error", "jacobian_rows", "leaves_of", "vector_jacobian"]
