"""SymPy from the validated tree: every function of the table, against torch's values and autograd's gradients;
symbols for indexed inputs; refusals; never from text; and back to torch."""
from __future__ import annotations

import math

import pytest
import sympy
import torch

from explorer import ExpressionError, parse
from explorer.expression import OPERATORS, evaluate
from explorer.functions import FUNCTIONS
from explorer.inputs import make_inputs
from explorer.symbolic import (
    MAX_SYMBOLS, NO_SYMBOLIC_FORM, derivatives, gradient, latex, numeric, numeric_array, operations, partials, point, symbols_for,
    to_sympy, torch_value,
)

SPECS = {"x": "rand(4)", "y": "rand(4)", "A": "rand(2, 3)", "M": "rand(3, 3) + 2*eye(3)", "u": "rand(3)",
         "v": "rand(3)", "s": "[0.3]", "k": "tensor([0, 2])", "t": "rand(4)"}
# At least one use of every function of the table, with the spellings and keywords users write.
EXAMPLES = [
    "sin(x).sum()", "cos(x).sum()", "tan(x).sum()", "asin(x).sum()", "acos(x).sum()", "atan(x).sum()",
    "atan2(x, y).sum()", "sinh(x).sum()", "cosh(x).sum()", "tanh(x).sum()", "asinh(x).sum()", "acosh(x + 1.5).sum()",
    "atanh(x / 2).sum()", "exp(x).sum()", "exp2(x).sum()", "expm1(x).sum()", "log(x).sum()", "log2(x).sum()",
    "log10(x).sum()", "log1p(x).sum()", "sqrt(x).sum()", "rsqrt(x).sum()", "square(x).sum()", "reciprocal(x).sum()",
    "pow(x, 3).sum()", "pow(x, y).sum()", "x.pow(2.5).sum()", "abs(x - 0.5).sum()", "(sign(x - 0.5) * x).sum()",
    "erf(x).sum()", "sigmoid(x).sum()", "relu(x - 0.5).sum()", "softplus(x, beta=2).sum()",
    "F.softplus(30*x, threshold=5).sum()", "gelu(x).sum()", "gelu(x, approximate='tanh').sum()", "silu(x).sum()",
    "elu(x - 0.5, alpha=0.5).sum()", "leaky_relu(x - 0.5, 0.1).sum()", "leaky_relu(x - 0.5, negative_slope=0.2).sum()",
    "softmax(x)[0]", "log_softmax(x, dim=0)[1]", "logsumexp(x)", "logsumexp(A, dim=1).sum()", "softmax(A, 0)[1, 2]",
    "sum(A, dim=0)[1]", "sum(A, 1, keepdim=True)[0, 0]", "mean(x)", "mean(A, dim=1)[0]", "prod(x)", "prod(A, 0)[2]",
    "var(x)", "var(x, unbiased=False)", "std(A)", "std(A, dim=0)[1]", "cumsum(x, 0)[2]", "cumsum(A, 1)[1, 2]",
    "max(x)", "max(A, dim=0).values[1]", "max(x, 2*x - 0.5).sum()", "min(x)", "min(A, dim=1, keepdim=True).values[1, 0]", "torch.max(A, 1)[0].sum() + torch.min(A, 0)[0][1]",
    "amax(A, dim=1).sum()", "amin(A).sum()", "maximum(x, y).sum()", "minimum(x, y).sum()", "clamp(x, 0.3, 0.7).sum()",
    "clamp(x, min=0.3).sum()", "clip(x, max=0.5).sum()", "where(x > 0.5, x**2, -x).sum()", "where(x <= y, x, y).sum()",
    "dot(x, y)", "matmul(A, u).sum()", "(A @ u).sum()", "mv(A, u).sum()", "mm(A, M).sum()", "u @ M @ v",
    "outer(x, y).sum()", "cross(u, v).sum()", "(torch.linalg.cross(u, v) * u).sum()", "norm(x)", "norm(x, p=1)",
    "norm(x, 3)", "norm(A, dim=1).sum()", "torch.linalg.vector_norm(x, ord=3)", "torch.linalg.norm(A)",
    "torch.linalg.norm(x, ord=1)", "det(M)", "torch.linalg.inv(M).sum()", "inverse(M)[0, 1]", "trace(M)",
    "trace(A @ A.T)", "(diag(x) @ y).sum()", "diag(M).sum()", "diag(M, 1).sum()", "(t(A) @ x[0:2]).sum()", "t(x).sum()",
    "transpose(A, 0, 1)[2, 1]", "A.T[0].sum()", "reshape(A, 6)[1:3].sum()", "reshape(A, 3, 2)[2, 1]",
    "A.reshape(-1)[5]", "flatten(A)[4]", "stack([x, 2*x]).sum()", "stack([x[0], x[1]**2], dim=0).sum()",
    "cat([x, x**2]).sum()", "cat([A, A], dim=1)[1, 4]", "w = x * s\nv2 = w ** 2\nsum(v2) * pi + e",
    "x[-1] * x[0:2].sum() + x[..., 1]", "(A[:, None, 0] * 2).sum()", "-x.sum()", "(x / y).sum() - 3",
    # Everyday PyTorch: keywords for positional arguments, constants, names bound again.
    "torch.cumsum(A, dim=1)[1, 2]", "x.cumsum(dim=0)[3]", "torch.var(x, correction=0)",
    "torch.std(A, dim=1, correction=0)[0]", "x.pow(exponent=3).sum()", "transpose(A, dim0=0, dim1=1)[2, 0]",
    "diag(M, diagonal=-1).sum()", "flatten(A, start_dim=0)[3]", "softplus(x, 2).sum()", "elu(x - 0.5, 0.3).sum()",
    "torch.pi * x[0] + torch.e", "e = x[0] - x[1]\ne * pi", "h = x * y\nh = h + 1\nh += h * 2\nh.sum()",
    # Shapes, picked values, constant tensors.
    "A.view(3, 2)[2, 1]", "A.view(-1)[4]", "x.unsqueeze(0)[0, 2]", "x.unsqueeze(dim=1).squeeze(1)[1]",
    "A.permute(1, 0)[2, 1]", "torch.permute(A, (1, 0)).contiguous()[0, 1]", "x.expand(2, 4).sum()",
    "s.expand(3)[1] * x[0]", "A.mT[2, 0]", "(A[None] * 2).squeeze()[1, 1]", "max(A, dim=0).values[1]",
    "torch.min(A, dim=1).values.sum()", "(torch.tensor([1.0, 2.0, 3.0, 4.0]) * x).sum()",
    "(torch.ones(4) * x).sum() + (torch.zeros(2, 3) + A).sum()", "(torch.eye(3) @ u).sum()",
    "(torch.arange(4) * x).sum() + (torch.arange(0, 2, 0.5) * y).sum()", "(torch.linspace(0, 1, 4) * x).sum()",
    # Loss functions.
    "F.mse_loss(x, y)", "F.l1_loss(x, y, reduction='sum')", "torch.nn.functional.smooth_l1_loss(2*x, y, beta=0.5)",
    "F.huber_loss(3*x, y, delta=0.4)", "F.huber_loss(x, y, reduction='none')[1]", "F.binary_cross_entropy(x, y)",
    "F.binary_cross_entropy_with_logits(A, softmax(A, 1), reduction='sum')", "F.cross_entropy(A, k)",
    "F.cross_entropy(A, softmax(2*A, 1), label_smoothing=0.1)", "F.cross_entropy(u, softmax(v, 0))",
    "F.cross_entropy(A, k, reduction='none', label_smoothing=0.2)[1]", "F.nll_loss(log_softmax(A, 1), k)",
    "F.kl_div(log_softmax(x, 0), softmax(y, 0), reduction='batchmean')",
    "F.kl_div(log_softmax(A, 1), log_softmax(2*A, 1), log_target=True, reduction='sum')",
    # Issue 20: layers as functions, dimensions by position, unpacking, names used as values.
    "F.linear(u, A, x[0:2]).sum()", "torch.nn.functional.linear(A, A).sum()", "(F.layer_norm(A, (3,)) * A).sum()",
    "F.layer_norm(A, 3, u, v, eps=0.01)[1, 2]",
    "F.layer_norm(A, normalized_shape=(3,))[0, 1] + F.linear(u, A, 0.5)[1]", "F.normalize(u, dim=0)[1]", "(F.normalize(A) * A).sum()",
    "(F.dropout(x, training=False) * y).sum() + F.dropout(x, p=0)[1]", "torch.max(A, 1).values.sum()",
    "torch.min(A, 0, True).values.sum()", "v2, i = torch.min(A, 1)\nv2.sum()", "torch.sum(A, 1, True)[0, 0]",
    "torch.sum(A, (0, 1))", "torch.norm(A, 2, 1).sum()", "torch.var(A, 1, False)[0]", "torch.cross(u, v, 0).sum()",
    "torch.linalg.vector_norm(A, 3, 1).sum()", "(torch.linspace(3, 10, steps=4) * x).sum()",
    "(torch.arange(0, 2, step=0.5) * y).sum() + (torch.eye(n=3) @ u).sum()", "F.binary_cross_entropy_with_logits(x, t)",
    "(torch.tensor([0.5] * 4) * x).sum()", "max(x, 0.5).sum()",
]
# The functions without a symbolic form, each refused with its reason.
NO_FORM_EXAMPLES = [
    "v2, i = torch.max(A, 1)\ni.sum() * x[0]", "x.detach()[0] * x[1]", "x.sort().values[0]", "torch.max(A, dim=1).indices.sum() * x[0]", "argmax(x) * x[0]",
    "argmin(x) * x[0]", "x.topk(2).values.sum()", "torch.kthvalue(x, 2).values", "A.median(1).values.sum()",
    "torch.mode(A, 0).values.sum()",
]


