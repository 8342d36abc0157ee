"""Everyday PyTorch in the expression language (issues 14 and 20): each addition against PyTorch written directly.

For every case, in float64: the values and the gradients equal those of the same PyTorch written by hand,
torch.autograd.gradcheck passes on the function the explorer builds, and explore() (the whole path: graph
capture included) gives the same gradients.
"""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

import explorer
from explorer.codegen import pytorch_script
from explorer.expression import ExpressionError, check, evaluate, parse
from explorer.inputs import make_inputs

SPECS = {
    "x": "[0.3, -1.2, 2.0]", "y": "[0.5, 0.1, -0.9]", "p": "[0.2, 0.7, 0.4]", "q": "[0.6, 0.3, 0.9]",
    "M": "[[0.1, -0.5, 0.8], [1.3, 0.2, -0.4]]", "N": "[[0.7, 0.2, -0.3], [0.05, 0.9, 0.6]]",
    "S": "[[1.0, 0.2, 0.1], [0.3, 2.0, 0.4], [0.5, 0.6, 3.0]]", "k": "tensor([0, 2])", "c": "tensor([1])",
    "t": "[0.0, 1.0, 0.25]", "b": "[0.3, -0.7]",
}

def _loss(name: str, how: str):
    def loss(x, y):
        return F.__dict__[name](x, y, reduction=how)
    return loss


