"""Copy as PyTorch code: the plain script that reproduces an exploration's numbers.

The script is written by walking the validated expression tree of
:mod:`explorer.expression` (never by pasting or evaluating the user's text):
each :class:`~explorer.expression.Call` becomes the torch call the function
table runs, so the script computes what the explorer computed. Inputs are
built as :mod:`explorer.inputs` builds them: one CPU generator seeded with
``seed`` and drawn from in the order of the inputs, the same dtype, a plain
number as a one-element vector; then ``backward(v)`` with ``v = ones`` unless
another ``v`` is given, as the seeds do.

>>> script = pytorch_script("x**3 + 2*x**2 + 8*x", {"x": 4})
>>> print(script[script.index("x = "):])
x = torch.tensor([4.0], dtype=dtype).requires_grad_()
<BLANKLINE>
f = x**3 + 2 * x**2 + 8 * x
<BLANKLINE>
# backward(v) needs v when the output is not a scalar: ones, as the seeds use.
v = torch.ones_like(f)
f.backward(v)
<BLANKLINE>
print("f =", f.detach())
print("x.grad =", x.grad)
<BLANKLINE>
"""
from __future__ import annotations

import builtins
import keyword
import math
from typing import Any, Mapping, Sequence


from explorer.checks import whole_number
from explorer.device import DEVICE_CHOICES
from explorer.expression import Call, Compare, Expr, Index, Name, Num, Program, Seq, items_of, parse, script_name
from explorer.functions import FUNCTIONS
from explorer.inputs import CONSTRUCTOR_NAMES, DTYPES, integer_spec, parse_spec

# Functions whose torch spelling is not ``torch.<name>``; every other table entry is.
_SPELLINGS = {
    **{f.name: f"F.{f.name}" for f in FUNCTIONS.values() if "F." in f.spaces and "torch." not in f.spaces},
    "cross": "torch.linalg.cross", "vector_norm": "torch.linalg.vector_norm",
    "linalg_norm": "torch.linalg.norm", "det": "torch.linalg.det", "inv": "torch.linalg.inv",
    "inverse": "torch.linalg.inv", "norm": "torch.norm",
}
# Written as methods: torch has no function of these names.
_METHODS = ("view", "expand", "contiguous")
# Sizes given loose (x.view(2, 3)) are written as one tuple for the function spelling.
_SIZED = ("reshape", "permute")
# Helpers the script defines when the function needs them (names with "_" cannot be user names).
_HELPERS = {
    "T": "def _T(t):\n    # x.T as the explorer reads it: a transpose for matrices, a vector stays as it is\n"
         "    return t.T if t.dim() >= 2 else t\n",
    "logsumexp": "def _logsumexp_all(t, keepdim=False):\n    # logsumexp over every dimension\n"
                 "    return torch.logsumexp(t, dim=tuple(range(t.dim())), keepdim=keepdim)\n",
}

# Binding strength of what an expression's text is, to know where parentheses are needed.
_ATOM, _POWER, _UNARY, _PRODUCT, _SUM, _COMPARE = 6, 5, 4, 3, 2, 1
_BINARY = {"add": ("+", _SUM), "sub": ("-", _SUM), "mul": ("*", _PRODUCT), "div": ("/", _PRODUCT),
           "matmul": ("@", _PRODUCT), "pow": ("**", _POWER)}

_SCRIPT_NAMES = {"torch", "F", "dtype", "device", "generator"}
_BUILTINS = frozenset(dir(builtins))


