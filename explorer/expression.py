"""The expression language: Python-style math, parsed safely and run by torch.

User text is parsed with :mod:`ast` and never executed. The parser walks the
syntax tree over a whitelist of node types and turns it into a small tree of
our own (:class:`Num`, :class:`Name`, :class:`Call`, :class:`Index`,
:class:`Compare`, :class:`Seq`) whose functions come from the one table in
:mod:`explorer.functions`. Before the real run, :func:`check` runs the same
tree on torch's ``meta`` device, which computes shapes without touching data,
and refuses work over the :class:`Limits`.

>>> from explorer.expression import parse, evaluate
>>> import torch
>>> program = parse("w1 = x; w2 = w1**3; w2 + 2*w1**2 + 8*w1")
>>> program.inputs
('x',)
>>> x = torch.tensor([4.0], requires_grad=True)
>>> evaluate(program, {"x": x}).outputs[0]
tensor([128.], grad_fn=<AddBackward0>)
"""
from __future__ import annotations

import ast
import functools
import math
import operator
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence, Union

import torch

from explorer.functions import (
    BOOL, CONSTANT_SPELLINGS, CONSTANTS, DIM, FUNCTIONS, MODULE_ROOTS, NUMBER, PROPERTIES, TENSOR, Function,
    resolve_function, resolve_method,
)


class ExpressionError(ValueError):
    """Every refusal of user input: a message a student understands.

    ``line`` and ``column`` (1-based) say where, when the problem has a place.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __reduce__(self):
        return (type(self), (self.message, self.line, self.column))


def refusing_blowups(fn: Callable) -> Callable:
    """``fn``, with Python's own limits (memory, recursion, number size) turned into an ExpressionError.

    The limits refuse, before anything is built, what they can see; this is
    the net under them, at each entry point that takes user text.

    >>> refusing_blowups(lambda: [0] * 2**62)()
    Traceback (most recent call last):
    ...
    explorer.expression.ExpressionError: this needs more memory than the explorer allows
    """
    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (MemoryError, RecursionError, OverflowError) as err:
            raise blowup_refusal(err) from None
    return guarded


def blowup_refusal(err: BaseException) -> ExpressionError | None:
    """The refusal that one of Python's own limits stands for (the one wording of each), or None for any
    other error.

    >>> blowup_refusal(RecursionError()).message
    'this is nested too deeply to handle'
    >>> blowup_refusal(KeyError("x")) is None
    True
    """
    if isinstance(err, MemoryError):
        return ExpressionError("this needs more memory than the explorer allows")
    if isinstance(err, RecursionError):
        return ExpressionError("this is nested too deeply to handle")
    if isinstance(err, OverflowError):
        return ExpressionError("a number here is too large to handle")
    return None


@dataclass(frozen=True)
class Limits:
    """Bounds on the size of the text and on the work it may ask for.

    The defaults keep one evaluation well under a second of CPU and a few
    hundred MB on a small server; ``timeout`` is the hard wall-clock limit of
    an isolated run (:mod:`explorer.sandbox`).
    """

    max_chars: int = 4000
    max_statements: int = 64
    max_syntax_nodes: int = 1500
    max_depth: int = 60
    max_inputs: int = 16
    max_list_items: int = 1000           # items of one literal list, counted before it is built
    max_number: float = 1e300
    max_elements: int = 4_000_000        # one tensor (16 MB in float32)
    max_total_elements: int = 40_000_000  # all results of one run (autograd keeps many)
    max_work: int = 2_000_000_000        # multiply-adds and elementwise operations
    timeout: float = 10.0


DEFAULT_LIMITS = Limits()


# ---------------------------------------------------------------------------
# The tree the parser produces.

@dataclass(frozen=True)
class SyntaxNode:
    """What every node of the tree holds: where it stands in the text, and that text (for messages)."""

    line: int = field(default=0, compare=False, kw_only=True)
    column: int = field(default=0, compare=False, kw_only=True)
    text: str = field(default="", compare=False, kw_only=True)


@dataclass(frozen=True)
class Num(SyntaxNode):
    """A number: a literal, a constant (``pi``), or a folded constant expression (``2*pi``)."""
    value: Union[int, float, bool]
    name: str = ""  # "pi", "e" or "inf" when it is a named constant


@dataclass(frozen=True)
class Name(SyntaxNode):
    """An input variable or a named intermediate result."""
    id: str


@dataclass(frozen=True)
class Call(SyntaxNode):
    """A call of a function of the table, with its canonical name."""
    op: str
    args: tuple
    kwargs: tuple = ()  # ((name, literal value), ...)


@dataclass(frozen=True)
class Index(SyntaxNode):
    """``value[index]`` with literal integers, slices, ``...`` and ``None``."""
    value: SyntaxNode
    index: tuple  # items: int, slice(int|None, int|None, int|None), Ellipsis, None


@dataclass(frozen=True)
class Compare(SyntaxNode):
    """``left op right`` for one of ``< <= > >= == !=`` (for ``where``)."""
    op: str
    left: SyntaxNode
    right: SyntaxNode


@dataclass(frozen=True)
class Seq(SyntaxNode):
    """A list or tuple of expressions given to ``stack`` / ``cat``."""
    items: tuple


Expr = Union[Num, Name, Call, Index, Compare, Seq]

BINARY_OPS: dict[type, tuple[str, str]] = {
    ast.Add: ("add", "+"), ast.Sub: ("sub", "-"), ast.Mult: ("mul", "*"),
    ast.Div: ("div", "/"), ast.Pow: ("pow", "**"), ast.MatMult: ("matmul", "@"),
}
COMPARE_OPS: dict[type, str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}
# The operators as torch computes them; `pow` and `matmul` come from the table.
OPERATORS: dict[str, Callable] = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "neg": operator.neg, "pow": operator.pow, "matmul": operator.matmul,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class Program:
    """A parsed, validated function: named intermediates, then one or more outputs."""

    source: str
    inputs: tuple[str, ...]
    assignments: tuple[tuple[str, Expr], ...]
    outputs: tuple[Expr, ...]
    output_names: tuple[str, ...] = ()  # the user's name of each output, "" when unnamed
    notes: tuple[str, ...] = ()  # what the reader should know of how the text was read ("`t` is an input here")

    def as_function(self) -> Callable[..., tuple[torch.Tensor, ...]]:
        """A plain function of the inputs (in ``self.inputs`` order) returning the outputs.

        >>> f = parse("sin(x) * y").as_function()
        >>> f(torch.tensor(0.0), torch.tensor(2.0))
        (tensor(0.),)
        """
        def function(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            if len(tensors) != len(self.inputs):
                raise TypeError(f"expected {len(self.inputs)} tensors ({', '.join(self.inputs)})")
            return tuple(evaluate(self, dict(zip(self.inputs, tensors))).outputs)
        return function


def version_label(name: str, version: int) -> str:
    """The label of the ``version``-th binding of ``name`` (``h = ...``, then ``h = h + 1``): ``h``, ``h#2``...

    An input is its own first version: after ``x = x * 2``, ``x`` is the input and ``x#2`` the product.

    >>> version_label("h", 1), version_label("h", 2)
    ('h', 'h#2')
    """
    return name if version == 1 else f"{name}#{version}"


def script_name(label: str) -> str:
    """A label as a name in Python code (the PyTorch code tab, the lessons): ``h#2`` -> ``h_2``.

    >>> script_name("h#2"), script_name("w1")
    ('h_2', 'w1')
    """
    return label.replace("#", "_")


def plain_name(label: str) -> str:
    """The name as typed, without its version.

    >>> plain_name("h#2"), plain_name("w1")
    ('h', 'w1')
    """
    return label.partition("#")[0]


def items_of(expr: Expr) -> list[Expr]:
    """What a (nested) list is made of, or the expression itself: the numbers of ``torch.tensor([[1, 2], [3]])``.

    >>> [n.value for n in items_of(parse("torch.tensor([[1, 2], [3]])").outputs[0].args[0])]
    [1, 2, 3]
    """
    found, stack = [], [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, Seq):
            stack.extend(reversed(item.items))
        else:
            found.append(item)
    return found


# `.values` and `.indices` of a result that has both (torch.max(x, dim=0).values).
PICKS = ("values", "indices")


# `_` in `_, indices = torch.max(a, 1)`: the result not kept.
DISCARD = "_"


def _gives_pair(function: Function, args: Sequence, kwargs: Mapping) -> bool:
    """Whether this call of ``function`` gives torch's (values, indices) pair."""
    if function.pair == "always":
        return True
    if function.pair != "dim":
        return False
    if kwargs.get("dim") is not None:
        return True
    # max(a, b) is the elementwise maximum: the parser made max(a, 1)'s dim a keyword.
    return not function.other and "dim" in function.params and len(args) > function.params.index("dim")


