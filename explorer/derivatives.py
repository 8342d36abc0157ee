"""Jacobians, Hessians, divergence, Laplacian, curl and higher derivatives of a typed function.

Everything starts from the same safe expression engine: a
:class:`Differentiable` is a parsed program with its leaf inputs and the dry
run's cost, and every result is a small dataclass of plain CPU tensors and
numbers, so that it can come back from a worker process
(:func:`explorer.sandbox.run_isolated`).

For ``f: R^n -> R^m`` the Jacobian ``J[i, j] = ∂y_i/∂x_j`` is ``m × n``.
Reverse mode builds it one row at a time (a ``backward(v)`` with a one-hot
``v`` is ``vᵀJ``: one backward pass per output element), forward mode one
column at a time (a ``jvp`` with a one-hot tangent is ``J t``: one forward
pass per input element). So reverse mode is cheaper when there are fewer
outputs than inputs, and forward mode when there are fewer inputs.

"Know your Jacobian" (seed 002): ``backward(ones)`` gives ``1ᵀJ``, and
``(1ᵀJ)·1`` adds up *every* entry of ``J``. That is the divergence
``∇·g = trace(J_g)`` only when ``J_g`` is diagonal; the identity (one row
per backward pass, keeping the diagonal) is always right.

Work is refused before it starts: the Jacobian's entries (output elements ×
input elements) and the passes it takes are checked against budgets first.

>>> r = jacobian("sin(x)", {"x": "[0.0, 1.0]"})
>>> r.jacobians["x"]
tensor([[1.0000, 0.0000],
        [0.0000, 0.5403]])
>>> r.cheaper
'either'
"""
from __future__ import annotations

import itertools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from explorer.checks import is_whole, whole_number
from explorer.expression import DEFAULT_LIMITS, Cost, ExpressionError, Limits, Program, evaluate, first_line, parse
from explorer.inputs import prepare

MAX_ENTRIES = 1_000_000
"""Entries of a Jacobian or Hessian (over all inputs) that one request may ask for."""

MAX_WORK = 20_000_000_000
"""Operations one request may spend on passes over the function: ten evaluations at the engine's own
limit (:attr:`explorer.expression.Limits.max_work`); the sandbox's wall-clock limit stops the rest."""

MAX_ORDER = 8
IDENTITY_CHUNK = 1024  # rows of the identity sent through one batched backward pass


# ---------------------------------------------------------------------------
# A typed function, ready to differentiate.