def pytorch_script(program: Program | str, inputs: Mapping[str, Any], *, seed: int = 0,
                   dtype: str = "float32", device: str = "cpu", v: Any = None) -> str:
    """A plain PyTorch script that computes ``program`` on ``inputs`` and prints outputs and gradients.

    ``inputs`` maps each input name to its spec, as :func:`explorer.explore`
    takes it (``4``, ``[0.5, 0.75]``, ``"rand(10, 2)"``, a tensor); ``v`` is
    the vector of ``backward(v)``: ``None`` for ones, else one spec (or one
    per output). Raises :class:`~explorer.ExpressionError` for a function or
    spec the explorer would refuse, ``ValueError`` for bad options.

    >>> script = pytorch_script("sin(A @ x)", {"A": "rand(2, 3)", "x": "ones(3)"}, seed=1)
    >>> "A = torch.rand((2, 3), generator=generator, dtype=dtype).requires_grad_()" in script
    True
    """
    if isinstance(program, str):
        program = parse(program)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    whole_number(seed, "seed", least=0)
    if device not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, not {device!r}")
    missing = [n for n in program.inputs if n not in inputs]
    if missing:
        raise ValueError(f"no input spec for {', '.join(missing)}")

    writer = _Writer(program, on_device=device != "cpu")
    names = writer.names
    where = "the best device" if device == "auto" else device
    lines = [f'"""The Autograd Explorer\'s f({", ".join(program.inputs)}) in plain PyTorch: '
             f'{dtype} on {where}, seed {seed}.', "",
             "Run it to print the outputs and gradients the explorer shows.", '"""',
             "# The function, as typed:", *("#     " + line for line in _source_lines(program.source)), "",
             "import torch"]
    if any(_uses(expr, _SPELLINGS, "F.") for expr in writer.all_exprs()):
        lines.append("import torch.nn.functional as F")
    lines += ["", f"dtype = torch.{dtype}"]
    if device == "auto":
        lines.append('device = torch.device("cuda" if torch.cuda.is_available() else '
                     '"mps" if torch.backends.mps.is_available() else "cpu")')
    elif device != "cpu":
        lines.append(f'device = torch.device("{device}")')
    specs = {name: parse_spec(inputs[name], name=name) for name in program.inputs}
    if any(_calls(p, ("rand", "randn")) for p in specs.values()):
        lines.append(f"generator = torch.Generator().manual_seed({seed})  # random inputs draw from it, in order")
    lines.append("")
    lines.append("# The inputs: leaf tensors that require grad (whole numbers, such as class indices, cannot).")
    for name in program.inputs:
        grad = "" if integer_spec(specs[name]) else ".requires_grad_()"
        lines.append(f"{names[name]} = {writer.spec(specs[name])}{writer.to_device()}{grad}")

    body = writer.assignments()
    outputs: list[str] = []
    for i, (expr, named) in enumerate(zip(program.outputs, _output_names(program))):
        if named:
            outputs.append(names[named])
        else:
            out = writer.fresh("f" if len(program.outputs) == 1 else f"f{i}")
            body.append(f"{out} = {writer.text(expr)}")
            outputs.append(out)
    helpers = [code for op, code in _HELPERS.items() if op in writer.helpers]
    if helpers:
        lines += ["", *helpers]
    lines += ["", *body, ""]

    vectors = _vector_specs(v, len(outputs))
    v_names = [writer.fresh("v" if len(outputs) == 1 else f"v{i}") for i in range(len(outputs))]
    if all(spec is None for spec in vectors):
        lines.append("# backward(v) needs v when the output is not a scalar: ones, as the seeds use.")
    else:
        lines.append("# The v of backward(v).")
    for out, v_name, spec in zip(outputs, v_names, vectors):
        if spec is None:
            lines.append(f"{v_name} = torch.ones_like({out})")
        else:
            v_spec = parse_spec(spec, name="v")
            cast = ".to(dtype)" if integer_spec(v_spec) else ""  # v is numbers of the output's dtype
            lines.append(f"{v_name} = {writer.spec(v_spec)}{cast}{writer.to_device()}.reshape({out}.shape)")
    if len(outputs) == 1:
        lines.append(f"{outputs[0]}.backward({v_names[0]})")
    else:
        # Indices (values, indices = torch.sort(x)) and other whole numbers have no gradient: backward leaves
        # them out, as the explorer does.
        pairs = writer.fresh("pairs")
        lines.append(f"{pairs} = [{', '.join(f'({o}, {w})' for o, w in zip(outputs, v_names))}]")
        lines.append(f"torch.autograd.backward([o for o, w in {pairs} if o.requires_grad], "
                     f"[w for o, w in {pairs} if o.requires_grad])")
    lines.append("")
    for out in outputs:
        lines.append(f'print("{out} =", {out}.detach())')
    for name in program.inputs:
        if not integer_spec(specs[name]):
            lines.append(f'print("{name}.grad =", {names[name]}.grad)')
    return "\n".join(lines) + "\n"