# ---------------------------------------------------------------------------
# Parsing.

# One ast.parse at a time in the process: CPython 3.11 keeps the AST constructor's recursion depth per
# interpreter, not per thread, and two parses in two threads (two visitors' scripts on the server) can fail
# with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905), an error page for a
# visitor. Seen under bench/load.py --ramp; a parse of at most max_chars characters takes well under 1 ms.
_AST_LOCK = threading.Lock()


@refusing_blowups
def parse(source: str, *, limits: Limits = DEFAULT_LIMITS,
          constructors: Mapping[str, object] | None = None) -> Program:
    """Parse and validate ``source`` into a :class:`Program`; refuse anything else.

    ``constructors`` (name -> anything) adds call names that are allowed as-is,
    for input specs such as ``rand(10, 2)``; the program then may not have free
    names. Every refusal is an :class:`ExpressionError`.

    >>> second = parse("(log(x[0]*x[1]), sin(x[1]))").outputs[1]
    >>> second.op, second.text, second.args[0].index
    ('sin', 'sin(x[1])', (1,))
    >>> parse("x.__class__")
    Traceback (most recent call last):
    ...
    explorer.expression.ExpressionError: names starting with '_' are not allowed: '__class__' (line 1, column 3)
    """
    if not isinstance(source, str):
        raise ExpressionError(f"the function must be text, not {type(source).__name__}")
    if len(source) > limits.max_chars:
        raise ExpressionError(f"the text is too long: {len(source)} characters (at most {limits.max_chars})")
    _refuse_unusual_characters(source)
    if not source.strip():
        raise ExpressionError("the function is empty: type an expression such as x**2")
    try:
        with _AST_LOCK:
            tree = ast.parse(source, mode="exec")
    except SyntaxError as err:
        raise _syntax_error(err) from None
    except (ValueError, RecursionError, MemoryError, OverflowError):
        raise ExpressionError("the expression is too deeply nested or too large to parse") from None
    _check_size(tree, limits)
    return _Parser(source, limits, constructors or {}).program(tree)


def _refuse_unusual_characters(source: str) -> None:
    for offset, char in enumerate(source):
        if char.isascii() and (char.isprintable() or char in "\n\t\r"):
            continue
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        name = unicodedata.name(char, f"U+{ord(char):04X}")
        hint = ""
        if char in "\u00b2\u00b3":
            hint = f"; write x**{'2' if char == chr(0xb2) else '3'} for a power"
        elif char in "\u00d7\u22c5\u00b7":
            hint = "; write * for a product"
        elif char in "\u2212\u2013":
            hint = "; write - for a minus sign"
        raise ExpressionError(
            f"only plain ASCII characters are allowed: {char!r} ({name}) is not{hint}", line, column)


def _syntax_error(err: SyntaxError) -> ExpressionError:
    line, column = err.lineno or 1, err.offset or 1
    message = (err.msg or "invalid syntax").replace("invalid syntax. ", "")
    # Python's hints mention statements the language does not have; keep the gist.
    if message.startswith("invalid syntax. Perhaps"):
        message = "invalid syntax"
    return ExpressionError(f"syntax error at line {line}, column {column}: {message}", line, column)


def _check_size(tree: ast.AST, limits: Limits) -> None:
    # Iterative, so that a deep tree is measured before anything recurses into it.
    count, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > limits.max_depth:
            raise ExpressionError(
                f"the expression is nested too deeply (more than {limits.max_depth} levels)",
                *_position(node))
        if count > limits.max_syntax_nodes:
            raise ExpressionError(
                f"the expression is too large (more than {limits.max_syntax_nodes} syntax elements)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _position(node: ast.AST) -> tuple[int | None, int | None]:
    """(line, column), 1-based, of a node that has a place in the text."""
    if isinstance(node, (ast.expr, ast.stmt, ast.keyword)):
        return node.lineno, node.col_offset + 1
    return None, None


_FORBIDDEN = {
    ast.Lambda: "lambda functions are not allowed",
    ast.Import: "import is not allowed", ast.ImportFrom: "import is not allowed",
    ast.JoinedStr: "f-strings are not allowed", ast.FormattedValue: "f-strings are not allowed",
    ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed", ast.GeneratorExp: "comprehensions are not allowed",
    ast.Dict: "dictionaries are not allowed", ast.Set: "sets are not allowed",
    ast.Starred: "* unpacking is not allowed", ast.NamedExpr: "the := operator is not allowed",
    ast.IfExp: "if ... else expressions are not allowed: use where(condition, a, b)",
    ast.BoolOp: "and / or are not allowed: use where(condition, a, b)",
    ast.Await: "await is not allowed", ast.Yield: "yield is not allowed", ast.YieldFrom: "yield is not allowed",
    ast.FunctionDef: "defining functions is not allowed", ast.AsyncFunctionDef: "defining functions is not allowed",
    ast.ClassDef: "defining classes is not allowed",
    ast.For: "loops are not allowed", ast.AsyncFor: "loops are not allowed", ast.While: "loops are not allowed",
    ast.If: "if statements are not allowed: use where(condition, a, b)",
    ast.With: "with is not allowed", ast.AsyncWith: "with is not allowed",
    ast.Try: "try is not allowed", ast.Raise: "raise is not allowed", ast.Assert: "assert is not allowed",
    ast.Delete: "del is not allowed", ast.Global: "global is not allowed", ast.Nonlocal: "nonlocal is not allowed",
    ast.AnnAssign: "annotations are not allowed", ast.Return: "return is not allowed: the last line is the output",
    ast.Pass: "pass is not allowed", ast.Break: "break is not allowed", ast.Continue: "continue is not allowed",
}


def _sequence(node: ast.AST) -> bool:
    """A literal list or tuple, or one repeated (``[0.0] * 3``)."""
    return isinstance(node, (ast.List, ast.Tuple)) or _repeats(node)


def _repeats(node: ast.AST) -> bool:
    """``[0.0] * 3``, ``3 * [0.0]``, ``[0.0] * 3 * 2``: a product of one sequence and something else."""
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
            and _sequence(node.left) != _sequence(node.right))