def _torch_and_symbolic(source: str):
    program = parse(source)
    tensors = make_inputs(program.inputs, {n: SPECS[n] for n in program.inputs}, dtype="float64", seed=1)
    variables = [n for n in program.inputs if tensors[n].requires_grad]   # not the class indices k
    out = evaluate(program, tensors).outputs[0].sum()
    grads = torch.autograd.grad(out, [tensors[n] for n in variables], allow_unused=True, materialize_grads=True)
    built = to_sympy(program, {n: tuple(t.shape) for n, t in tensors.items()}, tensors)
    at = point(built.symbols, tensors)
    derivatives_ = partials(built)
    symbolic_grads = [numeric_array(derivatives_[n], at) for n in variables]
    return float(out.detach()), numeric(built.scalar(), at), grads, symbolic_grads


def test_the_examples_use_every_function_of_the_table():
    used = {node.op for source in EXAMPLES for node in _calls(parse(source))}
    # Every function with a symbolic form has an example; the others may appear only unused (`v, i = ...`).
    assert set(FUNCTIONS) - used <= set(NO_SYMBOLIC_FORM) and set(FUNCTIONS) - set(NO_SYMBOLIC_FORM) <= used
    assert set(FUNCTIONS) - set(NO_SYMBOLIC_FORM) | {"add", "sub", "mul", "div", "neg", "pow", "matmul"} \
        <= set(operations())
    refused = {node.op for source in NO_FORM_EXAMPLES for node in _calls(parse(source))}
    assert set(NO_SYMBOLIC_FORM) <= refused