CASES = [
    # Keywords that stand for positional arguments.
    ("torch.cumsum(M, dim=1)", lambda M: torch.cumsum(M, dim=1)),
    ("x.cumsum(dim=0)", lambda x: x.cumsum(dim=0)),
    ("torch.var(x, correction=0) + torch.std(x, correction=0)",
     lambda x: torch.var(x, correction=0) + torch.std(x, correction=0)),
    ("torch.var(M, dim=1, correction=0)", lambda M: torch.var(M, dim=1, correction=0)),
    ("transpose(M, dim0=0, dim1=1)", lambda M: torch.transpose(M, dim0=0, dim1=1)),
    ("x.pow(exponent=3)", lambda x: x.pow(exponent=3)),
    ("torch.diag(S, diagonal=1)", lambda S: torch.diag(S, diagonal=1)),
    ("torch.flatten(M, start_dim=0)", lambda M: torch.flatten(M, start_dim=0)),
    ("F.softplus(x, 2)", lambda x: F.softplus(x, 2)),
    # Constants, and names e and pi the user binds.
    ("torch.pi * x + torch.e", lambda x: torch.pi * x + torch.e),
    ("e = x - y\ne * pi", lambda x, y: (x - y) * math.pi),
    ("w = e * x\npi = w + 1\npi * e", lambda x: (math.e * x + 1) * math.e),
    # Names bound again, and augmented assignment.
    ("h = x + 1\nh = h * h\nh", lambda x: (x + 1) * (x + 1)),
    ("c2 = x\nc2 += c2 + 1", lambda x: x + (x + 1)),
    ("x = x * 2\nx = x ** 2\nx", lambda x: (x * 2) ** 2),
    ("h = x\nh -= y\nh *= 3\nh /= y\nh **= 2\nh = S @ h\nh @= h\nh", lambda x, y, S: (S @ ((x - y) * 3 / y) ** 2)
     @ (S @ ((x - y) * 3 / y) ** 2)),
    # Constant tensors.
    ("torch.tensor([1.0, 2.0, 3.0]) * x", lambda x: torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) * x),
    ("torch.tensor([[1., 2, 3], [4, 5, 6]]) * M", lambda M: torch.tensor([[1., 2, 3], [4, 5, 6]], dtype=M.dtype) * M),
    ("torch.ones(3) + x + torch.zeros(2, 3)", lambda x: torch.ones(3, dtype=x.dtype) + x + torch.zeros(2, 3,
                                                                                                       dtype=x.dtype)),
    ("torch.eye(3) @ x + (torch.eye(2, 3) @ x).sum()", lambda x: torch.eye(3, dtype=x.dtype) @ x
     + (torch.eye(2, 3, dtype=x.dtype) @ x).sum()),
    ("torch.arange(5.)[0:3] * x + torch.arange(3) * x", lambda x: torch.arange(5., dtype=x.dtype)[0:3] * x
     + torch.arange(3) * x),
    ("torch.linspace(0, 1, 3) * x", lambda x: torch.linspace(0, 1, 3, dtype=x.dtype) * x),
    # Loss functions, each reduction, both spellings.
    *[(f"F.{name}(x, y, reduction='{how}')", _loss(name, how))
      for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss") for how in ("mean", "sum", "none")],
    ("torch.nn.functional.smooth_l1_loss(x, y, beta=0.5) + F.huber_loss(x, y, delta=0.3)",
     lambda x, y: F.smooth_l1_loss(x, y, beta=0.5) + F.huber_loss(x, y, delta=0.3)),
    ("F.binary_cross_entropy(p, q) + F.binary_cross_entropy(p, q, reduction='none')",
     lambda p, q: F.binary_cross_entropy(p, q) + F.binary_cross_entropy(p, q, reduction="none")),
    ("F.binary_cross_entropy_with_logits(x, q, reduction='sum')",
     lambda x, q: F.binary_cross_entropy_with_logits(x, q, reduction="sum")),
    ("F.cross_entropy(M, k) + F.cross_entropy(M, k, reduction='none')",
     lambda M, k: F.cross_entropy(M, k) + F.cross_entropy(M, k, reduction="none")),
    ("F.cross_entropy(M, softmax(N, 1), label_smoothing=0.1)",
     lambda M, N: F.cross_entropy(M, torch.softmax(N, 1), label_smoothing=0.1)),
    ("F.cross_entropy(x[None], c) + F.cross_entropy(x, softmax(y, 0), reduction='sum')",
     lambda x, y, c: F.cross_entropy(x[None], c) + F.cross_entropy(x, torch.softmax(y, 0), reduction="sum")),
    ("F.nll_loss(log_softmax(M, 1), k, reduction='sum')",
     lambda M, k: F.nll_loss(torch.log_softmax(M, 1), k, reduction="sum")),
    ("F.kl_div(log_softmax(x, 0), softmax(y, 0), reduction='batchmean')",
     lambda x, y: F.kl_div(torch.log_softmax(x, 0), torch.softmax(y, 0), reduction="batchmean")),
    ("torch.nn.functional.kl_div(log_softmax(M, 1), log_softmax(N, 1), log_target=True, reduction='sum')",
     lambda M, N: F.kl_div(torch.log_softmax(M, 1), torch.log_softmax(N, 1), log_target=True, reduction="sum")),
    # Shape methods.
    ("M.view(3, 2) + M.view((3, 2))", lambda M: M.view(3, 2) + M.view((3, 2))),
    ("M.view(-1) * M.reshape(6)", lambda M: M.view(-1) * M.reshape(6)),
    ("x.unsqueeze(0) + x.unsqueeze(1).squeeze(1) + M.unsqueeze(0).squeeze()",
     lambda x, M: x.unsqueeze(0) + x.unsqueeze(1).squeeze(1) + M.unsqueeze(0).squeeze()),
    ("M.transpose(0, 1) @ M.permute(1, 0).T + torch.permute(M, (1, 0)) @ M",
     lambda M: M.transpose(0, 1) @ M.permute(1, 0).T + torch.permute(M, (1, 0)) @ M),
    ("x.expand(2, 3) * M[:, 0:1].expand(-1, 3)", lambda x, M: x.expand(2, 3) * M[:, 0:1].expand(-1, 3)),
    ("M.mT @ M + M.T.contiguous().view(-1)[0]", lambda M: M.mT @ M + M.T.contiguous().view(-1)[0]),
    # Named results.
    ("torch.max(M, dim=1).values + torch.min(M, dim=0).values.sum()",
     lambda M: torch.max(M, dim=1).values + torch.min(M, dim=0).values.sum()),
    ("torch.sort(x).values * torch.sort(x, descending=True).indices",
     lambda x: torch.sort(x).values * torch.sort(x, descending=True).indices),
    ("x.topk(2).values.sum() * x.topk(2, largest=False).indices.sum() + torch.kthvalue(x, 2).values",
     lambda x: x.topk(2).values.sum() * x.topk(2, largest=False).indices.sum() + torch.kthvalue(x, 2).values),
    ("torch.median(M, dim=1).values * M.median(1).indices + torch.mode(M, 1).values",
     lambda M: torch.median(M, dim=1).values * M.median(1).indices + torch.mode(M, 1).values),
    ("M * torch.max(M, dim=1, keepdim=True).indices + torch.argmax(x) * x",
     lambda M, x: M * torch.max(M, dim=1, keepdim=True).indices + torch.argmax(x) * x),
    # Issue 20. A name used only as a value is an input, even where a function has that name.
    ("F.binary_cross_entropy_with_logits(x, t)", lambda x, t: F.binary_cross_entropy_with_logits(x, t)),
    ("t(M) @ b + t", lambda M, b, t: torch.t(M) @ b + t),
    # Layers as functions, in both spellings.
    ("F.linear(x, M, b)", lambda x, M, b: F.linear(x, M, b)),
    ("torch.nn.functional.linear(N, M) + F.linear(N, M, bias=b)", lambda N, M, b: F.linear(N, M) + F.linear(N, M, b)),
    ("F.layer_norm(M, (3,))", lambda M: F.layer_norm(M, (3,))),
    ("F.layer_norm(M, normalized_shape=(3,)) + F.linear(x, M, 0.5)[0]",
     lambda M, x: F.layer_norm(M, normalized_shape=(3,)) + F.linear(x, M, torch.tensor(0.5, dtype=x.dtype))[0]),
    ("torch.nn.functional.layer_norm(M, 3, x, y, eps=0.001) + F.layer_norm(M, (2, 3), N)",
     lambda M, x, y, N: F.layer_norm(M, (3,), x, y, eps=0.001) + F.layer_norm(M, (2, 3), N)),
    ("F.normalize(y, dim=0) + torch.nn.functional.normalize(x, 1, 0)",
     lambda y, x: F.normalize(y, dim=0) + F.normalize(x, 1, 0)),
    ("F.normalize(M) * F.normalize(N, p=3, dim=0, eps=0.5)", lambda M, N: F.normalize(M) * F.normalize(N, p=3, dim=0,
                                                                                                      eps=0.5)),
    ("F.dropout(x, training=False) + torch.nn.functional.dropout(y, 0.3, False) + F.dropout(x, p=0)",
     lambda x, y: F.dropout(x, training=False) + F.dropout(y, 0.3, False) + F.dropout(x, p=0)),
    # Dimensions by position, as PyTorch's docs write them; max and min with a tensor stay elementwise.
    ("torch.max(M, 1).values + torch.min(M, 1).values * M.max(1).indices",
     lambda M: torch.max(M, 1).values + torch.min(M, 1).values * M.max(1).indices),
    ("torch.max(M, 1, True).values * M + torch.min(M, -1, keepdim=True).indices",
     lambda M: torch.max(M, 1, True).values * M + torch.min(M, -1, keepdim=True).indices),
    ("torch.max(x, y) + torch.min(x, 0.5) + max(x, 0.0)",
     lambda x, y: torch.max(x, y) + torch.minimum(x, torch.tensor(0.5, dtype=x.dtype)) + torch.clamp(x, min=0.0)),
    ("torch.sum(M, 1, True) + torch.mean(M, 0) + torch.prod(M, 1, True) + torch.sum(M, (0, 1))",
     lambda M: torch.sum(M, 1, True) + torch.mean(M, 0) + torch.prod(M, 1, True) + torch.sum(M, (0, 1))),
    ("torch.std(M, 1) + torch.var(M, 1, False) + torch.var(M, 0, True, True)[0, 0:2]",
     lambda M: torch.std(M, 1) + torch.var(M, 1, False) + torch.var(M, 0, True, True)[0, 0:2]),
    ("torch.softmax(M, 1) + F.log_softmax(M, 0) + torch.cumsum(M, 1) + torch.logsumexp(M, 1, True)",
     lambda M: torch.softmax(M, 1) + F.log_softmax(M, 0) + torch.cumsum(M, 1) + torch.logsumexp(M, 1, True)),
    ("torch.argmax(M, 1) * torch.amax(M, 1) + torch.argmin(M, 1, True)[:, 0] * torch.amin(M, 1)",
     lambda M: torch.argmax(M, 1) * torch.amax(M, 1) + torch.argmin(M, 1, True)[:, 0] * torch.amin(M, 1)),
    ("torch.norm(M, 2, 1) + torch.norm(M, 1, 0, True)[0, 0:2] + torch.linalg.vector_norm(M, 3, 1)",
     lambda M: torch.norm(M, 2, 1) + torch.norm(M, 1, 0, True)[0, 0:2] + torch.linalg.vector_norm(M, 3, 1)),
    ("torch.sort(M, 1, True).values + torch.topk(M, 2, 1, False).values.sum() + torch.median(M, 1).values.sum()"
     " + torch.kthvalue(M, 2, 1, True).values.sum()",
     lambda M: torch.sort(M, 1, True).values + torch.topk(M, 2, 1, False).values.sum()
     + torch.median(M, 1).values.sum() + torch.kthvalue(M, 2, 1, True).values.sum()),
    ("torch.cross(S, S * S, 0)", lambda S: torch.cross(S, S * S, 0)),
    # Keyword spellings of the constructors' positional parameters.
    ("torch.linspace(3, 10, steps=3) * x + torch.arange(0, 3, step=1) * x + torch.eye(n=3) @ x",
     lambda x: torch.linspace(3, 10, steps=3, dtype=x.dtype) * x + torch.arange(0, 3, step=1) * x
     + torch.eye(n=3, dtype=x.dtype) @ x),
    # Results with values and indices unpacked; tuples unpacked, as Python swaps.
    ("values, indices = torch.sort(x)\nvalues * indices", lambda x: torch.sort(x)[0] * torch.sort(x)[1]),
    ("v, i = torch.max(M, 1)\n_, j = torch.topk(x, 2)\nv * i + j.sum() * x[0:2]",
     lambda M, x: torch.max(M, 1)[0] * torch.max(M, 1)[1] + torch.topk(x, 2)[1].sum() * x[0:2]),
    ("a, b = x, y\na, b = b, a * 2\na * b", lambda x, y: y * (x * 2)),
    ("torch.max(M, 1)[0] * torch.sort(x)[1][0:2] + torch.topk(x, 2)[0] + torch.median(M, 1)[-2]",
     lambda M, x: torch.max(M, 1)[0] * torch.sort(x)[1][0:2] + torch.topk(x, 2)[0] + torch.median(M, 1)[-2]),
    # A literal list repeated, as Python repeats it.
    ("torch.tensor([0.5] * 3) * x + stack([x] * 2)", lambda x: torch.tensor([0.5] * 3, dtype=x.dtype) * x
     + torch.stack([x] * 2)),
    # Stopping the gradient.
    (DETACHED := "x * x.detach() + torch.detach(y) * y", lambda x, y: x * x.detach() + torch.detach(y) * y),
]
# gradcheck compares autograd with finite differences of the mathematics, which go through a detach: there
# autograd differs on purpose, and the comparison with PyTorch written directly is the check.
NOT_THE_MATHEMATICS = {DETACHED}