class _Parser:
    """Turns a whitelisted :mod:`ast` tree into the expression tree, refusing everything else.

    A name may be bound again (``h = h + 1``, ``c += 1``): each binding is a
    version of its own, ``h`` then ``h#2`` (:func:`version_label`), so later
    lines read the newest and the graph's labels tell them apart.
    """

    def __init__(self, source: str, limits: Limits, constructors: Mapping[str, object]):
        self.source = source
        self.limits = limits
        self.constructors = constructors
        self.inputs: list[str] = []
        self.bound: dict[str, str] = {}     # a name as typed -> the label of its newest version
        self.versions: dict[str, int] = {}
        self.notes: list[str] = []

    def fail(self, message: str, node: ast.AST | None = None) -> ExpressionError:
        line, column = _position(node) if node is not None else (None, None)
        if line is None:
            return ExpressionError(message)
        if isinstance(node, ast.Attribute) and node.end_lineno == node.lineno:
            column = node.end_col_offset - len(node.attr) + 1  # point at the attribute, not the object
        return ExpressionError(f"{message} (line {line}, column {column})", line, column)

    def program(self, tree: ast.Module) -> Program:
        body = tree.body
        if not body:
            raise self.fail("the function is empty (only comments): type an expression such as x**2")
        if len(body) > self.limits.max_statements:
            raise self.fail(f"too many lines: {len(body)} (at most {self.limits.max_statements})")
        assignments: list[tuple[str, Expr]] = []
        for statement in body[:-1]:
            assignments += self.assignment(statement)
        last = body[-1]
        output_names: tuple[str, ...]
        if isinstance(last, (ast.Assign, ast.AugAssign)):
            bound = self.assignment(last)   # `values, indices = torch.sort(x)` last: both are outputs
            if not bound:
                raise self.fail("the last line keeps no result: name one, e.g. values, indices = torch.sort(x)", last)
            assignments += bound
            where = {"line": last.lineno, "column": last.col_offset + 1}
            outputs = tuple(Name(name, text=plain_name(name), **where) for name, _ in bound)
            output_names = tuple(name for name, _ in bound)
        elif isinstance(last, ast.Expr):
            if self.constructors and isinstance(last.value, ast.List):  # an input value written out: [0.5, 0.75]
                outputs = (self.data(last.value),)
            elif isinstance(last.value, ast.Tuple):
                if not last.value.elts:
                    raise self.fail("the output tuple is empty", last)
                outputs = tuple(self.expr(e) for e in last.value.elts)
            else:
                outputs = (self.expr(last.value),)
            output_names = tuple(o.id if isinstance(o, Name) else "" for o in outputs)
        else:
            raise self.refusal(last)
        if self.constructors and self.inputs:
            raise self.fail(f"an input value cannot use other variables: {', '.join(self.inputs)}")
        return Program(self.source, tuple(self.inputs), tuple(assignments), outputs, output_names,
                       tuple(dict.fromkeys(self.notes)))

    def assignment(self, statement: ast.stmt) -> list[tuple[str, Expr]]:
        """The bindings of one line: one (``w = ...``, ``c += 1``), or one per name unpacked (``v, i = ...``)."""
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Tuple):
            return self.unpacking(statement.targets[0], statement.value, statement)
        return [self.binding(statement)]

    def unpacking(self, target: ast.Tuple, value: ast.AST, statement: ast.stmt) -> list[tuple[str, Expr]]:
        """``values, indices = torch.sort(x)`` picks both from one call; ``a, b = x, y`` binds each.

        The right side is read before any name is bound, as Python does (``a, b = b, a`` swaps).
        """
        names = []
        for element in target.elts:
            if not isinstance(element, ast.Name):
                raise self.fail("unpack into plain names, e.g. values, indices = torch.sort(x)", element)
            names.append(element)
        listed = ", ".join(n.id for n in names)
        if isinstance(value, ast.Tuple):
            if len(value.elts) != len(names):
                raise self.fail(f"{len(names)} names ({listed}) for {len(value.elts)} values", statement)
            values = [self.expr(e) for e in value.elts]
        elif isinstance(value, ast.Call):
            where = self.where(value)
            call = self.call(value, where, pick=("unpack", where))
            if len(names) != 2:
                raise self.fail(f"{where['text']} gives two results, values and indices: "
                                f"unpack them into two names, not {len(names)} ({listed})", statement)
            values = [Call(pick, (call,), line=where["line"], column=where["column"],
                           text=f"{where['text']}.{pick}") for pick in PICKS]
        else:
            raise self.fail("unpack a result with values and indices (values, indices = torch.sort(x)) "
                            "or a tuple (a, b = x, y)", statement)
        bound = []
        for element, expr in zip(names, values):
            if element.id != DISCARD:
                bound.append((self.bind(element.id, element), expr))
        return bound

    def bind(self, name: str, node: ast.AST) -> str:
        """A new version of ``name`` (``h``, then ``h#2``): its label."""
        name = self.check_name(name, node)
        self.versions[name] = self.versions.get(name, 0) + 1
        self.bound[name] = version_label(name, self.versions[name])
        return self.bound[name]

    def binding(self, statement: ast.stmt) -> tuple[str, Expr]:
        if isinstance(statement, ast.AugAssign):
            target, kind = statement.target, BINARY_OPS.get(type(statement.op))
            if not isinstance(target, ast.Name):
                raise self.fail("assign to one plain name, e.g. w += 1", statement)
            if kind is None:
                raise self.fail(f"the operator {ast.dump(statement.op)[:-2]}= is not allowed: use += -= *= /= **= @=",
                                statement)
            # c += v is c = c + v: a new version of c, as the explorer reads every binding (no in-place change).
            where = {"line": statement.lineno, "column": statement.col_offset + 1,
                     "text": ast.get_source_segment(self.source, statement) or ""}
            current = self.expr(ast.copy_location(ast.Name(target.id, ast.Load()), target))
            value = self.fold(Call(kind[0], (current, self.expr(statement.value)), **where), statement)
        elif isinstance(statement, ast.Assign):
            if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
                raise self.fail("assign to one plain name, e.g. w1 = x**2", statement)
            target = statement.targets[0]
            value = self.expr(statement.value)
        elif isinstance(statement, ast.Expr):
            raise self.fail("only the last line may be a bare expression; name the others, e.g. w1 = x**2", statement)
        else:
            raise self.refusal(statement)
        return self.bind(target.id, target), value

    def check_name(self, name: str, node: ast.AST) -> str:
        if name.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed: {name!r}", node)
        if name in MODULE_ROOTS or resolve_function(name) or name in self.constructors:
            raise self.fail(f"{name!r} is a function name; choose another variable name", node)
        return name

    def refusal(self, node: ast.AST) -> ExpressionError:
        for kind, message in _FORBIDDEN.items():
            if isinstance(node, kind):
                return self.fail(message, node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return self.fail("text strings are not allowed here", node)
            if isinstance(node.value, complex):
                return self.fail("complex numbers are not allowed", node)
            return self.fail(f"{node.value!r} is not allowed here", node)
        if isinstance(node, (ast.List, ast.Tuple)):
            # Python would join the list to something: only functions that take a sequence get one.
            return self.fail("a list or tuple can only be given to a function that takes one (torch.tensor, stack, "
                             "cat, a shape): for a constant tensor write torch.tensor([1.0, 2.0, 3.0])", node)
        return self.fail(f"{type(node).__name__} is not allowed: use numbers, variables, "
                         "operators + - * / ** @ and the listed functions", node)

    def where(self, node: ast.AST) -> dict:
        line, column = _position(node)
        return {"line": line or 0, "column": column or 0, "text": ast.get_source_segment(self.source, node) or ""}

    def expr(self, node: ast.AST) -> Expr:
        where = self.where(node)
        if isinstance(node, ast.Constant):
            return Num(self.number(node), **where)
        if isinstance(node, ast.Name):
            return self.name(node, where)
        if isinstance(node, ast.BinOp):
            kind = BINARY_OPS.get(type(node.op))
            if kind is None:
                raise self.fail(f"the operator {ast.dump(node.op)[:-2]} is not allowed: use + - * / ** @", node)
            if self.repetition(node) is not None:   # [0.0] * 3 outside a function that takes a list
                raise self.refusal(ast.List(elts=[], lineno=node.lineno, col_offset=node.col_offset))
            left, right = self.expr(node.left), self.expr(node.right)
            return self.fold(Call(kind[0], (left, right), **where), node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand)
            if not isinstance(node.op, ast.USub):
                raise self.fail("only unary minus is allowed (not ~ or not)", node)
            return self.fold(Call("neg", (self.expr(node.operand),), **where), node)
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.fail("chained comparisons are not allowed: compare two things at a time", node)
            op = COMPARE_OPS.get(type(node.ops[0]))
            if op is None:
                raise self.fail("only < <= > >= == != comparisons are allowed", node)
            return Compare(op, self.expr(node.left), self.expr(node.comparators[0]), **where)
        if isinstance(node, ast.Call):
            return self.call(node, where)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, where)
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Call):
                return self.subscript_of_call(node, where)
            return Index(self.expr(node.value), self.index(node.slice), **where)
        raise self.refusal(node)

    def subscript_of_call(self, node: ast.Subscript, where: dict) -> Expr:
        """``f(x)[...]``; of a result with values and indices, as torch's named tuple: ``torch.max(M, 1)[0]``
        is the values, ``[1]`` the indices."""
        inner_where = self.where(node.value)
        call = self.call(node.value, inner_where, pick=("any", inner_where))
        index = self.index(node.slice)
        function = FUNCTIONS.get(call.op)
        if call.op in PICKS or function is None or not _gives_pair(function, call.args, dict(call.kwargs)):
            return Index(call, index, **where)
        if len(index) == 1 and index[0] in (0, 1, -2, -1):
            return Call(PICKS[index[0] % 2], (call,), **where)
        text = inner_where["text"]
        raise self.fail(f"{text} gives two results, values and indices: [0] is the values and [1] the indices; "
                        f"to index the values, write {text}.values[...]", node)

    def argument(self, node: ast.AST) -> Expr:
        """A positional argument of a call: an expression, or a list or tuple of them (``stack([a, b])``)."""
        repeated = self.repetition(node)
        if repeated is not None:
            return repeated
        if not isinstance(node, (ast.List, ast.Tuple)):
            return self.expr(node)
        if len(node.elts) > self.limits.max_list_items:
            raise self.fail(f"the list is too long: {len(node.elts):,} items (at most {self.limits.max_list_items:,})",
                            node)
        return Seq(tuple(self.argument(e) for e in node.elts), **self.where(node))

    def repetition(self, node: ast.AST) -> Seq | None:
        """``[0.5] * 3`` (or ``3 * [0.5]``): a literal list repeated a literal number of times, as Python
        repeats it, its numbers counted before anything is built; None for anything else."""
        if not _repeats(node):
            return None
        sequence = node.left if _sequence(node.left) else node.right
        times = self.expr(node.right if sequence is node.left else node.left)
        if not isinstance(times, Num) or isinstance(times.value, bool):
            return None   # x * [1., 2, 3] is not a repetition: the usual refusal says what to write
        if isinstance(times.value, float) and not times.value.is_integer():
            raise self.fail("a list is repeated a whole number of times, e.g. [0.0] * 3", node)
        items = self.argument(sequence)
        count = len(items_of(items)) * max(int(times.value), 0)
        if count > self.limits.max_list_items:
            text = ast.get_source_segment(self.source, node) or "the repetition"
            raise self.fail(f"{text} repeats the list into {count:,} numbers (at most "
                            f"{self.limits.max_list_items:,}): for a large constant tensor write torch.ones(n) "
                            "or torch.zeros(n)", node)
        return Seq(items.items * max(int(times.value), 0), **self.where(node))

    def number(self, node: ast.Constant) -> int | float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.refusal(node)
        if isinstance(value, int) and abs(value) > 2**53:
            raise self.fail(f"the number {str(value)[:20]}... is too large (at most 2**53 for integers)", node)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("the number is too large", node)
        return value

    def name(self, node: ast.Name, where: dict) -> Expr:
        name = node.id
        if name in self.bound:  # the user's own, from the line that bound it on (even e or pi)
            return Name(self.bound[name], **where)
        if name in CONSTANTS:
            return Num(CONSTANTS[name], name, **where)
        if name.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed: {name!r}", node)
        if name in MODULE_ROOTS:
            raise self.fail(f"{name!r} is a module: call one of its functions, e.g. torch.sin(x)", node)
        if self.constructors and (resolve_function(name) or name in self.constructors):
            raise self.fail(f"{name!r} is a function: call it, e.g. {name}(x)", node)
        if len(self.inputs) >= self.limits.max_inputs:
            raise self.fail(f"too many input variables (at most {self.limits.max_inputs})", node)
        if resolve_function(name):
            # As in Python, a name used as a value is a variable, even where a function has that name
            # (the target t of a loss); t(x) still calls the function. The reader is told.
            self.notes.append(f"`{name}` is an input here, not the function `{name}()`")
        else:
            self.check_name(name, node)
        self.inputs.append(name)
        self.bound[name], self.versions[name] = name, 1
        return Name(name, **where)

    def dotted(self, node: ast.AST) -> str | None:
        """``torch.nn.functional.relu`` as text when the chain starts at a module root, else None."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in MODULE_ROOTS:
            return ".".join([node.id, *reversed(parts)])
        return None

    def attribute(self, node: ast.Attribute, where: dict) -> Expr:
        if node.attr.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed: {node.attr!r}", node)
        path = self.dotted(node)
        if path is not None:
            if path in CONSTANT_SPELLINGS:
                name = CONSTANT_SPELLINGS[path]
                return Num(CONSTANTS[name], name, **where)
            if resolve_function(path):
                raise self.fail(f"{path} is a function: call it, e.g. {path}(x)", node)
            raise self.fail(f"{path} is not available: only the listed math functions of torch are", node)
        if node.attr in PICKS:
            if not isinstance(node.value, ast.Call):
                raise self.fail(f".{node.attr} picks from a result with values and indices, "
                                f"e.g. torch.max(x, dim=0).{node.attr}", node)
            return self.call(node.value, self.where(node.value), pick=(node.attr, where))
        if node.attr in PROPERTIES:
            return Call(PROPERTIES[node.attr], (self.expr(node.value),), **where)
        if resolve_method(node.attr):
            raise self.fail(f".{node.attr} is a method: call it, e.g. x.{node.attr}()", node)
        raise self.fail(f".{node.attr} is not available: only methods that mirror the listed functions are", node)

    def call(self, node: ast.Call, where: dict, pick: tuple[str, dict] | None = None) -> Expr:
        func = node.func
        receiver: list[Expr] = []
        if isinstance(func, ast.Name):
            spelling = func.id
            if spelling in self.constructors and pick is None:
                return Call(spelling, tuple(self.argument(a) for a in node.args),
                            tuple(self.keyword(k, None) for k in node.keywords), **where)
            function = resolve_function(spelling)
            if function is None or "" not in function.spaces and spelling not in function.aliases:
                if spelling.startswith("_"):
                    raise self.fail(f"names starting with '_' are not allowed: {spelling!r}", func)
                raise self.fail(f"unknown function {spelling!r}", func)
        elif isinstance(func, ast.Attribute):
            if func.attr.startswith("_"):
                raise self.fail(f"names starting with '_' are not allowed: {func.attr!r}", func)
            spelling = self.dotted(func)
            if spelling is not None:
                function = resolve_function(spelling)
                if function is None:
                    raise self.fail(f"{spelling} is not available: only the listed math functions of torch are",
                                    func)
            else:
                spelling = func.attr
                function = resolve_method(func.attr)
                if function is None:
                    raise self.fail(f".{func.attr}() is not an available method", func)
                receiver = [self.expr(func.value)]
        else:
            raise self.fail("only named functions can be called", node)
        if function.creates:
            args = tuple(self.data(a) for a in node.args)
            kwargs = tuple(self.keyword(k, function) for k in node.keywords)
        else:
            args, kwargs = self.arguments(function, spelling, receiver, node)
        self.check_count(function, spelling, args, kwargs, node)
        if function.allows is not None:
            given = {**{p: a.value for p, a in zip(function.params, args) if isinstance(a, Num)}, **dict(kwargs)}
            refused = function.allows(given)
            if refused:
                raise self.fail(f"{where['text']}: {refused}", node)
        call = Call(function.name, args, kwargs, **where)
        if not _gives_pair(function, args, dict(kwargs)):
            if pick is not None and pick[0] == "unpack":
                raise self.fail(f"{where['text']} gives one tensor: there is nothing to unpack", node)
            if pick is not None and pick[0] != "any":
                raise self.fail(f".{pick[0]} picks from a result with values and indices, such as "
                                f"torch.max(x, dim=0).{pick[0]}; {spelling}() gives one tensor", node)
            return call
        if pick is not None and pick[0] in ("unpack", "any"):
            return call
        if pick is not None:
            return Call(pick[0], (call,), **pick[1])
        if function.pair == "always":
            raise self.fail(f"{where['text']} gives values and indices: pick one, "
                            f"{where['text']}.values or {where['text']}.indices", node)
        return Call("values", (call,), **where)  # max(x, dim=0) alone is its values, as the explorer has it

    def arguments(self, function: Function, spelling: str, receiver: list[Expr],
                  node: ast.Call) -> tuple[tuple, tuple]:
        """A call's positional arguments and keywords, each read as the kind its parameter takes.

        A dimension given by position is a literal, as it is by keyword (``torch.sum(x, 1)``); True or
        False by position becomes its keyword (``torch.sort(x, 0, True)``); a tensor by keyword takes its
        place among the positional arguments (``F.linear(x, W, bias=b)``). For ``max`` and ``min`` a whole
        number in second place is a dimension (``torch.max(a, 1)``), anything else the other operand.
        """
        args, kwargs = list(receiver), []
        named = {k.arg for k in node.keywords}
        start = len(receiver)
        if start + len(node.args) > function.max_args:   # before reading what the extra ones would be
            self.check_number(function, spelling, start + len(node.args), node)
        if function.other and start + len(node.args) >= 2:
            value = [self.argument(a) for a in node.args[:2 - start]][-1]   # read in order: inputs keep theirs
            dim = isinstance(value, Num) and isinstance(value.value, int) and not isinstance(value.value, bool)
            if dim and isinstance(node.func, ast.Name):   # Python's max(x, 0) is not torch's: say so
                bigger, bound = ("larger", "min") if spelling == "max" else ("smaller", "max")
                self.notes.append(f"`{spelling}(…, {value.value})` takes the {spelling}imum along dimension "
                                  f"{value.value}, as torch.{spelling} does; for the {bigger} of each element and "
                                  f"{value.value}, write `{spelling}(x, {value.value}.0)` or "
                                  f"`torch.clamp(x, {bound}={value.value})`")
            if not dim:   # torch.max(a, b), max(x, 0.5): the elementwise maximum
                if start + len(node.args) > 2 or node.keywords:
                    raise self.fail(f"{spelling}(a, b) takes two tensors and nothing else", node)
                return tuple(args + [self.argument(a) for a in node.args]), ()
        keywords_from = None   # from here on, positional literals become keywords
        for position, arg in enumerate(node.args, start=start):
            param = function.params[position] if position < len(function.params) else None
            kind = function.kwargs.get(param) if param else None
            if keywords_from is None and param and (kind == BOOL or (function.other and position >= 1)):
                keywords_from = position
            if keywords_from is None or param is None:
                args.append(self.dimension(arg, spelling, position, param) if kind == DIM else self.argument(arg))
                continue
            if kind in (None, TENSOR, NUMBER) and not function.other:
                raise self.fail(f"{spelling}(): give {param} by keyword after True or False, e.g. {param}=...", arg)
            if param in named:
                raise self.fail(f"{spelling}() gets {param} twice: as argument {position + 1} and as {param}=", node)
            kwargs.append((param, self.literal(arg, kind)))
        tensors = sorted((k for k in node.keywords if function.kwargs.get(k.arg) == TENSOR),
                         key=lambda k: function.params.index(k.arg))
        for keyword in tensors:
            position = function.params.index(keyword.arg)
            if position < len(args):
                raise self.fail(f"{spelling}() gets {keyword.arg} twice: as argument {position + 1} and as "
                                f"{keyword.arg}=", node)
            if position > len(args):
                raise self.fail(f"{spelling}(): {keyword.arg}= needs the arguments before it "
                                f"({', '.join(function.params[len(args):position])})", keyword.value)
            args.append(self.expr(keyword.value))
        kwargs += [self.keyword(k, function) for k in node.keywords if function.kwargs.get(k.arg) != TENSOR]
        return tuple(args), tuple(kwargs)

    def dimension(self, node: ast.AST, spelling: str, position: int, param: str) -> Expr:
        """A dimension (or a size, ``k``) given by position: a whole number or a tuple of them, written out."""
        value = self.argument(node)
        items = value.items if isinstance(value, Seq) else (value,)
        if not all(isinstance(i, Num) and isinstance(i.value, int) and not isinstance(i.value, bool) for i in items):
            raise self.fail(f"argument {position + 1} of {spelling}() is {param}: a whole number written out, "
                            "such as 0 or -1 (or a tuple of them)", node)
        return value

    def check_count(self, function: Function, spelling: str, args: tuple, kwargs: tuple, node: ast.Call) -> None:
        """Positional arguments and the keywords that stand for them (``cumsum(M, dim=1)``) must fit."""
        names = [k for k, _ in kwargs]
        if len(set(names)) != len(names):
            raise self.fail("a keyword argument is given twice", node)
        for k in names:
            if k in function.params and function.params.index(k) < len(args):
                raise self.fail(f"{spelling}() gets {k} twice: as argument {function.params.index(k) + 1} "
                                f"and as {k}=", node)
        self.check_number(function, spelling, len(args) + sum(k in function.params for k in names), node)

    def check_number(self, function: Function, spelling: str, count: int, node: ast.Call) -> None:
        if not function.min_args <= count <= function.max_args:
            expected = (str(function.min_args) if function.min_args == function.max_args
                        else f"{function.min_args} to {function.max_args}")
            raise self.fail(f"{spelling}() takes {expected} argument{'s' if function.max_args > 1 else ''}, "
                            f"got {count}", node)

    def data(self, node: ast.AST) -> Expr:
        """An argument of a constructor: a number, or a list of them, written out (``torch.tensor([1.0, 2.0])``)."""
        value = self.argument(node)
        if not all(isinstance(item, Num) for item in items_of(value)):
            raise self.fail("a constant tensor is made of numbers written out, e.g. torch.tensor([1.0, 2.0]); "
                            "to build a tensor from others, use stack([a, b])", node)
        return value

    def keyword(self, keyword: ast.keyword, function: Function | None) -> tuple[str, object]:
        if keyword.arg is None:
            raise self.fail("** unpacking is not allowed", keyword.value)
        if function is None:  # a constructor: its own code checks names and values
            return keyword.arg, self.literal(keyword.value, NUMBER)
        kind = function.kwargs.get(keyword.arg)
        if kind is None:
            allowed = ", ".join(f"{k}=" for k in function.kwargs) or "none"
            raise self.fail(f"{function.name}() has no keyword argument {keyword.arg!r} (allowed: {allowed})",
                            keyword.value)
        return keyword.arg, self.literal(keyword.value, kind)

    def literal(self, node: ast.AST, kind: object) -> object:
        """A keyword argument's value: only literals of the kind the function takes."""
        if kind == BOOL:
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            raise self.fail("this argument takes True or False", node)
        if kind == DIM:
            if isinstance(node, ast.Constant) and node.value is None:
                return None
            if isinstance(node, ast.Tuple):
                return tuple(self.integer(e) for e in node.elts)
            return self.integer(node)
        if isinstance(kind, tuple):  # a choice of words
            if isinstance(node, ast.Constant) and node.value in kind:
                return node.value
            raise self.fail(f"this argument takes one of {', '.join(map(repr, kind))}", node)
        value = self.expr(node)
        if not isinstance(value, Num) or isinstance(value.value, bool):
            raise self.fail("this argument takes a number", node)
        return value.value

    def integer(self, node: ast.AST) -> int:
        value = self.expr(node)
        if not isinstance(value, Num) or not isinstance(value.value, int) or isinstance(value.value, bool):
            raise self.fail("an integer is needed here (a dimension or an index)", node)
        return value.value

    def index(self, node: ast.AST) -> tuple:
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        if len(items) > 8:
            raise self.fail("too many indices", node)
        out: list[object] = []
        for item in items:
            if isinstance(item, ast.Slice):
                parts = [None if p is None else self.integer(p) for p in (item.lower, item.upper, item.step)]
                if parts[2] is not None and parts[2] <= 0:
                    raise self.fail("a slice step must be a positive integer", item)
                out.append(slice(*parts))
            elif isinstance(item, ast.Constant) and item.value is Ellipsis:
                out.append(Ellipsis)
            elif isinstance(item, ast.Constant) and item.value is None:
                out.append(None)
            else:
                try:
                    out.append(self.integer(item))
                except ExpressionError:
                    raise self.fail("indices must be literal integers or slices, e.g. x[0], x[:, 1], x[0:2]",
                                    item) from None
        return tuple(out)

    def fold(self, call: Call, node: ast.AST) -> Expr:
        """Compute an operator on numbers now, as Python would, refusing absurd results (``9**9**9``)."""
        if not all(isinstance(a, Num) for a in call.args):
            return call
        values = [a.value for a in call.args]
        if call.op == "pow":
            base, exponent = values
            if base != 0 and abs(exponent) * math.log10(max(abs(base), 1e-300)) > math.log10(self.limits.max_number):
                raise self.fail(f"the number {call.text} is too large", node)
            if isinstance(exponent, int) and exponent < 0 and base == 0:
                raise self.fail(f"{call.text} divides by zero", node)
        try:
            value = OPERATORS[call.op](*values)
        except ZeroDivisionError:
            raise self.fail(f"{call.text} divides by zero", node) from None
        except (OverflowError, ValueError, TypeError):
            raise self.fail(f"{call.text} cannot be computed as a number", node) from None
        if isinstance(value, complex):
            raise self.fail(f"{call.text} is a complex number", node)
        if isinstance(value, float) and math.isnan(value):
            raise self.fail(f"{call.text} is not a number", node)
        if isinstance(value, (int, float)) and math.isfinite(value) and abs(value) > self.limits.max_number:
            raise self.fail(f"the number {call.text} is too large", node)
        if isinstance(value, int) and abs(value) > 2**53:
            value = float(value)
        return Num(value, line=call.line, column=call.column, text=call.text)