@pytest.mark.parametrize("source", NO_FORM_EXAMPLES)
def test_functions_without_a_symbolic_form_say_why(source):
    program = parse(source)
    with pytest.raises(ExpressionError, match="no symbolic form: ") as refusal:
        to_sympy(program, {n: tuple(make_inputs((n,), {n: SPECS[n]})[n].shape) for n in program.inputs})
    assert any(reason in str(refusal.value) for reason in NO_SYMBOLIC_FORM.values())


def _calls(program):
    stack = [e for _, e in program.assignments] + list(program.outputs)
    while stack:
        node = stack.pop()
        if hasattr(node, "op") and hasattr(node, "args"):
            yield node
            stack.extend(node.args)
        for child in ("value", "left", "right"):
            if hasattr(node, child):
                stack.append(node.__dict__[child])
        if hasattr(node, "items"):
            stack.extend(node.items)


@pytest.mark.parametrize("source", EXAMPLES)
def test_symbolic_value_and_gradient_equal_torchs(source):
    value, symbolic_value, grads, symbolic_grads = _torch_and_symbolic(source)
    assert math.isclose(value, symbolic_value, rel_tol=1e-12, abs_tol=1e-12)
    for g, s in zip(grads, symbolic_grads):
        torch.testing.assert_close(g, s, rtol=1e-9, atol=1e-12)


def test_indexed_inputs_become_symbols():  # seed 004
    grad = gradient(parse("log(x[0]*x[1]) * sin(x[1])"), {"x": (2,)})["x"]
    assert [str(g) for g in grad] == ["sin(x_1)/x_0", "log(x_0*x_1)*cos(x_1) + sin(x_1)/x_1"]
    at = {sympy.Symbol("x_0", real=True): 0.5, sympy.Symbol("x_1", real=True): 0.75}
    assert [round(numeric(g, at), 4) for g in grad] == [1.3633, 0.1912]   # seed 004's manual derivative


def test_symbol_names():
    assert symbols_for("x", (1,)).tolist() == [sympy.Symbol("x", real=True)]
    assert symbols_for("x", ()).item() == sympy.Symbol("x", real=True)
    assert [str(s) for s in symbols_for("A", (2, 2)).reshape(-1)] == ["A_0_0", "A_0_1", "A_1_0", "A_1_1"]
    built = to_sympy(parse("sum(A)"), {"A": (2, 2)})
    assert latex(built.scalar(), built.names()) == "A_{0,0} + A_{0,1} + A_{1,0} + A_{1,1}"
    with pytest.raises(ExpressionError, match="x_0 would stand for an element of"):
        to_sympy(parse("x[0] + x_0"), {"x": (2,)})


