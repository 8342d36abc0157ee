"""The expression language (README, "The expression language"; docs/design.md): what it accepts, and what it
computes."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from explorer.expression import ExpressionError, Limits, Name, Num, check, evaluate, parse
from explorer.inputs import make_inputs


def run(source: str, **tensors):
    program = parse(source)
    check(program, tensors)
    return evaluate(program, tensors).outputs


X = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
A = torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7


@pytest.mark.parametrize("source, expected", [
    ("x**3 + 2*x**2 + 8*x", X**3 + 2 * X**2 + 8 * X),
    ("-x + +x - (x - 1)", -X + X - (X - 1)),
    ("pi * x / e", math.pi * X / math.e),
    ("sin(x) + torch.cos(x) + tan(x)", torch.sin(X) + torch.cos(X) + torch.tan(X)),
    ("asin(x/3) + arccos(x/3) + torch.atan(x)", torch.asin(X / 3) + torch.acos(X / 3) + torch.atan(X)),
    ("sinh(x) * cosh(x) * tanh(x)", torch.sinh(X) * torch.cosh(X) * torch.tanh(X)),
    ("exp(x) + log(abs(x)) + log1p(abs(x)) + expm1(x) + sqrt(abs(x))",
     torch.exp(X) + torch.log(X.abs()) + torch.log1p(X.abs()) + torch.expm1(X) + X.abs().sqrt()),
    ("pow(x, 2) + x.pow(3)", X**2 + X**3),
    ("sigmoid(x) + relu(x) + F.softplus(x) + torch.nn.functional.gelu(x) + tanh(x)",
     torch.sigmoid(X) + torch.relu(X) + F.softplus(X) + F.gelu(X) + torch.tanh(X)),
    ("softmax(x, dim=0) + log_softmax(x, 0)", torch.softmax(X, 0) + torch.log_softmax(X, 0)),
    ("logsumexp(x)", torch.logsumexp(X, 0)),
    ("sum(x) + mean(x) + prod(x) + max(x) + min(x)", X.sum() + X.mean() + X.prod() + X.max() + X.min()),
    ("maximum(x, 0.5*x) + minimum(x, 1)", torch.maximum(X, 0.5 * X) + torch.minimum(X, torch.tensor(1.0))),
    ("clamp(x, min=-1, max=1) + x.clamp(0)", X.clamp(-1, 1) + X.clamp(0)),
    ("where(x > 0, x, 0)", torch.where(X > 0, X, 0.0)),
    ("dot(x, x) + x @ x + torch.linalg.norm(x) + norm(x)", X @ X + X @ X + X.norm() + X.norm()),
    ("outer(x, x).sum()", torch.outer(X, X).sum()),
    ("x.sum() + x.mean() + x.exp().sum()", X.sum() + X.mean() + X.exp().sum()),
    ("x[0] + x[-1] + x[0:2].sum()", X[0] + X[-1] + X[0:2].sum()),
    ("(log(abs(x[0]*x[1])), sin(x[1]))", None),
    ("w1 = x\nw2 = w1**3\nw2 + 2*w1**2 + 8*w1", X**3 + 2 * X**2 + 8 * X),
    ("w1 = x; w2 = w1**2; w2", X**2),
    ("y = x * 2", X * 2),
    ("stack([x[0], x[1]]).sum()", X[0] + X[1]),
    ("sin(pi/2) * x", X),
])
def test_vector_expressions_match_hand_written_torch(source, expected):
    outputs = run(source, x=X)
    if expected is None:
        assert torch.allclose(outputs[0], torch.log((X[0] * X[1]).abs()))
        assert torch.allclose(outputs[1], torch.sin(X[1]))
    else:
        assert torch.allclose(outputs[0], expected)


@pytest.mark.parametrize("source, expected", [
    ("A @ v", A @ torch.ones(3, dtype=torch.float64)),
    ("mv(A, v) + matmul(A, v)", 2 * A @ torch.ones(3, dtype=torch.float64)),
    ("A.t() @ A", A.t() @ A), ("A.T @ A", A.T @ A), ("mm(A, A.T)", A @ A.T),
    ("A[:, 0] + A[1, :2].sum()", A[:, 0] + A[1, :2].sum()),
    ("sum(A, dim=1)", A.sum(1)), ("A.sum(dim=(0, 1), keepdim=True)", A.sum((0, 1), keepdim=True)),
    ("max(A, dim=0)", A.max(0).values), ("A.reshape(3, 2).sum(0)", A.reshape(3, 2).sum(0)),
    ("det(A @ A.T)", torch.linalg.det(A @ A.T)), ("torch.linalg.inv(A @ A.T)", torch.linalg.inv(A @ A.T)),
])
def test_matrix_expressions(source, expected):
    assert torch.allclose(run(source, A=A, v=torch.ones(3, dtype=torch.float64))[0], expected)


def test_inputs_are_free_names_in_first_use_order_and_intermediates_are_not():
    program = parse("w1 = b * a\nw2 = w1 + c\nsin(w2) + pi")
    assert program.inputs == ("b", "a", "c")
    assert [name for name, _ in program.assignments] == ["w1", "w2"]


def test_constants_fold_like_python():
    program = parse("2**10 * x")
    assert program.outputs[0].args[0] == Num(1024)
    assert isinstance(program.outputs[0].args[1], Name)


def test_several_outputs_and_output_names():
    program = parse("u = x**2\n(u, sin(x))")
    assert len(program.outputs) == 2 and program.output_names == ("u", "")
    assert parse("y = x * 2").output_names == ("y",)


def test_as_function_works_with_autograd_functional():
    f = parse("sin(x) * y").as_function()
    jac = torch.autograd.functional.jacobian(lambda x, y: f(x, y)[0], (X, X))
    assert torch.allclose(jac[0], torch.diag(torch.cos(X) * X))


@pytest.mark.parametrize("source, fragment", [
    ("x +* 2", "column"), ("sin(x", "never closed"), ("foo(x)", "unknown function 'foo'"),
    ("torch.hub.load(x)", "not available"), ("x.__class__", "'_'"), ("torch.sin", "is a function"),
    ("x.grad", "not available"), ("sum(x, dim=y)", "integer"), ("x[y]", "literal integers"),
    ("x * [1., 2, 3]", "torch.tensor([1.0, 2.0, 3.0])"), ("x\ny", "only the last line"),
    ("x if x else 1", "where("), ("sin(x, x)", "takes 1 argument"), ("clamp(x, low=1)", "no keyword argument"),
])
def test_refusals_say_what_is_wrong(source, fragment):
    with pytest.raises(ExpressionError) as err:
        parse(source)
    assert fragment in str(err.value)


def test_shape_errors_name_the_part_of_the_text():
    program = parse("sin(A @ x + b)")
    with pytest.raises(ExpressionError, match=r"^A @ x: .*size mismatch"):
        check(program, {"A": torch.ones(10, 5), "x": torch.ones(4), "b": torch.ones(10)})


def test_limits_are_configurable():
    tight = Limits(max_elements=10)
    with pytest.raises(ExpressionError, match="at most 10"):
        check(parse("outer(x, x)"), {"x": torch.ones(4)}, tight)
    with pytest.raises(ExpressionError, match="too long"):
        parse("x + " * 10 + "x", limits=Limits(max_chars=20))


def test_dry_run_counts_matmul_work():
    cost = check(parse("A @ B"), {"A": torch.ones(20, 30), "B": torch.ones(30, 40)})
    assert cost.work == 20 * 40 * 30
    assert cost.output_shapes == [(20, 40)]


def test_dry_run_touches_no_data():
    # 3.9M elements each: a real run would take noticeable memory; the dry run takes none.
    tensors = make_inputs(("x",), {"x": "ones(1000, 3900)"})
    cost = check(parse("sin(x) * 2"), tensors)
    assert cost.largest == 3_900_000


def test_float64_inputs_stay_float64_and_numbers_become_tensors_of_that_dtype():
    out = run("sin(2) * x", x=X)[0]
    assert out.dtype == torch.float64
    assert torch.allclose(out, math.sin(2) * X)


def test_parses_in_several_threads_do_not_overlap(monkeypatch):
    # Two ast.parse at once in two threads can fail in CPython 3.11 (python/cpython#106905): every parse of
    # the server's visitors' scripts goes through one lock. A slow ast.parse shows any overlap.
    import ast
    import threading
    import time

    real, inside, most = ast.parse, [0], [0]
    counting = threading.Lock()

    def slow_parse(*args, **kwargs):
        with counting:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.002)
        try:
            return real(*args, **kwargs)
        finally:
            with counting:
                inside[0] -= 1

    monkeypatch.setattr(ast, "parse", slow_parse)
    threads = [threading.Thread(target=lambda: [parse(f"sin(x) * {i}") for i in range(10)]) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