# ---------------------------------------------------------------------------
# Running.

@dataclass
class Evaluation:
    """What a run produced: the outputs, every named intermediate result (by its label: ``w1``, ``h#2``),
    and the constant tensors made by the text (``torch.ones(3)``, ``x.detach()``: by their text), which
    enter autograd's graph without a gradient."""

    outputs: list[torch.Tensor]
    names: dict[str, torch.Tensor]
    constants: dict[str, torch.Tensor] = field(default_factory=dict)


@refusing_blowups
def evaluate(program: Program, tensors: Mapping[str, torch.Tensor],
             call: Callable[[Function, Sequence, dict, Call], object] | None = None,
             functions: Mapping[str, Function] | None = None, dtype: torch.dtype | None = None) -> Evaluation:
    """Run ``program`` on ``tensors`` (one per input name) with torch.

    ``call`` replaces how a table function is applied (the dry run uses it to
    count work); ``functions`` adds functions beyond the table (the
    constructors of input specs); ``dtype`` is that of tensors made from
    numbers when no input tensor decides it. Errors from torch (shapes that don't fit, an index out of
    range) become an :class:`ExpressionError` naming the part of the text.
    """
    missing = [n for n in program.inputs if n not in tensors]
    if missing:
        raise ExpressionError(f"no value given for {', '.join(missing)}")
    device = next((t.device for t in tensors.values() if isinstance(t, torch.Tensor)), torch.device("cpu"))
    runner = _Runner(dict(tensors), call or _apply, functions or {}, dtype, device)
    names: dict[str, torch.Tensor] = {}
    for name, expr in program.assignments:
        names[name] = runner.env[name] = runner.run(expr)
    outputs = [runner.output(expr) for expr in program.outputs]
    return Evaluation(outputs, names, runner.constants)


