"""SymPy expressions built from the validated expression tree, never from text.

Each node of :mod:`explorer.expression`'s tree maps through a fixed table to a
SymPy constructor; an indexed input ``x[0]`` becomes the symbol ``x_0``. A
function without a symbolic form here is refused with an ``ExpressionError``.

>>> from explorer.expression import parse
>>> expr, symbols = to_sympy(parse("log(x[0]*x[1]) * sin(x[1])"))
>>> str(expr)
'log(x_0*x_1)*sin(x_1)'
"""
from __future__ import annotations

import sympy

from explorer.expression import Call, ExpressionError, Index, Name, Num, Program

_UNARY = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos,
    "atan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "asinh": sympy.asinh,
    "acosh": sympy.acosh, "atanh": sympy.atanh, "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt,
    "abs": sympy.Abs, "erf": sympy.erf, "square": lambda a: a**2, "reciprocal": lambda a: 1 / a,
    "rsqrt": lambda a: 1 / sympy.sqrt(a), "log2": lambda a: sympy.log(a, 2), "log10": lambda a: sympy.log(a, 10),
    "log1p": lambda a: sympy.log(1 + a), "expm1": lambda a: sympy.exp(a) - 1, "exp2": lambda a: 2**a,
    "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)), "softplus": lambda a: sympy.log(1 + sympy.exp(a)),
    "relu": lambda a: sympy.Max(a, 0), "neg": lambda a: -a,
}
_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a**b, "atan2": sympy.atan2,
    "maximum": sympy.Max, "minimum": sympy.Min,
}


def to_sympy(program: Program) -> tuple[sympy.Expr, dict[str, sympy.Symbol]]:
    """The program's (single, scalar) output as a SymPy expression, and the symbols it uses."""
    if len(program.outputs) != 1:
        raise ExpressionError("the symbolic derivative takes a function with one output")
    symbols: dict[str, sympy.Symbol] = {}
    env: dict[str, sympy.Expr] = {}

    def build(node) -> sympy.Expr:
        if isinstance(node, Num):
            if node.name == "pi":
                return sympy.pi
            if node.name == "e":
                return sympy.E
            return sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Float(node.value)
        if isinstance(node, Name):
            if node.id in env:
                return env[node.id]
            return symbols.setdefault(node.id, sympy.Symbol(node.id, real=True))
        if isinstance(node, Index) and isinstance(node.value, Name) and len(node.index) == 1 \
                and isinstance(node.index[0], int) and node.index[0] >= 0 and node.value.id not in env:
            name = f"{node.value.id}_{node.index[0]}"
            return symbols.setdefault(name, sympy.Symbol(name, real=True))
        if isinstance(node, Call):
            args = [build(a) for a in node.args]
            if node.kwargs:
                raise ExpressionError(f"{node.text}: keyword arguments have no symbolic form here")
            if len(args) == 1 and node.op in _UNARY:
                return _UNARY[node.op](args[0])
            if len(args) == 2 and node.op in _BINARY:
                return _BINARY[node.op](args[0], args[1])
        raise ExpressionError(f"{node.text or 'this part'} has no symbolic form here: "
                              "use scalar inputs or literal indices x[0], x[1], ...")

    for name, expr in program.assignments:
        env[name] = build(expr)
    return build(program.outputs[0]), symbols


def symbolic_gradient(program: Program) -> dict[str, sympy.Expr]:
    """``∂f/∂s`` for every symbol ``s`` of the program, simplified."""
    expr, symbols = to_sympy(program)
    return {name: sympy.simplify(sympy.diff(expr, symbol)) for name, symbol in symbols.items()}