@dataclass
class Differentiable:
    """A parsed program, its leaf inputs, the dry run's cost and its outputs at the inputs.

    ``outputs`` are the outputs, detached; the function that is differentiated
    is :meth:`flat`: every output flattened and concatenated, so that ``m``
    (:attr:`output_size`) counts output elements over all outputs.
    """

    program: Program
    inputs: dict[str, torch.Tensor]
    cost: Cost
    outputs: list[torch.Tensor]

    @property
    def names(self) -> tuple[str, ...]:
        return self.program.inputs

    @property
    def variables(self) -> tuple[str, ...]:
        """The inputs there are derivatives with respect to: all but inputs of whole numbers (class indices)."""
        return tuple(n for n in self.names if self.inputs[n].is_floating_point())

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(s) for s in self.cost.output_shapes]

    @property
    def output_size(self) -> int:
        return sum(math.prod(s) for s in self.output_shapes)

    def flat(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The outputs at ``tensors`` (one per input, in :attr:`names` order), flattened and concatenated."""
        outputs = evaluate(self.program, dict(zip(self.names, tensors))).outputs
        return torch.cat([o.reshape(-1) for o in outputs])

    def of(self, wrt: Sequence[str]) -> Callable[..., torch.Tensor]:
        """:meth:`flat` as a function of the inputs ``wrt`` only, the others held at their values."""
        fixed = {n: t.detach() for n, t in self.inputs.items()}

        def f(*tensors: torch.Tensor) -> torch.Tensor:
            return self.flat(*(dict(fixed, **dict(zip(wrt, tensors)))[n] for n in self.names))
        return f


def differentiable(source: str | Program, inputs: Mapping[str, Any] | None = None, *, seed: int = 0,
                   dtype: str = "float32", device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
                   **values: Any) -> Differentiable:
    """Parse ``source`` (or take a parsed :class:`Program`), build its inputs, dry-run and run it once.

    Inputs are given as in :func:`explorer.explore`: a mapping ``inputs`` and/or
    keywords (``x=4``, ``A="rand(10, 5)"``). Every refusal is an
    :class:`~explorer.ExpressionError`.

    >>> f = differentiable("x * y", x=2, y=3)
    >>> f.names, f.output_shapes, f.outputs[0]
    (('x', 'y'), [(1,)], tensor([6.]))
    """
    program = source if isinstance(source, Program) else parse(source, limits=limits)
    if not program.inputs:
        raise ExpressionError("the function has no inputs, so there is nothing to differentiate")
    prepared = prepare(program, {**(inputs or {}), **values}, seed=seed, dtype=dtype, device=device, limits=limits)
    tensors = prepared.tensors
    if not any(t.is_floating_point() for t in tensors.values()):
        raise ExpressionError("every input holds whole numbers (class indices), so there is nothing to "
                              "differentiate: give at least one input of real numbers")
    with torch.enable_grad():
        outputs = evaluate(program, tensors).outputs
    for out, expr in zip(outputs, program.outputs):
        if not out.is_floating_point():
            raise ExpressionError(f"{expr.text or 'the output'} gives {str(out.dtype).removeprefix('torch.')} "
                                  "values, which have no derivative: the outputs must be numbers")
    return Differentiable(program, tensors, prepared.cost, [o.detach() for o in outputs])


def _check_entries(what: str, rows: int, cols: int, max_entries: int) -> None:
    """Refuse, before computing, a matrix of ``rows × cols`` entries over the budget."""
    if rows * cols > max_entries:
        raise ExpressionError(f"the {what} would have {rows:,} × {cols:,} = {rows * cols:,} entries "
                              f"(at most {max_entries:,}): use smaller inputs")


def _check_work(what: str, passes: int, work_per_pass: int, max_work: int) -> None:
    """Refuse, before computing, ``passes`` passes over a function whose dry run counted ``work_per_pass``."""
    work = passes * max(work_per_pass, 1)
    if work > max_work:
        raise ExpressionError(f"the {what} needs {passes:,} passes over the function, about {work:,} operations "
                              f"(at most {max_work:,}): use smaller inputs")


def _check_budgets(max_entries: int, max_work: int) -> None:
    for name, value in (("max_entries", max_entries), ("max_work", max_work)):
        whole_number(value, name, least=1)


def _torch_refusal(what: str, err: BaseException) -> ExpressionError:
    return ExpressionError(f"PyTorch could not compute the {what}: {first_line(err)}")


def best_time(compute: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """``compute()`` and its best wall-clock time in seconds over ``repeat`` runs, after one untimed run.

    The untimed run pays for what happens once (``vmap`` tracing, allocator
    warm-up), so that the times compare the methods, not their first calls.

    >>> value, seconds = best_time(lambda: 2 + 2, repeat=3)
    >>> value, seconds < 1
    (4, True)
    """
    result = compute()
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = compute()
        best = min(best, time.perf_counter() - start)
    return result, best


def _check_repeat(repeat: int) -> None:
    whole_number(repeat, "repeat", least=1, most=100)


# ---------------------------------------------------------------------------
# Jacobian and Hessian.

@dataclass
class JacobianResult:
    """The Jacobian of the (flattened, concatenated) outputs with respect to each input, both ways.

    ``jacobians[name]`` is ``m × n_name``: row ``i`` is output element ``i``,
    column ``j`` is element ``j`` of the input (flattened). ``passes`` says how
    many passes each mode takes (reverse: ``m`` backward passes, forward: ``n``
    forward passes), ``seconds`` how long each took, ``difference`` the largest
    gap between the two (rounding only). For a scalar function ``hessians``
    holds ``hessians[a][b] = ∂²f/∂a∂b`` for every pair of inputs
    (``n_a × n_b``), or is ``None`` with ``hessian_refusal`` saying why.
    """

    jacobians: dict[str, torch.Tensor]
    value: list[torch.Tensor]
    output_shapes: list[tuple[int, ...]]
    input_shapes: dict[str, tuple[int, ...]]
    passes: dict[str, int]
    seconds: dict[str, float]
    difference: float | None
    forward_refusal: str | None = None
    hessians: dict[str, torch.Tensor] | None = None
    hessian_refusal: str | None = None

    @property
    def outputs(self) -> int:
        """``m``: output elements over all outputs."""
        return self.passes["reverse"]

    @property
    def inputs(self) -> int:
        """``n``: input elements over the inputs differentiated."""
        return self.passes["forward"]

    def matrix(self) -> torch.Tensor:
        """The whole Jacobian, ``m × n``: the blocks of :attr:`jacobians` side by side."""
        return torch.cat(list(self.jacobians.values()), dim=1)

    def blocks(self) -> list[dict[str, torch.Tensor]]:
        """``blocks()[k][name]``: output ``k`` (flattened) against input ``name`` (flattened), the blocks of
        ``torch.autograd.functional.jacobian``'s tuple of tuples for several outputs and inputs."""
        ends = list(itertools.accumulate(math.prod(s) for s in self.output_shapes))
        return [{name: J[end - math.prod(shape):end] for name, J in self.jacobians.items()}
                for end, shape in zip(ends, self.output_shapes)]

    def hessian_matrix(self) -> torch.Tensor | None:
        """The whole Hessian, its blocks ``hessians[a][b]`` in place (None without a Hessian)."""
        return None if self.hessians is None else block_matrix(self.hessians)

    @property
    def cheaper(self) -> str:
        """``"reverse"`` (fewer outputs than inputs), ``"forward"`` (fewer inputs) or ``"either"``."""
        m, n = self.outputs, self.inputs
        return "reverse" if m < n else "forward" if n < m else "either"

    @property
    def verdict(self) -> str:
        """One sentence: which mode is cheaper for this shape, and why."""
        m, n = self.outputs, self.inputs
        counts = (f"reverse mode takes one backward pass per output element ({m:,}), "
                  f"forward mode one forward pass per input element ({n:,})")
        if self.cheaper == "either":
            return f"As many outputs as inputs: {counts}, so neither mode is cheaper."
        return f"{self.cheaper.capitalize()} mode is cheaper here: {counts}."


def jacobian(source: str | Program, inputs: Mapping[str, Any] | None = None, *, wrt: Sequence[str] | None = None,
             hessian: bool = True, vectorize: bool = True, repeat: int = 1, seed: int = 0, dtype: str = "float32",
             device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS, max_entries: int = MAX_ENTRIES,
             max_work: int = MAX_WORK, **values: Any) -> JacobianResult:
    """The full Jacobian by reverse mode and by forward mode, timed, and the Hessian of a scalar function.

    ``J = ∂y/∂x`` (``m × n``) by reverse mode (``m`` vector-Jacobian products
    ``vᵀJ``: ``torch.func.jacrev``) and by forward mode (``n`` Jacobian-vector
    products ``J t``: ``torch.func.jacfwd``), the passes batched with
    ``vmap``; with ``vectorize=False`` they run one by one
    (``torch.autograd.functional.jacobian``'s loop of backward passes, and a
    loop of ``torch.func.jvp``). ``wrt`` chooses the inputs (all by default). The budgets
    (``m × n ≤ max_entries``, passes × the dry run's work ``≤ max_work``) are
    checked before anything is computed.

    >>> r = jacobian("dot(x, x)", {"x": "[1.0, 2.0, 3.0]"})
    >>> r.jacobians["x"], r.cheaper
    (tensor([[2., 4., 6.]]), 'reverse')
    >>> r.hessians["x"]["x"]
    tensor([[2., 0., 0.],
            [0., 2., 0.],
            [0., 0., 2.]])
    """
    _check_budgets(max_entries, max_work)
    _check_repeat(repeat)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    wrt = _choose(f, wrt)
    m = f.output_size
    n = sum(f.inputs[w].numel() for w in wrt)
    _check_entries("Jacobian", m, n, max_entries)
    # Both modes run (once untimed, then repeat times): m backward and n forward passes each time,
    # each pass about twice the forward's work.
    _check_work("Jacobian", (m + n) * (repeat + 1), 2 * f.cost.work, max_work)
    tensors = tuple(f.inputs[w].detach() for w in wrt)
    function = f.of(wrt)

    argnums = tuple(range(len(tensors)))

    def reverse_mode() -> tuple:
        if not vectorize:  # one backward pass per output element, one after the other
            return torch.autograd.functional.jacobian(function, tensors)
        return torch.func.jacrev(function, argnums=argnums)(*tensors)

    def forward_mode() -> tuple:
        if not vectorize:  # one jvp per input element, one after the other
            return tuple(c.reshape(m, *t.shape) for c, t in zip(jacobian_columns(function, tensors), tensors))
        return torch.func.jacfwd(function, argnums=argnums)(*tensors)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*performance drop.*")  # vmap falling back to a loop
        try:
            reverse, reverse_seconds = best_time(reverse_mode, repeat)
        except (RuntimeError, NotImplementedError) as err:
            raise _torch_refusal("Jacobian", err) from None
        seconds = {"reverse": reverse_seconds}
        forward, forward_refusal = None, None
        try:
            forward, seconds["forward"] = best_time(forward_mode, repeat)
        except (RuntimeError, NotImplementedError, ExpressionError) as err:
            # Some operations have no forward-mode formula (or no batching rule for it): reverse still stands.
            forward_refusal = f"forward mode is not available here: {first_line(err)}"
    jacobians = {w: j.detach().reshape(m, -1).cpu() for w, j in zip(wrt, reverse)}
    difference = None
    if forward is not None:
        difference = max((float((r - fw).abs().max()) if r.numel() else 0.0 for r, fw in zip(reverse, forward)),
                         default=0.0)
    result = JacobianResult(
        jacobians=jacobians, value=[o.cpu() for o in f.outputs], output_shapes=f.output_shapes,
        input_shapes={w: tuple(f.inputs[w].shape) for w in wrt}, passes={"reverse": m, "forward": n},
        seconds=seconds, difference=difference, forward_refusal=forward_refusal)
    if hessian and m == 1:
        try:
            result.hessians = _hessians(f, wrt, max_entries, max_work)
        except ExpressionError as err:
            result.hessian_refusal = err.message
    return result


def jacobian_columns(function: Callable[..., torch.Tensor], point: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Forward mode, one pass per input element: column ``j`` of ``J`` is the ``jvp`` with tangent ``e_j``.

    ``function`` maps the tensors of ``point`` to one tensor; returns, per
    input, ``J`` as ``(output elements, input elements)``.

    >>> jacobian_columns(lambda x: x * x, [torch.tensor([1.0, 2.0])])
    [tensor([[2., 0.],
            [0., 4.]])]
    """
    point = tuple(t.detach() for t in point)
    blocks = []
    for i, t in enumerate(point):
        columns = []
        for j in range(t.numel()):
            tangents = [torch.zeros_like(u) for u in point]
            tangents[i].view(-1)[j] = 1
            _, column = torch.func.jvp(function, point, tuple(tangents))
            columns.append(column.reshape(-1))
        blocks.append(torch.stack(columns, dim=1) if columns else torch.zeros(0, 0, dtype=t.dtype))
    return blocks


def _choose(f: Differentiable, wrt: Sequence[str] | None) -> tuple[str, ...]:
    """The inputs to differentiate with respect to: ``wrt`` (all by default), less those of whole numbers."""
    if wrt is None:
        return f.variables
    if isinstance(wrt, str):
        wrt = (wrt,)
    unknown = [w for w in wrt if w not in f.names]
    if unknown:
        raise ExpressionError(f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not an "
                              f"input of the function (its inputs: {', '.join(f.names)})")
    chosen = tuple(w for w in dict.fromkeys(wrt) if w in f.variables)
    if not chosen:
        raise ExpressionError("choose at least one input of real numbers to differentiate with respect to "
                              "(inputs of whole numbers, such as class indices, have no derivative)")
    return chosen


def _hessians(f: Differentiable, wrt: Sequence[str], max_entries: int,
              max_work: int) -> dict[str, dict[str, torch.Tensor]]:
    """``∂²f/∂a∂b`` of the scalar ``f`` for every pair of inputs ``a``, ``b`` in ``wrt``: the blocks
    ``hessians[a][b]`` (``n_a × n_b``), as ``torch.autograd.functional.hessian``'s tuple of tuples."""
    sizes = [f.inputs[w].numel() for w in wrt]
    _check_entries(f"Hessian in {', '.join(wrt)}", sum(sizes), sum(sizes), max_entries)
    # One pass for the gradient, then one pass through it per row.
    _check_work("Hessian", sum(sizes) + 1, 4 * f.cost.work, max_work)
    tensors = tuple(f.inputs[w].detach() for w in wrt)
    scalar = f.of(wrt)

    def total(*t: torch.Tensor) -> torch.Tensor:
        return scalar(*t).sum()

    try:  # forward over reverse: n jvps through the gradient
        h = torch.func.hessian(total, argnums=tuple(range(len(wrt))))(*tensors)
    except (RuntimeError, NotImplementedError, ExpressionError):
        try:  # an operation without a forward-mode formula for its backward: reverse over reverse
            h = torch.autograd.functional.hessian(total, tensors, vectorize=True)
        except (RuntimeError, NotImplementedError) as err:
            raise _torch_refusal("Hessian", err) from None
    return {a: {b: h[i][j].detach().reshape(sizes[i], sizes[j]).cpu() for j, b in enumerate(wrt)}
            for i, a in enumerate(wrt)}


def block_matrix(blocks: Mapping[str, Mapping[str, torch.Tensor]]) -> torch.Tensor:
    """The blocks ``blocks[a][b]`` put together into one matrix, rows in the order of ``a``, columns of ``b``.

    >>> h = hessian("x * y", x=2, y=3).hessians
    >>> block_matrix(h)
    tensor([[0., 1.],
            [1., 0.]])
    """
    return torch.cat([torch.cat(list(row.values()), dim=1) for row in blocks.values()], dim=0)


@dataclass
class HessianResult:
    """The value, gradient and Hessian of a scalar function: ``hessians[a][b]`` is ``∂²f/∂a∂b``
    (``n_a × n_b``, inputs flattened) for every pair of inputs, mixed ones included."""

    value: float
    gradients: dict[str, torch.Tensor]
    hessians: dict[str, dict[str, torch.Tensor]]

    def matrix(self) -> torch.Tensor:
        """The whole Hessian: the blocks in place, inputs in the order of :attr:`gradients`."""
        return block_matrix(self.hessians)

    def symmetric(self, tolerance: float = 1e-6) -> bool:
        """Whether the Hessian equals its transpose, ``∂²f/∂a∂b = (∂²f/∂b∂a)ᵀ`` (it does where ``f`` is
        twice continuously differentiable)."""
        h = self.matrix()
        return torch.allclose(h, h.T, atol=tolerance, rtol=tolerance)


def hessian(source: str | Program, inputs: Mapping[str, Any] | None = None, *, wrt: Sequence[str] | None = None,
            seed: int = 0, dtype: str = "float32", device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
            max_entries: int = MAX_ENTRIES, max_work: int = MAX_WORK, **values: Any) -> HessianResult:
    """The Hessian ``H[j, k] = ∂²f/∂x_j∂x_k`` of a scalar function, for every pair of inputs, with its gradient.

    >>> hessian("dot(x, x)", x="ones(2)").hessians["x"]["x"]
    tensor([[2., 0.],
            [0., 2.]])
    >>> hessian("x**2 * y", x=3, y=5).hessians["x"]["y"]   # ∂²f/∂x∂y = 2x
    tensor([[6.]])
    """
    _check_budgets(max_entries, max_work)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    if f.output_size != 1:
        raise ExpressionError(f"the Hessian needs a scalar function (one output element), not {f.output_size:,} "
                              "output elements: wrap it in sum(...) or pick one element")
    wrt = _choose(f, wrt)
    hessians = _hessians(f, wrt, max_entries, max_work)
    leaves = [f.inputs[w].detach().requires_grad_(True) for w in wrt]
    with torch.enable_grad():
        out = f.of(wrt)(*leaves).sum()
        grads = torch.autograd.grad(out, leaves, allow_unused=True, materialize_grads=True)
    return HessianResult(float(out.detach()), {w: g.detach().cpu() for w, g in zip(wrt, grads)}, hessians)


# ---------------------------------------------------------------------------
# Vector calculus: divergence, Laplacian, curl.

def _coordinates(f: Differentiable) -> tuple[tuple[str, ...], Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """The point as one vector and the field as a function of it.

    A field is a function of one vector input (``x`` with ``n`` elements) or
    of ``n`` one-element inputs (``x, y, z``), taken in alphabetical order.
    """
    names = f.variables
    if len(names) == 1:
        name = names[0]
        x = f.inputs[name].detach()
        shape = x.shape
        flat = f.of((name,))
        return (name,), lambda v: flat(v.reshape(shape)), x.reshape(-1)
    if all(f.inputs[n].numel() == 1 for n in names):
        names = tuple(sorted(names))
        flat = f.of(names)
        shapes = [f.inputs[n].shape for n in names]
        return names, (lambda v: flat(*(v[i].reshape(s) for i, s in enumerate(shapes)))), \
            torch.cat([f.inputs[n].detach().reshape(-1) for n in names])
    raise ExpressionError("a field takes one vector input (x, with x[0], x[1], ...) or several one-number "
                          f"inputs (x, y, z); this function has inputs {', '.join(names)}")


def _field(f: Differentiable, laplacian: bool) -> tuple[tuple[str, ...], torch.Tensor, torch.Tensor]:
    """(coordinate names, the leaf point ``x``, the field ``g(x)``; ``∇f`` itself for the Laplacian)."""
    names, field_of, point = _coordinates(f)
    x = point.clone().requires_grad_(True)
    with torch.enable_grad():
        g = field_of(x)
        if laplacian:
            if g.numel() != 1:
                raise ExpressionError(f"the Laplacian needs a scalar function (one output element), not "
                                      f"{g.numel():,} output elements")
            (g,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    if g.numel() != x.numel():
        raise ExpressionError(f"the divergence needs a field with as many outputs as inputs: {g.numel():,} "
                              f"output elements for {x.numel():,} input elements")
    if not g.requires_grad:
        raise ExpressionError("the field does not depend on its input, so its divergence is 0")
    return names, x, g


@dataclass
class DivergenceTiming:
    """Seconds of each way at one size ``n`` (``refusal`` says why a size could not run)."""

    n: int
    seconds_ones: float | None = None
    seconds_identity: float | None = None
    agree: bool | None = None
    refusal: str | None = None


@dataclass
class DivergenceResult:
    """``∇·g`` (or ``∇²f = ∇·∇f``) two ways at one point, and the verdict on the ones-trick.

    ``with_ones`` is ``(1ᵀJ)·1``, one backward pass with ``v = ones``: the sum
    of *all* entries of ``J``. ``with_identity`` is ``trace(J)``, from the rows
    ``J·I`` (one backward pass per row, batched): the divergence. They differ
    by ``off_diagonal_sum``, the sum of the entries off the diagonal;
    ``diagonal`` says whether there are any. ``jacobian`` is ``J`` (for the
    Laplacian, the Hessian of ``f``).
    """

    with_ones: float
    with_identity: float
    diagonal: bool
    off_diagonal_sum: float
    jacobian: torch.Tensor
    coordinates: tuple[str, ...]
    laplacian: bool
    seconds_ones: float
    seconds_identity: float
    timings: list[DivergenceTiming] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        """Whether the two ways give the same number (up to rounding)."""
        return math.isclose(self.with_ones, self.with_identity, rel_tol=1e-5, abs_tol=1e-6)

    @property
    def verdict(self) -> str:
        """When the ones-trick is right, and why."""
        what = "∇²f" if self.laplacian else "∇·g"
        if self.diagonal:
            return (f"J is diagonal here, so v = ones picks out exactly its diagonal: both ways give {what} = "
                    f"{self.with_identity:.6g}, and the ones-trick is cheaper (one backward pass instead of "
                    f"{self.jacobian.shape[0]:,}).")
        if self.agree:
            return (f"J is not diagonal: v = ones also adds its off-diagonal entries, which happen to cancel here "
                    f"(they sum to {self.off_diagonal_sum:.3g}), so the ones-trick agrees by luck. Only the identity "
                    f"is right in general: {what} = {self.with_identity:.6g}.")
        return (f"J is not diagonal: v = ones also adds its off-diagonal entries (they sum to "
                f"{self.off_diagonal_sum:.6g}), so (J·1)·1 = {self.with_ones:.6g} is wrong. Only the identity "
                f"gives {what} = trace(J) = {self.with_identity:.6g}.")


@dataclass
class _TwoWays:
    with_ones: float
    with_identity: float
    off_diagonal_sum: float
    diagonal: bool
    jacobian: torch.Tensor | None
    seconds_ones: float
    seconds_identity: float


def _two_ways(x: torch.Tensor, g: torch.Tensor, repeat: int, keep: bool) -> _TwoWays:
    """Seed 002's two ways on a built graph ``g(x)``: ``(1ᵀJ)·1`` and ``trace(J·I)``, each timed.

    The identity goes through in chunks of rows (memory ``O(chunk × n)``);
    ``J`` itself is kept only when ``keep``.
    """
    n = x.numel()

    def ones() -> torch.Tensor:
        (column_sums,) = torch.autograd.grad(g, x, torch.ones_like(g), retain_graph=True)
        return column_sums.sum()

    def identity(inspect: bool = False):
        trace = torch.zeros((), dtype=g.dtype, device=g.device)
        total, off_diagonal, rows = torch.zeros_like(trace), 0, []
        for start in range(0, n, IDENTITY_CHUNK):
            stop = min(n, start + IDENTITY_CHUNK)
            chunk = torch.arange(stop - start, device=g.device)
            eye = torch.zeros(stop - start, n, dtype=g.dtype, device=g.device)
            eye[chunk, chunk + start] = 1
            (J,) = torch.autograd.grad(g, x, eye, retain_graph=True, is_grads_batched=True,
                                       allow_unused=True, materialize_grads=True)
            J = J.reshape(stop - start, n)
            diagonal = J[chunk, chunk + start]
            trace = trace + diagonal.sum()
            if inspect:
                total = total + J.sum()
                off_diagonal += int(torch.count_nonzero(J)) - int(torch.count_nonzero(diagonal))
                if keep:
                    rows.append(J.detach())
        if not inspect:
            return trace
        return trace, total, off_diagonal == 0, torch.cat(rows) if keep else None

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*performance drop.*")  # vmap falling back to a loop
        try:
            trace, total, diagonal, J = identity(inspect=True)
            with_ones, seconds_ones = best_time(ones, repeat)
            _, seconds_identity = best_time(identity, repeat)
        except (RuntimeError, NotImplementedError) as err:
            raise _torch_refusal("divergence", err) from None
    return _TwoWays(float(with_ones), float(trace), float(total - trace), diagonal,
                    None if J is None else J.detach().cpu(), seconds_ones, seconds_identity)


def divergence(source: str | Program, inputs: Mapping[str, Any] | None = None, *, laplacian: bool = False,
               sizes: Sequence[int] = (), repeat: int = 1, seed: int = 0, dtype: str = "float32",
               device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS, max_entries: int = MAX_ENTRIES,
               max_work: int = MAX_WORK, **values: Any) -> DivergenceResult:
    """``∇·g = Σ ∂g_i/∂x_i`` of a field ``R^n -> R^n`` (or ``∇²f = ∇·∇f`` with ``laplacian=True``), two ways.

    With ``v = ones`` (one backward pass: right only when ``J`` is diagonal)
    and with the identity (``n`` backward passes, batched: always right).
    ``sizes`` also times both ways as ``n`` grows, with the input made
    ``rand(n)`` for each ``n`` (the function must then take one vector input).

    >>> d = divergence("dot(x, x)", {"x": "ones(3)"}, laplacian=True)   # seed 002: div(grad(x·x)) = 6
    >>> d.with_ones, d.with_identity, d.diagonal
    (6.0, 6.0, True)
    >>> divergence("stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"}).with_ones
    12.0
    """
    _check_budgets(max_entries, max_work)
    _check_repeat(repeat)
    sizes = _check_sizes(sizes)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    names, two = _divergence_of(f, laplacian, repeat, max_entries, max_work, keep=True)
    timings = []
    if sizes:
        if len(f.names) != 1:
            raise ExpressionError("timing as n grows needs one vector input (x, with x[0], x[1], ...)")
        for n in sizes:
            timings.append(_timing_at(f.program, n, laplacian, repeat, seed, dtype, device, limits, max_entries,
                                      max_work))
    return DivergenceResult(
        with_ones=two.with_ones, with_identity=two.with_identity, diagonal=two.diagonal,
        off_diagonal_sum=two.off_diagonal_sum, jacobian=two.jacobian, coordinates=names, laplacian=laplacian,
        seconds_ones=two.seconds_ones, seconds_identity=two.seconds_identity, timings=timings)


def _divergence_of(f: Differentiable, laplacian: bool, repeat: int, max_entries: int, max_work: int,
                   keep: bool) -> tuple[tuple[str, ...], _TwoWays]:
    n = sum(f.inputs[name].numel() for name in f.variables)
    _check_entries("Jacobian of the field", n, n, max_entries)
    # The identity takes n backward passes (through the gradient's own graph for the Laplacian).
    _check_work("divergence", (n + 1) * (repeat + 1), (4 if laplacian else 2) * f.cost.work, max_work)
    names, x, g = _field(f, laplacian)
    return names, _two_ways(x, g, repeat, keep)


def _timing_at(program: Program, n: int, laplacian: bool, repeat: int, seed: int, dtype: str,
               device: str | None, limits: Limits, max_entries: int, max_work: int) -> DivergenceTiming:
    try:
        f = differentiable(program, {program.inputs[0]: f"rand({n})"}, seed=seed, dtype=dtype, device=device,
                           limits=limits)
        _, two = _divergence_of(f, laplacian, repeat, max_entries, max_work, keep=False)
    except ExpressionError as err:
        return DivergenceTiming(n, refusal=err.message)
    agree = math.isclose(two.with_ones, two.with_identity, rel_tol=1e-5, abs_tol=1e-6)
    return DivergenceTiming(n, two.seconds_ones, two.seconds_identity, agree)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, int) or not all(is_whole(n) and n >= 1 for n in sizes):
        raise ValueError(f"sizes must be a sequence of whole numbers >= 1, not {sizes!r}")
    if len(sizes) > 12:
        raise ValueError(f"time at most 12 sizes, got {len(sizes)}")
    return tuple(sizes)


def divergence_timings(source: str | Program, sizes: Sequence[int] = (10, 100, 1000, 10_000), *,
                       laplacian: bool = False, repeat: int = 3, seed: int = 0, dtype: str = "float32",
                       device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS,
                       max_entries: int = 10**8, max_work: int = MAX_WORK) -> list[DivergenceTiming]:
    """Seconds of the divergence with ``v = ones`` and with the identity at ``x = rand(n)`` for each ``n``.

    For the benchmark: the budgets default to ``n = 10,000``; the identity is
    sent in chunks of rows, so memory stays ``O(chunk × n)``.

    >>> [t.n for t in divergence_timings("sin(x)", (10, 100), repeat=1)]
    [10, 100]
    """
    _check_budgets(max_entries, max_work)
    _check_repeat(repeat)
    program = source if isinstance(source, Program) else parse(source, limits=limits)
    if len(program.inputs) != 1:
        raise ExpressionError("timing as n grows needs one vector input (x, with x[0], x[1], ...)")
    return [_timing_at(program, n, laplacian, repeat, seed, dtype, device, limits, max_entries, max_work)
            for n in _check_sizes(sizes)]


@dataclass
class CurlResult:
    """``∇×F`` at a point, with the Jacobian it comes from (``J[i, j] = ∂F_i/∂x_j``)."""

    curl: torch.Tensor
    jacobian: torch.Tensor
    point: torch.Tensor
    coordinates: tuple[str, ...]


def curl(source: str | Program, inputs: Mapping[str, Any] | None = None, *, seed: int = 0, dtype: str = "float32",
         device: str | None = "cpu", limits: Limits = DEFAULT_LIMITS, **values: Any) -> CurlResult:
    """``∇×F = (∂F₃/∂y − ∂F₂/∂z, ∂F₁/∂z − ∂F₃/∂x, ∂F₂/∂x − ∂F₁/∂y)`` of a field ``R³ -> R³``.

    The field takes one input with 3 elements (``x[0], x[1], x[2]``) or three
    one-number inputs (``x, y, z``, in alphabetical order).

    >>> curl("stack([-x[1], x[0], 0*x[2]])", {"x": "[1.0, 2.0, 3.0]"}).curl
    tensor([0., 0., 2.])
    >>> curl("(-y, x, 0*z)", x=1, y=2, z=3).curl
    tensor([0., 0., 2.])
    """
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    names, field_of, point = _coordinates(f)
    if point.numel() != 3 or f.output_size != 3:
        raise ExpressionError(f"the curl is defined for fields from R³ to R³: this one goes from "
                              f"R^{point.numel()} to R^{f.output_size} (give x with 3 elements, or x, y, z; "
                              "write 0*z to use z in a constant component)")
    try:
        J = torch.autograd.functional.jacobian(field_of, point)
    except (RuntimeError, NotImplementedError) as err:
        raise _torch_refusal("curl", err) from None
    J = J.detach().reshape(3, 3).cpu()
    rot = torch.stack([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]])
    return CurlResult(rot, J, point.cpu(), names)


# ---------------------------------------------------------------------------
# Higher order.

@dataclass
class HigherOrder:
    """``f, f', f'', ...`` of a function applied element by element, and how they compare with SymPy's.

    ``derivatives[k]`` is ``f⁽ᵏ⁾(x)`` by autograd (``create_graph=True`` at
    each step). ``formulas[k]`` is SymPy's ``f⁽ᵏ⁾`` in LaTeX, and
    ``differences[k]`` the largest gap between autograd's numbers and that
    formula evaluated by torch (``0.0``: bit for bit), when the function has a
    symbolic form (else ``symbolic_refusal`` says why). ``original_dot`` and
    ``derivative_dot`` are the graph of ``f`` and the graph that
    ``create_graph=True`` built for ``f'`` (torchviz style; ``graph_refusal``
    says why they are missing, if they are).
    """

    x: torch.Tensor
    derivatives: list[torch.Tensor]
    formulas: list[str] = field(default_factory=list)
    differences: list[float] = field(default_factory=list)
    symbolic_refusal: str | None = None
    original_dot: str = ""
    derivative_dot: str = ""
    graph_refusal: str | None = None

    @property
    def exact(self) -> list[bool]:
        """For each order, whether autograd equals the symbolic derivative bit for bit."""
        return [d == 0.0 for d in self.differences]


def higher_order(source: str | Program, inputs: Mapping[str, Any] | None = None, *, order: int = 2,
                 graphs: bool = True, seed: int = 0, dtype: str = "float32", device: str | None = "cpu",
                 limits: Limits = DEFAULT_LIMITS, max_work: int = MAX_WORK, **values: Any) -> HigherOrder:
    """``dᵏf/dxᵏ`` for ``k = 0..order`` of an elementwise ``f`` of one input, with ``create_graph=True``.

    Each derivative is ``grad(sum of the previous, x, create_graph=True)``:
    for a function applied element by element the Jacobian is diagonal, so the
    gradient of the sum is the derivative at each element. That is checked
    first (one ``jvp`` with a random tangent must equal the gradient times the
    tangent); a function that mixes elements is refused.

    >>> r = higher_order("sin(x)", {"x": "[0.0, 1.0]"})
    >>> r.derivatives[2], r.formulas[2], r.exact[2]
    (tensor([-0.0000, -0.8415]), '- \\\\sin{\\\\left(x \\\\right)}', True)
    """
    whole_number(order, "the order", least=1, most=MAX_ORDER, error=ExpressionError)
    _check_budgets(1, max_work)
    f = differentiable(source, inputs, seed=seed, dtype=dtype, device=device, limits=limits, **values)
    if len(f.names) != 1:
        raise ExpressionError(f"higher derivatives here take one input, e.g. x; this function has "
                              f"{len(f.names)} ({', '.join(f.names)})")
    name = f.names[0]
    x = f.inputs[name].detach().requires_grad_(True)
    if f.output_size != x.numel():
        raise ExpressionError(f"the function must act element by element: {f.output_size:,} output elements "
                              f"for {x.numel():,} input elements")
    # Each order differentiates the whole graph built so far, which about doubles with each order.
    _check_work(f"derivatives up to order {order}", 2 ** (order + 1), f.cost.work, max_work)
    flat = f.of((name,))
    _check_elementwise(flat, x, seed)
    values_ = []
    try:
        with torch.enable_grad():
            current = flat(x).reshape(x.shape)
            values_.append(current)
            for _ in range(order):
                if not current.requires_grad:  # a polynomial differentiated past its degree
                    current = torch.zeros_like(x)
                else:
                    (current,) = torch.autograd.grad(current.sum(), x, create_graph=True, allow_unused=True,
                                                     materialize_grads=True)
                values_.append(current)
    except (RuntimeError, NotImplementedError) as err:
        raise _torch_refusal("derivative", err) from None
    derivatives = [v.detach().reshape(-1).cpu() for v in values_]
    result = HigherOrder(x.detach().reshape(-1).cpu(), derivatives)
    _compare_with_symbolic(result, f.program, x.detach())
    if graphs:
        try:
            result.original_dot, result.derivative_dot = derivative_graphs(f.program, {name: x.detach()}, dtype=dtype)
        except (RuntimeError, ValueError) as err:  # the derivatives stand without their drawing
            result.graph_refusal = f"the graphs could not be captured: {first_line(err)}"
    return result


def _check_elementwise(flat: Callable, x: torch.Tensor, seed: int) -> None:
    if x.numel() == 1:
        return
    tangent = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype).to(x.device)
    try:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            out = flat(leaf)
            (diagonal,) = torch.autograd.grad(out.sum(), leaf, allow_unused=True, materialize_grads=True)
        _, along = torch.func.jvp(flat, (x.detach(),), (tangent,))
    except (RuntimeError, NotImplementedError, ExpressionError):
        return  # no forward mode for some operation: the check cannot be made, the derivatives still can
    expected = (diagonal * tangent).reshape(-1)
    scale = float(along.abs().max()) + float(expected.abs().max()) + 1.0
    if float((along - expected).abs().max()) > 1e-4 * scale:
        raise ExpressionError("the function mixes elements (its Jacobian is not diagonal), so the gradient of its "
                              "sum is not its derivative element by element: know your Jacobian. Use a function "
                              "applied element by element, such as sin(x) or x**3 - 2*x")


def _compare_with_symbolic(result: HigherOrder, program: Program, x: torch.Tensor) -> None:
    """Fill ``formulas`` and ``differences``: SymPy's derivatives, evaluated by torch, against autograd's."""
    from explorer import symbolic

    try:
        expressions = symbolic.derivatives(program, len(result.derivatives) - 1)
        formulas = [symbolic.latex(e) for e in expressions]
        exact = [symbolic.torch_value(e, {program.inputs[0]: x}).reshape(-1).cpu() for e in expressions]
    except ExpressionError as err:
        result.symbolic_refusal = err.message
        return
    result.formulas = formulas
    result.differences = [
        float((a.to(torch.float64) - e.to(torch.float64).expand_as(a)).abs().max()) if a.numel() else 0.0
        for a, e in zip(result.derivatives, exact)]


def derivative_graphs(program: Program, inputs: Mapping[str, torch.Tensor], *, dtype: str = "float32",
                      style: str = "torchviz") -> tuple[str, str]:
    """DOT of the graph of ``f`` and of the graph ``create_graph=True`` builds for its gradient.

    Drawn by :mod:`explorer.graph` (the same look as ``torchviz.make_dot``,
    at any depth), from a run with ``backward(ones)``.

    >>> import torch
    >>> original, derivative = derivative_graphs(parse("sin(x)"), {"x": torch.zeros(2)})
    >>> "SinBackward0" in original, "CosBackward0" in derivative
    (True, True)
    """
    from explorer.exploration import explore

    ex = explore(program.source, inputs={n: t.detach().cpu() for n, t in inputs.items()}, dtype=dtype,
                 device="cpu", create_graph=True)
    derivative = ex.graph.derivative
    return ex.to_dot(style), derivative.to_dot(style) if derivative is not None else ""


@dataclass
class SinCheck:
    """Seed 002's check: ``sin'(x) == cos(x)`` and ``sin''(x) == -sin(x)``, exactly, on ``n`` points of [0, 1]."""

    n: int
    dtype: str
    first_error: float
    second_error: float

    @property
    def exact(self) -> bool:
        return self.first_error == 0.0 and self.second_error == 0.0


def sin_check(n: int = 1001, dtype: str = "float32") -> SinCheck:
    """Autograd's ``sin'`` and ``sin''`` (``create_graph=True``) against ``cos`` and ``-sin``, as seed 002 does.

    The errors are ``max |exact − autograd|``; the seed asserts both are 0.

    >>> sin_check().exact
    True
    """
    r = higher_order("sin(x)", {"x": f"linspace(0, 1, {n})"}, order=2, graphs=False, dtype=dtype)
    x = r.x
    first = float((torch.cos(x) - r.derivatives[1]).abs().max())
    second = float((-torch.sin(x) - r.derivatives[2]).abs().max())
    return SinCheck(n, dtype, first, second)


__all__ = [
    "CurlResult", "Differentiable", "DivergenceResult", "DivergenceTiming", "HessianResult", "HigherOrder",
    "JacobianResult", "MAX_ENTRIES", "MAX_ORDER", "MAX_WORK", "SinCheck", "best_time", "block_matrix", "curl",
    "derivative_graphs",
    "differentiable", "divergence", "divergence_timings", "hessian", "higher_order", "jacobian", "jacobian_columns",
    "sin_check",
]