def _apply(function: Function, args: Sequence, kwargs: dict, node: Call) -> object:
    return function.fn(*args, **kwargs)


class _Runner:
    def __init__(self, env: dict, call: Callable, functions: Mapping[str, Function],
                 dtype: torch.dtype | None, device: torch.device | str):
        self.env = env
        self.call = call
        self.functions = functions
        ref = next((t for t in env.values() if isinstance(t, torch.Tensor) and t.is_floating_point()), None)
        self.dtype = ref.dtype if ref is not None else (dtype or torch.float32)
        self.device = device
        self.constants: dict[str, torch.Tensor] = {}
        self.pairs: dict[int, object] = {}   # `v, i = torch.sort(x)` picks twice from one call, run once

    def as_tensor(self, value: object) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        return torch.tensor(value, dtype=self.dtype, device=self.device)

    def output(self, node: Expr) -> torch.Tensor:
        value = self.run(node)
        try:
            return self.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ExpressionError(f"{node.text}: {in_words(err)}", node.line or None, node.column or None) from None

    def run(self, node: Expr) -> object:
        try:
            return self._run(node)
        except ExpressionError:
            raise
        except (RuntimeError, IndexError, TypeError, ValueError, NotImplementedError) as err:
            raise ExpressionError(f"{node.text or 'the expression'}: {in_words(err)}",
                                  node.line or None, node.column or None) from None

    def _run(self, node: Expr) -> object:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name):
            return self.env[node.id]
        if isinstance(node, Seq):
            return [self.run(item) for item in node.items]
        if isinstance(node, Index):
            value = self.run(node.value)
            if not isinstance(value, torch.Tensor):
                raise ExpressionError(f"{node.text}: only tensors can be indexed", node.line, node.column)
            return value[node.index if len(node.index) != 1 else node.index[0]]
        if isinstance(node, Compare):
            return OPERATORS[node.op](self.run(node.left), self.run(node.right))
        args = [self.pair(a) if node.op in PICKS else self.run(a) for a in node.args]
        function = self.functions.get(node.op) or FUNCTIONS.get(node.op) or _OPERATOR_FUNCTIONS[node.op]
        for i in range(min(function.tensor_args, len(args))):
            if not isinstance(args[i], (torch.Tensor, list)):
                args[i] = self.as_tensor(args[i])
        kwargs = dict(node.kwargs)
        if function.creates:  # a constant tensor: in the run's dtype, on its device (meta in the dry run)
            kwargs.update(dtype=self.dtype, device=self.device)
        result = self.call(function, args, kwargs, node)
        if (function.creates or node.op == "detach") and isinstance(result, torch.Tensor):
            text = node.text or node.op
            if text in self.constants:  # the same text twice: where, tells them apart
                text += f" (line {node.line}, column {node.column})"
            self.constants[text] = result
        return result


    def pair(self, node: Expr) -> object:
        if id(node) not in self.pairs:
            self.pairs[id(node)] = self.run(node)
        return self.pairs[id(node)]