def _source_lines(source: str) -> list[str]:
    # The user's text lands in comments only, to be read, never run: one comment per line,
    # split as Python splits lines, so that nothing in it can end a comment.
    return [line.rstrip() for line in source.strip().splitlines() if line.strip()]


def _output_names(program: Program) -> Sequence[str]:
    return program.output_names or ("",) * len(program.outputs)


def _vector_specs(v: Any, count: int) -> list[Any]:
    if v is None:
        return [None] * count
    if count == 1:
        return [v]
    if not isinstance(v, (list, tuple)) or len(v) != count:
        raise ValueError(f"give one v for each of the {count} outputs")
    return list(v)


def _children(expr: Expr) -> list:
    if isinstance(expr, Call):
        return list(expr.args)
    if isinstance(expr, Index):
        return [expr.value]
    if isinstance(expr, Compare):
        return [expr.left, expr.right]
    if isinstance(expr, Seq):
        return list(expr.items)
    return []


def _walk(expr: Expr):
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))


def _calls(program: Program, ops: Sequence[str]) -> bool:
    return any(isinstance(node, Call) and node.op in ops
               for expr in program.outputs for node in _walk(expr))


def _uses(expr: Expr, spellings: Mapping[str, str], prefix: str) -> bool:
    return any(isinstance(node, Call) and spellings.get(node.op, "").startswith(prefix) for node in _walk(expr))


