"""Input values: numbers, nested lists and small constructors, turned into leaf tensors.

A spec is parsed by the same safe expression language as functions, with a
few constructors added (``rand(10, 2)``, ``randn(3)``, ``linspace(0, 1, 101)``,
``eye(3)``, ``ones(3)``, ``zeros(2, 2)``, ``arange(5)``, ``full((2, 2), 0.5)``)
and no free names, so ``2*pi*rand(10)`` works and ``__import__('os')`` does not.
Sizes are checked on the ``meta`` device before anything is allocated.

A plain number becomes a one-element vector, as in ``torch.tensor([4.])``:
that is how the seeds write a scalar input, and why their gradients print as
``tensor([72.])``. Every input is a float tensor that requires grad, except
whole numbers written with ``tensor``: ``tensor([0, 2, 1])`` is an int64
tensor, as ``torch.tensor`` makes it (the class indices of
``F.cross_entropy``), and has no gradient. A plain list, ``[0, 2, 1]``, stays
a float input.

>>> from explorer.inputs import make_inputs
>>> make_inputs(("x",), {"x": 4})["x"]
tensor([4.], requires_grad=True)
>>> make_inputs(("A",), {"A": "eye(2)"}, dtype="float64")["A"]
tensor([[1., 0.],
        [0., 1.]], dtype=torch.float64, requires_grad=True)
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

from explorer.checks import is_whole, whole_number
from explorer.choices import DTYPE_NAMES
from explorer.device import resolve_device
from explorer.expression import (
    DEFAULT_LIMITS, Call, Cost, ExpressionError, Limits, Num, Program, check, evaluate, items_of, parse,
    refusing_blowups,
)
from explorer.functions import FUNCTIONS, Function

DTYPES = dict(zip(DTYPE_NAMES, (torch.float32, torch.float64)))


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"`` / ``"float64"`` (or the torch dtype) as a torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if dtype in DTYPES:
        return DTYPES[dtype]
    raise ExpressionError(f"dtype must be float32 or float64, not {dtype!r}")


def _sizes(args: Sequence) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    if not args or not all(is_whole(a) for a in args):
        raise TypeError("sizes must be whole numbers, e.g. rand(10, 2)")
    if any(a < 0 for a in args):
        raise TypeError("sizes cannot be negative")
    return tuple(args)


def constructors(dtype: torch.dtype, device: torch.device | str,
                 generator: torch.Generator | None) -> dict[str, Function]:
    """The constructors an input spec may call, creating ``dtype`` tensors on ``device``.

    Random ones draw from ``generator`` (on the CPU, so that a seed gives the
    same numbers on every device, and the same as ``torch.manual_seed(seed)``
    followed by the same calls in plain PyTorch).
    """
    at = {"dtype": dtype, "device": device}
    rng = {"generator": generator} if generator is not None else {}

    def random(draw: Callable) -> Callable:
        return lambda *sizes: draw(_sizes(sizes), **at, **rng)

    def sized(make: Callable) -> Callable:
        return lambda *sizes: make(_sizes(sizes), **at)

    def eye(n, m=None):
        return torch.eye(*_sizes((n,) if m is None else (n, m)), **at)

    def linspace(start, end, steps=100):
        return torch.linspace(float(start), float(end), _sizes((steps,))[0], **at)

    def arange(start, end=None, step=1):
        bounds = (start,) if end is None else (start, end, step)
        return torch.arange(*bounds, **at)

    def full(size, value):
        return torch.full(_sizes((size,)), float(value), **at)

    def tensor(values):
        return FUNCTIONS["tensor"].fn(values, **at)  # whole numbers stay whole, as in torch.tensor

    table = {
        "rand": (random(torch.rand), 1, 8), "randn": (random(torch.randn), 1, 8),
        "ones": (sized(torch.ones), 1, 8), "zeros": (sized(torch.zeros), 1, 8),
        "eye": (eye, 1, 2), "linspace": (linspace, 2, 3), "arange": (arange, 1, 3),
        "full": (full, 2, 2), "tensor": (tensor, 1, 1),
    }
    return {name: Function(name, fn, lo, hi, spaces=(), method=False, tensor_args=0)
            for name, (fn, lo, hi) in table.items()}


CONSTRUCTOR_NAMES = tuple(constructors(torch.float32, "meta", None))


def integer_spec(spec: Any) -> bool:
    """Whether an input spec (text or parsed) gives whole numbers: ``tensor([0, 2, 1])``, an int64 input.

    >>> integer_spec("tensor([0, 2, 1])"), integer_spec("[0, 2, 1]"), integer_spec("tensor([0.5, 1])")
    (True, False, False)
    """
    if isinstance(spec, str):
        try:
            spec = parse(spec, constructors=dict.fromkeys(CONSTRUCTOR_NAMES))
        except ExpressionError:
            return False
    if not isinstance(spec, Program) or len(spec.outputs) != 1:
        return False
    (expr,) = spec.outputs
    if not (isinstance(expr, Call) and expr.op == "tensor" and len(expr.args) == 1):
        return False
    numbers = items_of(expr.args[0])
    return bool(numbers) and all(isinstance(n, Num) and isinstance(n.value, int) for n in numbers)


def parse_spec(spec: Any, *, limits: Limits = DEFAULT_LIMITS, name: str = "input") -> Program:
    """An input spec (text, a number, a list of numbers, or a tensor) as a parsed program of constructors.

    >>> parse_spec("2*pi*rand(3)").outputs[0].op
    'mul'
    """
    if isinstance(spec, torch.Tensor):  # written out, as a script shows it
        if spec.numel() > limits.max_list_items:
            raise ExpressionError(f"{name}: {spec.numel():,} elements are too many to write out "
                                  f"(at most {limits.max_list_items:,})")
        values = spec.detach().cpu().tolist()
        spec = values if spec.is_floating_point() else f"tensor({values!r})"
    if isinstance(spec, bool) or not isinstance(spec, (str, numbers.Real, list, tuple)):
        raise ExpressionError(f"{name}: give a number, a list or a constructor such as rand(3), "
                              f"not {type(spec).__name__}")
    text = spec if isinstance(spec, str) else repr(_plain(spec, limits))
    try:
        program = parse(text, limits=limits, constructors=dict.fromkeys(CONSTRUCTOR_NAMES))
    except ExpressionError as err:
        raise ExpressionError(f"{name}: {err.message}", err.line, err.column) from None
    if len(program.outputs) != 1 or program.assignments:
        raise ExpressionError(f"{name}: give one value, e.g. 4, [0.5, 0.75] or rand(3)")
    return program


@refusing_blowups
def make_input(spec: Any, *, dtype: str | torch.dtype = "float32", generator: torch.Generator | None = None,
               limits: Limits = DEFAULT_LIMITS, name: str = "input") -> torch.Tensor:
    """One input value as a CPU tensor (not yet a leaf that requires grad; :func:`make_inputs` moves it).

    >>> make_input("linspace(0, 1, 3)")
    tensor([0.0000, 0.5000, 1.0000])
    """
    dtype = resolve_dtype(dtype)
    if isinstance(spec, torch.Tensor):
        if spec.numel() > limits.max_elements:
            raise ExpressionError(f"{name} has {spec.numel():,} elements (at most {limits.max_elements:,})")
        whole = not spec.is_floating_point() and spec.dtype != torch.bool  # class indices stay whole numbers
        return spec.detach().to(dtype=torch.int64 if whole else dtype).clone()
    program = parse_spec(spec, limits=limits, name=name)
    extra_meta = constructors(dtype, "meta", None)
    # Never the global generator: user text must not move torch's global random state.
    extra = constructors(dtype, "cpu", generator if generator is not None else torch.Generator().manual_seed(0))
    try:
        check(program, {}, limits, functions=extra_meta, dtype=dtype)
        value = evaluate(program, {}, functions=extra, dtype=dtype).outputs[0]
    except ExpressionError as err:
        raise ExpressionError(f"{name}: {err.message}", err.line, err.column) from None
    if value.dim() == 0:
        value = value.reshape(1)
    return value if integer_spec(program) else value.to(dtype)


def _plain(value: Any, limits: Limits) -> Any:
    """A Python list of numbers as plain ints and floats, refused before walking it when it is too big to be
    written out (``[0.0] * 10**8``: the text would be over ``max_chars``) or nested too deeply."""
    if isinstance(value, (list, tuple)) and len(value) > limits.max_list_items:
        raise ExpressionError(f"the list is too long: {len(value):,} items (at most {limits.max_list_items:,}); "
                              "give a tensor or a constructor such as rand(3) instead")
    budget = [limits.max_chars]

    def plain(item: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > limits.max_depth:
            raise ExpressionError("the list is too large or nested too deeply to write out: give a tensor instead")
        if isinstance(item, (list, tuple)):
            return [plain(v, depth + 1) for v in item]
        if isinstance(item, numbers.Real) and not isinstance(item, bool):
            return float(item) if not isinstance(item, int) else int(item)
        raise ExpressionError(f"lists may hold numbers only, not {type(item).__name__}")

    return plain(value, 0)


def make_inputs(names: Sequence[str], specs: Mapping[str, Any], *, seed: int = 0,
                dtype: str | torch.dtype = "float32", device: str | torch.device | None = "cpu",
                limits: Limits = DEFAULT_LIMITS) -> dict[str, torch.Tensor]:
    """Leaf tensors (``requires_grad=True``, but for whole numbers: :func:`integer_spec`) for ``names``.

    Random constructors draw from one generator seeded with ``seed``, in the
    order of ``names``: the same as ``torch.manual_seed(seed)`` and the same
    calls in plain PyTorch.
    """
    missing = [n for n in names if n not in specs]
    if missing:
        raise ExpressionError(f"no value given for {', '.join(missing)}")
    unused = [n for n in specs if n not in names]
    if unused:
        raise ExpressionError(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used by the function")
    whole_number(seed, "the seed", least=0, most=2**63 - 1, error=ExpressionError)
    target = resolve_device(device)
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    total = 0
    for name in names:
        value = make_input(specs[name], dtype=dtype, generator=generator, limits=limits, name=name)
        total += value.numel()
        if total > limits.max_total_elements:
            raise ExpressionError(f"the inputs are too large: {total:,} elements (at most {limits.max_total_elements:,})")
        tensors[name] = value.to(target).requires_grad_(value.is_floating_point())
    return tensors


@dataclass
class Prepared:
    """A function ready to run: its program, its leaf inputs, and the dry run's cost (``cost.output_shapes``:
    the shape of each output, known before anything runs; ``cost.work``).

    ``dtype`` and ``device`` are the resolved choices the inputs were made with.
    """

    program: Program
    tensors: dict[str, torch.Tensor]
    cost: Cost
    dtype: torch.dtype
    device: torch.device


@refusing_blowups
def prepare(source: str | Program, specs: Mapping[str, Any], *, seed: int = 0, dtype: str | torch.dtype = "float32",
            device: str | torch.device | None = "auto", limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """Parse ``source`` (or take a parsed :class:`Program`), build its inputs from ``specs``, and dry-run it.

    Every computation on a typed function starts here: parse, dtype, device,
    :func:`make_inputs`, :func:`~explorer.expression.check`. Every refusal,
    an absent device included, is an :class:`~explorer.ExpressionError`.

    >>> p = prepare("A @ x", {"A": "ones(2, 3)", "x": "rand(3)"}, device="cpu")
    >>> p.program.inputs, p.cost.output_shapes, p.tensors["A"].requires_grad
    (('A', 'x'), [(2,)], True)
    """
    program = source if isinstance(source, Program) else parse(source, limits=limits)
    dtype_ = resolve_dtype(dtype)
    try:
        target = resolve_device(device)
    except ValueError as err:
        raise ExpressionError(str(err)) from None
    tensors = make_inputs(program.inputs, specs, seed=seed, dtype=dtype_, device=target, limits=limits)
    return Prepared(program, tensors, check(program, tensors, limits), dtype_, target)