# torch's own wording, as its argument parser and its shape checks raise it, and the same in a student's words.
_TORCH_KINDS = {"Tensor": "a tensor", "int": "a whole number", "float": "a number", "Number": "a number",
                "bool": "True or False", "tuple of ints": "whole numbers (dimensions or sizes)", "list": "a list",
                "tuple": "a tuple", "NoneType": "None", "str": "text"}
_BAD_ARGUMENT = re.compile(r"^(\w+)\(\): argument '(\w+)' \(position (\d+)\) must be (.+?), not (\w+)$")
_BAD_COMBINATION = re.compile(r"^(\w+)\(\) received an invalid combination of arguments")
_NO_BROADCAST = re.compile(r"^The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at "
                           r"non-singleton dimension (\d+)")
_NO_BROADCAST_META = re.compile(r"^Attempting to broadcast a dimension of length (\d+) at (-?\d+)! Mismatching "
                                r"argument at index \d+ had torch.Size\(\[([\d, ]*)\]\); but expected shape should "
                                r"be broadcastable to \[([\d, ]*)\]")
_BAD_DIMENSION = re.compile(r"Dimension out of range \(expected to be in range of \[(-?\d+), (-?\d+)\], "
                            r"but got (-?\d+)\)")


def in_words(err: BaseException) -> str:
    """An error from torch as a refusal says it: :func:`first_line`, with torch's argument-parser and
    dimension messages reworded for a student.

    >>> in_words(TypeError("maximum(): argument 'other' (position 2) must be Tensor, not int"))
    'argument 2 of maximum() (other) must be a tensor, not a whole number'
    >>> in_words(IndexError("Dimension out of range (expected to be in range of [-2, 1], but got 3)"))
    'there is no dimension 3: the tensor has 2 dimensions, 0 to 1 (or -2 to -1 from the end)'
    """
    message = first_line(err)
    found = _BAD_ARGUMENT.match(message)
    if found:
        name, param, position, wanted, got = found.groups()
        return (f"argument {position} of {name}() ({param}) must be {_TORCH_KINDS.get(wanted, wanted)}, "
                f"not {_TORCH_KINDS.get(got, got)}")
    found = _BAD_COMBINATION.match(message)
    if found:
        return (f"these arguments do not fit {found.group(1)}(): check how many there are and what each is "
                "(a tensor, a number, a dimension)")
    found = _NO_BROADCAST.match(message)
    if found:
        a, b, dim = found.groups()
        return (f"the sizes {a} and {b} of dimension {dim} differ, and neither is 1, so the shapes cannot be "
                "broadcast together")
    found = _NO_BROADCAST_META.match(message)
    if found:
        had, target = (f"({g},)" if "," not in g else f"({g})" for g in found.group(3, 4))
        return f"a tensor of shape {had} cannot be broadcast with one of shape {target}"
    if message.startswith("invalid index of a 0-dim tensor"):
        return "a number (a tensor of no dimensions) cannot be indexed"
    found = _BAD_DIMENSION.search(message)
    if found:
        low, high, got = (int(g) for g in found.groups())
        if high <= 0:   # a vector, or a number (whose dims torch also lets be 0 or -1)
            return f"there is no dimension {got}: the only one here is 0 (or -1 from the end)"
        return (f"there is no dimension {got}: the tensor has {high + 1} dimensions, 0 to {high} "
                f"(or {low} to -1 from the end)")
    return message