class _Writer:
    """Python text for expression trees, with the user's names made safe to assign in a script."""

    def __init__(self, program: Program, on_device: bool):
        self.program = program
        self.on_device = on_device
        self.helpers: set[str] = set()
        self.in_spec = False
        self.taken: set[str] = set(_SCRIPT_NAMES)
        self.names: dict[str, str] = {}
        for name in (*program.inputs, *(n for n, _ in program.assignments)):
            # A variable called `print` or `dtype` is fine in the explorer, not in a script; the graph's
            # h#2 (h bound again) is h_2.
            self.names[name] = self.fresh(script_name(name))

    def fresh(self, name: str) -> str:
        candidate = name
        while candidate in self.taken or keyword.iskeyword(candidate) or candidate in _BUILTINS:
            candidate += "_"
        self.taken.add(candidate)
        return candidate

    def all_exprs(self) -> list:
        return [e for _, e in self.program.assignments] + list(self.program.outputs)

    def to_device(self) -> str:
        return ".to(device)" if self.on_device else ""

    def tensor(self, value_text: str) -> str:
        where = ", device=device" if self.on_device else ""
        return f"torch.tensor({value_text}, dtype=dtype{where})"

    def text(self, expr: Expr) -> str:
        return self.emit(expr)[0]

    def assignments(self) -> list[str]:
        """The lines of the named results; ``values, indices = torch.sort(x)`` unpacked as it was typed."""
        lines, bound = [], self.program.assignments
        i = 0
        while i < len(bound):
            (name, expr), after = bound[i], bound[i + 1] if i + 1 < len(bound) else None
            if after is not None and _unpacked(expr, after[1]):
                names = [self.names[name], self.names[after[0]]]
                line = f"{', '.join(names)} = {self.text(expr.args[0])}"
                labels = [name, after[0]]
                lines.append(line if names == labels else f"{line}  # {', '.join(labels)} in the explorer's graph")
                i += 2
                continue
            lines.append(self.assignment(name, expr))
            i += 1
        return lines

    def assignment(self, name: str, expr: Expr) -> str:
        """``w = ...``, with the graph's label beside it where the script's name differs (``h_2 = h + 1  # h#2``)."""
        line = f"{self.names[name]} = {self.text(expr)}"
        return line if self.names[name] == name else f"{line}  # {name} in the explorer's graph"

    # -- input specs -------------------------------------------------------

    def spec(self, program: Program) -> str:
        """An input spec's value: a literal vector for numbers and lists, else the constructor calls."""
        (expr,) = program.outputs
        if isinstance(expr, Num):  # a plain number is a one-element vector, like torch.tensor([4.])
            return f"torch.tensor([{self.number_text(expr, as_float=True)}], dtype=dtype)"
        if isinstance(expr, Seq) and all(isinstance(item, Num) for item in items_of(expr)):
            return f"torch.tensor({self.literal_list(expr)}, dtype=dtype)"
        text = self.text_of_spec(expr)
        if isinstance(expr, Call) and expr.op in CONSTRUCTOR_NAMES:
            return text
        # Arithmetic on constructors: keep the dtype, and a vector at least, as the explorer does.
        return f"torch.atleast_1d({text}).to(dtype)"

    def literal_list(self, expr: Expr) -> str:
        if isinstance(expr, Seq):
            return "[" + ", ".join(self.literal_list(item) for item in expr.items) + "]"
        return self.number_text(expr, as_float=True)

    def text_of_spec(self, expr: Expr) -> str:
        self.in_spec = True  # constructor names (rand, ones, ...) are calls only inside a spec
        try:
            return self.emit(expr)[0]
        finally:
            self.in_spec = False

    def constructor(self, node: Call) -> str:
        args = [self.emit(a)[0] for a in node.args]
        rng = "generator=generator, " if node.op in ("rand", "randn") else ""
        if node.op in ("rand", "randn", "ones", "zeros"):
            if len(node.args) == 1 and isinstance(node.args[0], Seq):
                args = [self.literal_list(item) for item in node.args[0].items]
            size = f"({args[0]},)" if len(args) == 1 else f"({', '.join(args)})"
            return f"torch.{node.op}({size}, {rng}dtype=dtype)"
        if node.op == "linspace":
            start, end = (self.number_text(a, as_float=True) for a in node.args[:2])
            steps = args[2] if len(args) > 2 else "100"
            return f"torch.linspace({start}, {end}, {steps}, dtype=dtype)"
        if node.op == "full":
            size = (self.literal_list(node.args[0]) if isinstance(node.args[0], Seq) else f"({args[0]},)")
            return f"torch.full({size}, {self.number_text(node.args[1], as_float=True)}, dtype=dtype)"
        if node.op == "tensor":
            return f"torch.tensor({args[0]}{'' if _whole(node) else ', dtype=dtype'})"
        return f"torch.{node.op}({', '.join(args)}, dtype=dtype)"  # eye, arange

    def number_text(self, expr: Expr, as_float: bool = False) -> str:
        if isinstance(expr, Num) and as_float and not isinstance(expr.value, bool):
            return self.number(Num(float(expr.value)))[0]
        return self.emit(expr)[0]

    # -- expressions -------------------------------------------------------

    def number(self, node: Num) -> tuple[str, int]:
        if node.name in ("pi", "e", "inf"):
            return f"torch.{node.name}", _ATOM
        value = node.value
        if isinstance(value, float) and not math.isfinite(value):
            text = "torch.inf" if value > 0 else "-torch.inf"
        else:
            text = repr(value)
        return text, (_UNARY if text.startswith("-") else _ATOM)

    def emit(self, node: Expr) -> tuple[str, int]:
        """The text of ``node`` and how tightly it binds."""
        if isinstance(node, Num):
            return self.number(node)
        if isinstance(node, Name):
            return self.names.get(node.id, node.id), _ATOM
        if isinstance(node, Seq):
            return "[" + ", ".join(self.emit(item)[0] for item in node.items) + "]", _ATOM
        if isinstance(node, Index):
            return f"{self.wrap(node.value, _ATOM)}[{_index_text(node.index)}]", _ATOM
        if isinstance(node, Compare):
            return f"{self.wrap(node.left, _SUM)} {node.op} {self.wrap(node.right, _SUM)}", _COMPARE
        if node.op == "neg":
            return "-" + self.wrap(node.args[0], _UNARY), _UNARY
        if node.op in _BINARY and len(node.args) == 2:  # not torch.pow(x, exponent=2)
            symbol, strength = _BINARY[node.op]
            left, right = node.args
            if node.op == "pow":  # right-associative, and -x**2 is -(x**2)
                return f"{self.wrap(left, _ATOM)}**{self.wrap(right, _UNARY)}", _POWER
            return f"{self.wrap(left, strength)} {symbol} {self.wrap(right, strength + 1)}", strength
        if self.in_spec and node.op in CONSTRUCTOR_NAMES:
            return self.constructor(node), _ATOM
        return self.call(node), _ATOM

    def wrap(self, node: Expr, strength: int) -> str:
        text, own = self.emit(node)
        return text if own >= strength else f"({text})"

    def call(self, node: Call) -> str:
        function = FUNCTIONS[node.op]
        if node.op in ("values", "indices", "mT"):  # .values of a (values, indices) pair; x.mT
            return f"{self.wrap(node.args[0], _ATOM)}.{node.op}"
        if function.creates:
            return self.constant(node)
        args = []
        for i, arg in enumerate(node.args):
            text = self.emit(arg)[0]
            if i < function.tensor_args and isinstance(arg, Num):
                text = self.tensor(text)  # sin(2): a number where a tensor is needed, as the explorer does
            args.append(text)
        kwargs = dict(node.kwargs)
        keywords = [f"{k}={v!r}" for k, v in node.kwargs]
        if node.op == "layer_norm" and isinstance(kwargs.get("normalized_shape"), int):
            # F.layer_norm(M, 4) is read as (4,); torch takes the tuple only
            keywords = [f"{k}={(v,) if k == 'normalized_shape' else v!r}" for k, v in node.kwargs]
        if node.op in ("softmax", "log_softmax") and len(args) == 1 and "dim" not in kwargs:
            keywords.append("dim=-1")
        elif node.op == "logsumexp" and len(args) == 1 and kwargs.get("dim") is None:
            self.helpers.add("logsumexp")
            keep = [f"keepdim={kwargs['keepdim']!r}"] if "keepdim" in kwargs else []
            return f"_logsumexp_all({', '.join(args + keep)})"
        elif node.op in ("max", "min") and len(args) == 2:
            if isinstance(node.args[1], Num):   # max(x, 0.5): torch.maximum takes tensors only
                args[1] = self.tensor(args[1])
            return f"torch.{node.op}imum({', '.join(args)})"
        elif node.op == "T":
            self.helpers.add("T")
            return f"_T({args[0]})"
        elif node.op in _METHODS:
            return f"{self.wrap(node.args[0], _ATOM)}.{node.op}({', '.join(args[1:] + keywords)})"
        elif node.op in _SIZED and not (len(args) == 2 and isinstance(node.args[1], Seq)):
            args = [args[0], f"({', '.join(args[1:])},)"]  # reshape(x, 2, 3) takes the sizes loose
        elif node.op == "layer_norm" and len(args) > 1 and isinstance(node.args[1], Num):
            args[1] = f"({args[1]},)"
        elif node.op == "cross" and len(args) == 3:
            args[2] = f"dim={args[2]}"  # torch.cross(a, b, 0); torch.linalg.cross takes the dim by keyword
        return f"{_SPELLINGS.get(node.op, 'torch.' + node.op)}({', '.join(args + keywords)})"

    def constant(self, node: Call) -> str:
        """A constant tensor of the text: floats in the script's dtype, whole numbers as torch makes them."""
        whole = node.op in ("tensor", "arange") and _whole(node)
        keywords = [f"{k}={v!r}" for k, v in node.kwargs]   # torch.linspace(3, 10, steps=5)
        extra = ([] if whole else ["dtype=dtype"]) + (["device=device"] if self.on_device else [])
        return f"torch.{node.op}({', '.join([self.emit(a)[0] for a in node.args] + keywords + extra)})"


def _whole(node: Call) -> bool:
    """Whether a constructor's numbers are all whole (torch then makes int64, not floats)."""
    numbers = [n.value for arg in node.args for n in items_of(arg) if isinstance(n, Num)]
    numbers += [v for _, v in node.kwargs]
    return bool(numbers) and all(isinstance(v, int) and not isinstance(v, bool) for v in numbers)


def _unpacked(first: Expr, second: Expr) -> bool:
    """Whether two named results are ``values, indices = ...`` of one call (the parser shares the call)."""
    return (isinstance(first, Call) and isinstance(second, Call) and first.op == "values"
            and second.op == "indices" and first.args[0] is second.args[0])


def _index_text(index: tuple) -> str:
    parts = []
    for item in index:
        if item is Ellipsis:
            parts.append("...")
        elif item is None:
            parts.append("None")
        elif isinstance(item, slice):
            text = f"{'' if item.start is None else item.start}:{'' if item.stop is None else item.stop}"
            parts.append(text + (f":{item.step}" if item.step is not None else ""))
        else:
            parts.append(str(item))
    return ", ".join(parts)


__all__ = ["pytorch_script"]