def _tensors(source: str) -> tuple[object, dict[str, torch.Tensor]]:
    program = parse(source)
    return program, make_inputs(program.inputs, {n: SPECS[n] for n in program.inputs}, dtype="float64")


def _float_output(outputs) -> torch.Tensor:
    return sum(o.sum() for o in outputs if o.is_floating_point())


@pytest.mark.parametrize("source, reference", CASES, ids=[s for s, _ in CASES])
def test_values_and_gradients_are_pytorchs_and_pass_gradcheck(source, reference):
    program, tensors = _tensors(source)
    check(program, tensors)
    ours = evaluate(program, tensors).outputs
    names = reference.__code__.co_varnames[:reference.__code__.co_argcount]
    theirs = reference(**{n: tensors[n] for n in names})
    assert len(ours) == 1
    torch.testing.assert_close(ours[0], theirs, rtol=0, atol=0)   # the same operations: the same bits

    variables = [n for n in program.inputs if tensors[n].requires_grad]
    ours_grads = torch.autograd.grad(_float_output(ours), [tensors[n] for n in variables], allow_unused=True,
                                     materialize_grads=True)
    theirs_grads = torch.autograd.grad(_float_output([theirs]), [tensors[n] for n in variables],
                                       allow_unused=True, materialize_grads=True)
    for a, b in zip(ours_grads, theirs_grads):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    f = program.as_function()
    fixed = {n: t for n, t in tensors.items() if n not in variables}

    def of_variables(*leaves: torch.Tensor) -> torch.Tensor:
        given = dict(fixed, **dict(zip(variables, leaves)))
        return f(*(given[n] for n in program.inputs))[0]

    leaves = tuple(tensors[n].detach().clone().requires_grad_(True) for n in variables)
    if source not in NOT_THE_MATHEMATICS:
        assert torch.autograd.gradcheck(of_variables, leaves, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("source, reference", CASES[::3], ids=[s for s, _ in CASES[::3]])
def test_explore_gives_the_same_gradients(source, reference):
    program, tensors = _tensors(source)
    ex = explorer.explore(source, inputs={n: SPECS[n] for n in program.inputs}, dtype="float64", device="cpu")
    theirs = reference(**{n: tensors[n] for n in reference.__code__.co_varnames[:reference.__code__.co_argcount]})
    variables = [n for n in program.inputs if tensors[n].requires_grad]
    expected = torch.autograd.grad(_float_output([theirs]), [tensors[n] for n in variables], allow_unused=True,
                                   materialize_grads=True)
    for name, grad in zip(variables, expected):
        torch.testing.assert_close(ex.grads[name], grad)


def test_every_name_binding_is_a_version_with_its_own_label():
    program = parse("h = x + 1\nh = h * 2\nh += 1\nx = x * h\nx")
    assert [name for name, _ in program.assignments] == ["h", "h#2", "h#3", "x#2"]
    assert program.inputs == ("x",) and program.output_names == ("x#2",)
    ex = explorer.explore("h = x + 1\nh = h * 2\nh += 1\nx = x * h\nx", x=2.0, device="cpu")
    labels = [n.label for n in ex.nodes if n.label]
    assert labels == ["x#2", "h#3", "h#2", "h", "x"]              # in the engine's order, as the step-through
    steps = "\n".join(step.text for step in ex.graph.steps)
    assert "∂L/∂h#3" in steps and "∂L/∂h#2" in steps
    script = pytorch_script("h = x + 1\nh = h * 2\nh += 1\nx = x * h\nx", {"x": 2.0})
    assert "h_2 = h * 2  # h#2 in the explorer's graph" in script and "x_2 = x * h_3  # x#2" in script


def test_e_and_pi_are_constants_until_the_user_binds_them():
    assert parse("e * x").inputs == ("x",)
    program = parse("y = e * x\ne = y + 1\ne * pi")
    assert [name for name, _ in program.assignments] == ["y", "e"]
    x = torch.tensor([2.0], dtype=torch.float64)
    assert evaluate(program, {"x": x}).outputs[0].item() == pytest.approx((math.e * 2 + 1) * math.pi)
    assert parse("torch.e + x").outputs[0].args[0].name == "e"    # torch.e stays the constant
    with pytest.raises(ExpressionError, match="is a function name"):
        parse("sin = x")


def test_keywords_count_for_the_arguments_they_stand_for():
    assert parse("torch.cumsum(M, dim=1)").outputs[0].kwargs == (("dim", 1),)
    with pytest.raises(ExpressionError, match="cumsum\\(\\) takes 2 arguments, got 1"):
        parse("torch.cumsum(M)")
    with pytest.raises(ExpressionError, match="gets dim twice: as argument 2 and as dim="):
        parse("torch.cumsum(M, 1, dim=1)")
    with pytest.raises(ExpressionError, match="takes 3 arguments, got 2"):
        parse("M.transpose(dim0=1)")


def test_constant_tensors_are_sized_by_the_dry_run_and_keep_torchs_dtypes():
    x = torch.ones(3, dtype=torch.float64)
    out = evaluate(parse("(torch.arange(3), torch.arange(3.), torch.tensor([0, 2]), torch.tensor([0.5]) * x)"),
                   {"x": x}).outputs
    assert [o.dtype for o in out] == [torch.int64, torch.float64, torch.int64, torch.float64]
    cost = check(parse("torch.ones(2, 3) * x[0] + torch.zeros((2, 3))"), {"x": x})
    assert cost.output_shapes == [(2, 3)]
    with pytest.raises(ExpressionError, match="numbers written out"):
        parse("torch.tensor([x[0], x[1]])")


def test_a_pair_of_values_and_indices_must_be_picked_from():
    with pytest.raises(ExpressionError, match=r"torch.sort\(x\) gives values and indices: pick one"):
        parse("torch.sort(x) * 2")
    with pytest.raises(ExpressionError, match="picks from a result with values and indices"):
        parse("x.values")
    with pytest.raises(ExpressionError, match="gives one tensor"):
        parse("torch.sin(x).values")
    max_alone, max_values = parse("max(M, dim=0)").outputs[0], parse("torch.max(M, dim=0).values").outputs[0]
    assert max_alone.op == max_values.op == "values" and max_alone.args[0].op == "max"


def test_detach_shows_where_the_gradient_stops():
    ex = explorer.explore("d = y.detach()\nx * d + x * y.detach()", x="[1.0, 2.0]", y="[3.0, 4.0]", device="cpu")
    assert ex.grads["x"].tolist() == [6.0, 8.0] and "y" not in ex.graph.leaves   # no path reaches y
    constants = sorted(label for n in ex.nodes for label in n.constants.values())
    assert constants == ["d = y.detach()", "y.detach() (line 2, column 13)"]
    dot = ex.to_dot("annotated")
    assert 'label="d = y.detach()\\nconstant' in dot and "no grad" in dot


def test_class_indices_are_an_integer_input_without_a_gradient():
    ex = explorer.explore("F.cross_entropy(z, k)", z="rand(2, 3)", k="tensor([0, 2])", device="cpu")
    assert ex.inputs["k"].dtype == torch.int64 and set(ex.grads) == {"z"} and "k" not in ex.graph.leaves
    floats = make_inputs(("k",), {"k": "[0, 2]"})["k"]   # a plain list stays a float input
    assert floats.dtype == torch.float32 and floats.requires_grad
    given = make_inputs(("k",), {"k": torch.tensor([0, 2])})["k"]   # so does an int tensor from Python stay whole
    assert given.dtype == torch.int64 and not given.requires_grad


def test_a_v_of_whole_numbers_is_the_outputs_dtype():
    ex = explorer.explore("x * 2", x="[1.0, 2.0]", v="tensor([1, 0])", device="cpu")
    assert ex.grads["x"].tolist() == [2.0, 0.0] and ex.v[0].dtype == torch.float32
    assert "v = torch.tensor([1, 0]).to(dtype).reshape(f.shape)" in pytorch_script("x * 2", {"x": "[1.0, 2.0]"},
                                                                                   v="tensor([1, 0])")


# --- Issue 20 ---------------------------------------------------------------------------------------------

def test_a_name_used_only_as_a_value_is_an_input_and_the_reader_is_told():
    program = parse("F.binary_cross_entropy_with_logits(x, t)")
    assert program.inputs == ("x", "t")
    assert program.notes == ("`t` is an input here, not the function `t()`",)
    both = parse("t(M) @ b + t")             # called, it is the function; as a value, the input
    assert both.inputs == ("M", "b", "t") and both.outputs[0].args[0].args[0].op == "t"
    assert parse("t(M)").notes == ()
    with pytest.raises(ExpressionError, match="is a function name"):
        parse("t = x\nt")                    # binding it would make t(x) mean two things
    with pytest.raises(ExpressionError, match="torch.t is a function"):
        parse("torch.t + x")
    ex = explorer.explore("F.binary_cross_entropy_with_logits(x, t)", x="[0.3, -1.0]", t="[0.0, 1.0]", device="cpu")
    assert "t" in ex.graph.leaves and ex.program.notes


def test_max_and_min_take_a_dimension_by_position_and_a_tensor_elementwise():
    M = torch.tensor([[0.1, -0.5, 0.8], [1.3, 0.2, -0.4]], dtype=torch.float64)
    for source, expected in [("torch.max(M, 1).values", torch.max(M, 1).values),
                             ("torch.max(M, 1)", torch.max(M, 1).values),       # alone: its values
                             ("torch.min(M, 0).indices", torch.min(M, 0).indices),
                             ("torch.max(M, M.T[0:2, 0:1])", torch.maximum(M, M.T[0:2, 0:1]))]:
        torch.testing.assert_close(evaluate(parse(source), {"M": M}).outputs[0], expected, rtol=0, atol=0)
    # Python's max(x, 0) is not torch's: the reader is told what it means here.
    assert "along dimension 0" in parse("max(x, 0)").notes[0] and parse("torch.max(x, 0)").notes == ()
    with pytest.raises(ExpressionError, match="takes two tensors and nothing else"):
        parse("torch.max(M, M, dim=0)")


def test_tuple_unpacking_runs_the_call_once_and_labels_the_graph():
    program = parse("values, indices = torch.sort(x)\nvalues * indices")
    assert [name for name, _ in program.assignments] == ["values", "indices"]
    calls = []

    def counting(function, args, kwargs, node):
        calls.append(function.name)
        return function.fn(*args, **kwargs)

    evaluate(program, {"x": torch.tensor([0.3, -1.0, 2.0])}, call=counting)
    assert calls.count("sort") == 1
    ex = explorer.explore("values, indices = torch.sort(x)\nvalues * indices", x="[0.3, -1.0, 2.0]", device="cpu")
    assert [n.label for n in ex.nodes if n.label] == ["output", "values", "x"]
    last = parse("v, i = torch.max(M, 1)")    # unpacked on the last line: both are outputs
    assert last.output_names == ("v", "i")
    for source, message in [("a, b, c = torch.sort(x)\na", "gives two results, values and indices"),
                            ("a, b = torch.sin(x)\na", "gives one tensor: there is nothing to unpack"),
                            ("a, b = torch.max(x)\na", "gives one tensor"), ("a, b = x\na", "unpack a result"),
                            ("a, b = x, y, x\na", "2 names (a, b) for 3 values"),
                            ("(a, b), c = torch.sort(x)\nc", "plain names"), ("_, _ = torch.sort(x)", "keeps no result")]:
        with pytest.raises(ExpressionError, match=re.escape(message)):
            parse(source)


def test_messages_say_what_is_wrong_in_a_students_words():
    with pytest.raises(ExpressionError, match=r"\[1.0\] \* 10\*\*7 repeats the list into 10,000,000 numbers"):
        parse("torch.tensor([1.0] * 10**7)")
    with pytest.raises(ExpressionError, match="repeats the list into 1,000,000 numbers"):
        parse("torch.tensor([[1.0] * 1000] * 1000)")   # counted over the nested lists
    raw = ("position", "must be Tensor", "invalid combination", "Dimension out of range", "expected one of")
    for source, words in [("atan2(x, [1.0, 2.0])", "argument 2 of atan2() (other) must be a tensor, not a list"),
                          ("sum(x, 5)", "there is no dimension 5: the only one here is 0"),
                          ("torch.sum(x, x)", "argument 2 of torch.sum() is dim: a whole number written out"),
                          ("torch.max(x, 1)", "there is no dimension 1"),
                          ("F.dropout(x)", "dropout zeroes random elements while training"),
                          ("F.dropout(x, 0.5, True)", "training=False")]:
        with pytest.raises(ExpressionError) as refusal:
            explorer.explore(source, x="[1.0, 2.0]", device="cpu")
        assert words in str(refusal.value) and not any(r in str(refusal.value) for r in raw), str(refusal.value)


@pytest.mark.parametrize("source, message", [
    ("torch.sort(x, 0, True, descending=True).values", "gets descending twice"),
    ("torch.sort(x, 0, 1).values", "this argument takes True or False"),
    ("F.layer_norm(M, (3,), bias=b)", "bias= needs the arguments before it"),
    ("F.linear(x, M, b, bias=b)", "gets bias twice"),
])
def test_positional_keyword_arguments_are_read_like_their_keywords(source, message):
    sort = parse("torch.sort(x, 0, True).values").outputs[0].args[0]
    assert sort.args[1].value == 0 and sort.kwargs == (("descending", True),)
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse(source)