def first_line(err: BaseException) -> str:
    """An error's message as a refusal quotes it: its first line, without PyTorch's note of where in its
    C++ it was raised, or the error's type where the message is empty.

    >>> first_line(RuntimeError("shapes differ\\nmore detail")), first_line(ZeroDivisionError())
    ('shapes differ', 'ZeroDivisionError')
    >>> first_line(UserWarning("x.grad is None. (Triggered internally at TensorBody.h:494.)"))
    'x.grad is None.'
    """
    lines = str(err).strip().splitlines()
    return lines[0].split(" (Triggered internally")[0].strip() if lines else type(err).__name__


# Operators are looked up like table functions so that the dry run counts them alike.
_OPERATOR_FUNCTIONS: dict[str, Function] = {
    name: Function(name, OPERATORS[name], 1, 2, spaces=(), method=False, tensor_args=0,
                   work="matmul" if name == "matmul" else "linear")
    for name in ("add", "sub", "mul", "div", "neg", "pow", "matmul")
}


# ---------------------------------------------------------------------------
# The dry run.

@dataclass
class Cost:
    """What a run would take, measured on the ``meta`` device."""

    elements: int = 0       # elements of all results
    largest: int = 0        # elements of the largest result
    work: int = 0           # estimated operations, forward
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)   # one per output


