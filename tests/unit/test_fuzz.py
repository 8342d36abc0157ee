"""Property-based fuzzing of the expression engine.

Random token soups never raise anything but ExpressionError; random valid
expressions give the values and gradients of the same function written by
hand in torch.
"""
from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explorer
from explorer import ExpressionError

TOKENS = [
    "x", "y", "w1", "A", "1", "2.5", "0", "1e308", "9", "**", "*", "/", "+", "-", "@", "%", "(", ")", "[", "]",
    ",", ":", ".", "=", ";", "\n", " ", "sin", "exp", "log", "sum", "max", "where", "dim=0", "keepdim=True",
    "torch", "F", "nn", "functional", "linalg", "norm", "T", "t()", "__class__", "_", "os", "eval",
    "lambda", "'a'", '"b"', "f'", "{", "}", "<", ">", "==", "not", "and", "if", "else", "...", "None",
    "True", "\\", "#", "\t", "\u00b2", "\uff58", "pi", "e", "inf", "rand(3)", "x[0]", "x[:, 0]",
    # The everyday-PyTorch spellings.
    "+=", "*=", ".values", ".indices", ".detach()", "torch.sort(x)", "torch.max(x, dim=0)", "torch.ones(3)",
    "torch.tensor([1.0, 2.0, 3.0])", "[1, 2, 3]", "F.mse_loss(x, y)", "F.cross_entropy(", ".view(-1)",
    ".expand(2, 3)", ".unsqueeze(0)", ".mT", "torch.pi", "reduction='sum'", "dim=1",
    # Issue 20's: dimensions and True/False by position, unpacking, layers as functions, repeated lists.
    "torch.max(x, 1)", "torch.min(", ", 0", ", True", "a, b = ", "values, indices", "_, ", "t", "F.linear(x, ",
    "F.layer_norm(x, (3,))", "F.normalize(", "F.dropout(x, training=False)", "bias=y", "[1.0] * 3", "* 10**7",
    "torch.linspace(0, 1, steps=3)", "step=2",
]

settings.register_profile("explorer", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("explorer")


@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25))
@settings(max_examples=400)
def test_token_soup_only_ever_raises_expression_error(tokens):
    source = "".join(tokens)
    try:
        program = explorer.parse(source)
    except ExpressionError:
        return
    specs = {name: "rand(3)" for name in program.inputs}
    try:
        ex = explorer.explore(source, inputs=specs, device="cpu")
    except ExpressionError:
        return
    assert len(ex.outputs) == len(program.outputs)


# Valid expressions of one vector x, each with the torch function it means.
UNARY = {
    "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "exp": lambda t: torch.exp(t.clamp(max=5)),
    "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus, "abs": torch.abs,
    "log1p_abs": lambda t: torch.log1p(t.abs()),
}
UNARY_TEXT = {"exp": "exp(clamp({}, max=5))", "log1p_abs": "log1p(abs({}))"}
BINARY = {"+": torch.add, "-": torch.sub, "*": torch.mul}


@st.composite
def expressions(draw, depth=0):
    """(text, function of x) pairs for random valid expressions."""
    if depth >= 4 or draw(st.integers(0, 3)) == 0:
        leaf = draw(st.sampled_from(["x", "num", "x0"]))
        if leaf == "x":
            return "x", lambda x: x
        if leaf == "x0":
            return "x[0]", lambda x: x[0]
        value = draw(st.sampled_from([0.5, 2, 3.0, -1.5]))
        return f"({value})", lambda x, v=value: torch.tensor(v, dtype=x.dtype)
    kind = draw(st.sampled_from(["unary", "binary", "pow", "method"]))
    if kind == "unary":
        name = draw(st.sampled_from(sorted(UNARY)))
        text, f = draw(expressions(depth + 1))
        pattern = UNARY_TEXT.get(name, name + "({})")
        return pattern.format(text), lambda x, f=f, g=UNARY[name]: g(f(x))
    if kind == "pow":
        text, f = draw(expressions(depth + 1))
        n = draw(st.sampled_from([2, 3]))
        return f"({text})**{n}", lambda x, f=f, n=n: f(x) ** n
    if kind == "method":
        text, f = draw(expressions(depth + 1))
        return f"({text}).sin()", lambda x, f=f: torch.sin(f(x))
    op = draw(st.sampled_from(sorted(BINARY)))
    (lt, lf), (rt, rf) = draw(expressions(depth + 1)), draw(expressions(depth + 1))
    return f"({lt} {op} {rt})", lambda x, lf=lf, rf=rf, g=BINARY[op]: g(lf(x), rf(x))


@given(expressions(), st.lists(st.floats(-2, 2), min_size=3, max_size=3))
@settings(max_examples=150)
def test_valid_expressions_match_hand_built_torch(expression, values):
    text, f = expression
    source = f"sum({text})"
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    expected = f(x).sum()
    if not expected.requires_grad:  # a constant: nothing to differentiate, and we say so
        try:
            explorer.explore(source, x=values, dtype="float64", device="cpu")
        except ExpressionError as err:
            assert "does not depend" in str(err) or "not used" in str(err)
            return
        raise AssertionError("a constant function was not refused")
    (expected_grad,) = torch.autograd.grad(expected, x, allow_unused=True, materialize_grads=True)
    ex = explorer.explore(source, x=values, dtype="float64", device="cpu")
    torch.testing.assert_close(ex.outputs[0], expected.detach(), equal_nan=True)
    torch.testing.assert_close(ex.grads["x"], expected_grad, equal_nan=True)