def test_named_intermediates_are_substituted():  # seed 001's w1 ... w6
    program = parse("w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5")
    assert str(to_sympy(program).scalar()) == "x**3 + 2*x**2 + 8*x"
    assert str(gradient(program)["x"].item()) == "3*x**2 + 4*x + 8"
    partial = gradient(parse("(x + y) * (y + 3)"))                     # seed 002
    assert (str(partial["x"].item()), str(partial["y"].item())) == ("y + 3", "x + 2*y + 3")


def test_numbers_stay_readable():
    assert str(to_sympy(parse("0.5 * x**2 + 3.0 * x + pi")).scalar()) == "x**2/2 + 3*x + pi"
    assert str(to_sympy(parse("0.1 * x")).scalar()).startswith("0.1")


def test_kinks_are_differentiated_as_torch_does():
    # relu'(0) = 0 in torch (not Heaviside(0) = 1/2); sympy's Piecewise follows torch.
    d = gradient(parse("relu(x)"))["x"].item()
    assert numeric(d, {sympy.Symbol("x", real=True): 0.0}) == 0.0
    assert numeric(d, {sympy.Symbol("x", real=True): 2.0}) == 1.0


def test_refusals():
    with pytest.raises(ExpressionError, match="limited to 4 × 4"):
        to_sympy(parse("det(M)"), {"M": (5, 5)})
    with pytest.raises(ExpressionError, match="matrix norms"):
        to_sympy(parse("torch.linalg.norm(M, ord=2)"), {"M": (2, 2)})
    with pytest.raises(ExpressionError, match="0-norm"):
        to_sympy(parse("norm(x, 0)"), {"x": (3,)})
    with pytest.raises(ExpressionError, match=f"at most {MAX_SYMBOLS}"):
        to_sympy(parse("sum(x)"), {"x": (MAX_SYMBOLS + 1,)})
    with pytest.raises(ExpressionError, match="too large"):
        to_sympy(parse("\n".join(f"w{i} = sin(w{i - 1}) * cos(w{i - 1}) + w{i - 1}" for i in range(1, 14))
                       .replace("w0", "x") + "\nw13"))
    with pytest.raises(ExpressionError, match="scalar function"):
        gradient(parse("x * x"), {"x": (3,)})
    with pytest.raises(ExpressionError, match="index"):
        to_sympy(parse("x[5]"), {"x": (3,)})


def test_never_parses_text(monkeypatch):
    """SymPy only turns text into expressions through parse_expr (sympify of a string calls it): forbid it."""
    import sympy.parsing.sympy_parser as parser

    def refuse(*args, **kwargs):
        raise AssertionError("text was handed to SymPy's parser")

    monkeypatch.setattr(parser, "parse_expr", refuse)
    for source in EXAMPLES[::7]:
        _torch_and_symbolic(source)
    assert derivatives(parse("tanh(x)"), 3)


def test_derivatives_of_one_variable_and_back_to_torch():  # seed 002
    assert derivatives(parse("sin(x)"), 2) == [sympy.sin(sympy.Symbol("x", real=True)),
                                               sympy.cos(sympy.Symbol("x", real=True)),
                                               -sympy.sin(sympy.Symbol("x", real=True))]
    x = torch.linspace(0, 1, 1001)
    assert torch.equal(torch_value(derivatives(parse("sin(x)"), 2)[2], {"x": x}), -torch.sin(x))
    f = derivatives(parse("where(x > 0.5, x**3, sigmoid(x)) + max(x, 0.2) + atan2(x, 2)"), 1)[1]
    leaf = x.to(torch.float64).requires_grad_(True)
    y = torch.where(leaf > 0.5, leaf**3, torch.sigmoid(leaf)) + torch.maximum(leaf, torch.tensor(0.2, dtype=torch.float64)) \
        + torch.atan2(leaf, torch.tensor(2.0, dtype=torch.float64))
    (expected,) = torch.autograd.grad(y.sum(), leaf)
    got = torch_value(f, {"x": leaf.detach()})
    inside = (leaf.detach() - 0.2).abs() > 1e-9   # the kink of max(x, 0.2) is a tie
    torch.testing.assert_close(got[inside], expected[inside])
    with pytest.raises(ExpressionError, match="no torch form"):
        torch_value(sympy.Integral(sympy.Symbol("x", real=True)), {"x": x})
    assert torch.equal(torch_value(derivatives(parse("abs(x)"), 2)[2], {"x": x}), torch.zeros_like(x))


def test_operators_of_the_engine_are_all_covered():
    assert {"add", "sub", "mul", "div", "neg", "pow", "matmul"} <= set(OPERATORS) & set(operations())