@refusing_blowups
def check(program: Program, tensors: Mapping[str, torch.Tensor], limits: Limits = DEFAULT_LIMITS,
          functions: Mapping[str, Function] | None = None, dtype: torch.dtype | None = None) -> Cost:
    """Dry-run ``program`` on shapes alone and refuse it if it exceeds ``limits``.

    The same tree runs on torch's ``meta`` device (shapes, no data), so shape
    errors and huge broadcasts are found before any real work is done.

    >>> import torch
    >>> p = parse("outer(x, x)")
    >>> check(p, {"x": torch.ones(3)}).largest
    9
    >>> check(p, {"x": torch.ones(100_000)})
    Traceback (most recent call last):
    ...
    explorer.expression.ExpressionError: outer(x, x) would make a tensor of 10,000,000,000 elements (at most 4,000,000)
    """
    cost = Cost()
    meta = {}
    for name, tensor in tensors.items():
        _count_elements(cost, tensor.numel(), name, limits)
        meta[name] = torch.empty(tensor.shape, dtype=tensor.dtype, device="meta",
                                 requires_grad=tensor.requires_grad)

    def measure(function: Function, args: Sequence, kwargs: dict, node: Call) -> object:
        shapes = [a.shape for a in args if isinstance(a, torch.Tensor)]
        result = function.fn(*args, **kwargs)
        parts = result if isinstance(result, tuple) else (result,)  # (values, indices) counts both
        numel = sum(p.numel() if isinstance(p, torch.Tensor) else 1 for p in parts)
        text = node.text or function.name
        _count_elements(cost, numel, text, limits)
        cost.work += _work(function, shapes, numel)
        if cost.work > limits.max_work:
            raise ExpressionError(f"{text} asks for too much computation "
                                  f"(about {cost.work:,} operations; at most {limits.max_work:,})")
        return result

    runner = _Runner(meta, measure, functions or {}, dtype, "meta")
    try:
        for name, expr in program.assignments:
            runner.env[name] = runner.run(expr)
        for expr in program.outputs:
            out = runner.output(expr)
            cost.output_shapes.append(tuple(out.shape))
    except ExpressionError as err:
        if "meta" in err.message:
            raise ExpressionError(err.message.replace("meta", "this").replace(" (device=meta)", ""),
                                  err.line, err.column) from None
        raise
    return cost


def _count_elements(cost: Cost, numel: int, text: str, limits: Limits) -> None:
    if numel > limits.max_elements:
        raise ExpressionError(f"{text} would make a tensor of {numel:,} elements (at most {limits.max_elements:,})")
    cost.elements += numel
    cost.largest = max(cost.largest, numel)
    if cost.elements > limits.max_total_elements:
        raise ExpressionError(f"the function needs too much memory: {cost.elements:,} elements in all "
                              f"(at most {limits.max_total_elements:,})")


def _work(function: Function, shapes: list, out_numel: int) -> int:
    if function.work == "matmul" and len(shapes) >= 2 and len(shapes[0]) >= 1:
        return out_numel * max(1, shapes[0][-1])
    if function.work == "cubic" and shapes and len(shapes[0]) >= 2:
        n = shapes[0][-1]
        return math.prod(shapes[0][:-2]) * n ** 3
    return out_numel + sum(math.prod(s) for s in shapes)


def describe(program: Program) -> str:
    """A one-line summary: inputs and outputs (for headings and logs)."""
    outs = ", ".join(e.text or "?" for e in program.outputs)
    return f"f({', '.join(program.inputs)}) = {outs}"


__all__ = [
    "Call", "Compare", "Cost", "Evaluation", "Expr", "ExpressionError", "Index", "Limits", "Name", "Num",
    "Program", "Seq", "blowup_refusal", "check", "describe", "evaluate", "first_line", "in_words", "items_of", "parse", "plain_name",
    "refusing_blowups", "script_name", "version_label",
    "DEFAULT_LIMITS",
]
