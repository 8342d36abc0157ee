"""The derivatives lab with the seeds' numbers: Jacobians both ways, Hessians, divergence and Laplacian two ways,
curl, higher order, budgets, and the jacobian command."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer import ExpressionError, parse
from explorer.cli import main
from explorer.derivatives import (
    curl, derivative_graphs, differentiable, divergence, divergence_timings, hessian, higher_order, jacobian,
    jacobian_columns, sin_check,
)

ROOT = Path(__file__).resolve().parents[2]
# Seed 003, as printed.
A = [[0.9670, 0.5487, 0.0196, 0.4444, 0.3262], [0.3794, 0.7918, 0.9998, 0.0907, 0.8979],
     [0.0238, 0.1552, 0.9408, 0.4540, 0.7213], [0.0461, 0.6931, 0.9383, 0.2263, 0.5735],
     [0.1622, 0.9763, 0.6564, 0.8489, 0.6759], [0.1780, 0.4534, 0.0268, 0.5234, 0.3507],
     [0.1702, 0.2508, 0.9425, 0.4099, 0.5830], [0.7704, 0.2154, 0.5592, 0.2581, 0.9374],
     [0.5028, 0.6831, 0.5410, 0.7700, 0.9633], [0.1757, 0.9128, 0.7975, 0.6231, 0.2041]]
B = [0.2230, 0.8327, 0.9930, 0.4835, 0.0355, 0.7217, 0.7977, 0.3526, 0.9574, 0.4611]
X = [0.0143, 0.9790, 0.6805, 0.8771, 0.0953]
SEED_003_GRADIENT = [-0.5727, -2.9134, -3.6513, -2.2281, -2.8390]


# --- Jacobian -----------------------------------------------------------------------------------------

def test_jacobian_of_sin_affine_is_cos_times_A_and_its_column_sums_are_seed_003s_gradient():
    r = jacobian("sin(A @ x + b)", {"A": A, "x": X, "b": B}, wrt=["x"], dtype="float64")
    At, xt, bt = (torch.tensor(v, dtype=torch.float64) for v in (A, X, B))
    expected = torch.cos(At @ xt + bt)[:, None] * At          # J = diag(cos(Ax + b)) A
    torch.testing.assert_close(r.jacobians["x"], expected, rtol=1e-6, atol=1e-7)   # inputs pass through float32
    # backward(ones) = 1ᵀJ = cos(Ax + b)ᵀA; the seed prints A, b and x to 4 decimals, which moves it by < 4e-4.
    torch.testing.assert_close(r.jacobians["x"].sum(0), torch.tensor(SEED_003_GRADIENT, dtype=torch.float64),
                               rtol=0, atol=5e-4)
    assert r.difference < 1e-12                                # forward mode agrees to rounding
    assert (r.outputs, r.inputs, r.cheaper) == (10, 5, "forward")
    assert "Forward mode is cheaper" in r.verdict and r.hessians is None


def test_jacobian_with_respect_to_every_input_and_which_mode_is_cheaper():
    r = jacobian("sin(A @ x + b)", {"A": "rand(10, 5)", "x": "rand(5)", "b": "rand(10)"})
    assert {n: tuple(J.shape) for n, J in r.jacobians.items()} == {"A": (10, 50), "x": (10, 5), "b": (10, 10)}
    assert (r.passes, r.cheaper) == ({"reverse": 10, "forward": 65}, "reverse")
    torch.testing.assert_close(r.jacobians["b"], torch.diag(torch.diagonal(r.jacobians["b"])))
    assert jacobian("x * y", x=2, y=3).cheaper == "reverse"
    assert jacobian("sin(x)", x="[0.0, 1.0]").cheaper == "either"


def test_several_outputs_are_rows_one_after_the_other_and_loops_give_the_same_jacobian():
    expected = torch.tensor([[2.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    for vectorize in (True, False):
        r = jacobian("(x * x, sum(x))", {"x": "[1.0, 2.0]"}, vectorize=vectorize)
        torch.testing.assert_close(r.jacobians["x"], expected)
        assert r.difference == 0.0 and r.output_shapes == [(2,), ()]
    assert torch.equal(jacobian_columns(lambda x: x**3, [torch.tensor([1.0, 2.0])])[0], torch.diag(torch.tensor([3.0, 12.0])))


def test_hessian_of_x_dot_x_is_2I():  # seed 002
    r = jacobian("dot(x, x)", {"x": "ones(3)"})
    torch.testing.assert_close(r.hessians["x"]["x"], 2 * torch.eye(3))
    torch.testing.assert_close(r.jacobians["x"], torch.full((1, 3), 2.0))
    h = hessian("x @ x", x="rand(4)", dtype="float64")
    torch.testing.assert_close(h.hessians["x"]["x"], 2 * torch.eye(4, dtype=torch.float64))
    torch.testing.assert_close(h.gradients["x"], 2 * differentiable("x", x="rand(4)", dtype="float64").outputs[0])
    assert h.symmetric()


def test_hessian_of_a_mixed_function_matches_its_formula():
    h = hessian("x[0]**2 * x[1] + sin(x[2] * x[0])", x="[1.0, 2.0, 3.0]", dtype="float64").hessians["x"]["x"]
    x0, x1, x2 = 1.0, 2.0, 3.0
    s = torch.sin(torch.tensor(x2 * x0, dtype=torch.float64))
    c = torch.cos(torch.tensor(x2 * x0, dtype=torch.float64))
    expected = torch.stack([
        torch.stack([2 * x1 - x2**2 * s, torch.tensor(2 * x0, dtype=torch.float64), c - x0 * x2 * s]),
        torch.tensor([2 * x0, 0.0, 0.0], dtype=torch.float64),
        torch.stack([c - x0 * x2 * s, torch.tensor(0.0, dtype=torch.float64), -x0**2 * s])])
    torch.testing.assert_close(h, expected)


def test_the_hessian_has_every_pair_of_inputs_as_torch_autograd_functional_hessian():
    source = "x[0]**2 * y + sin(x[1] * y) * x.sum()"
    x, y = torch.tensor([0.3, 0.7], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64)
    expected = torch.autograd.functional.hessian(lambda x, y: (x[0]**2 * y + torch.sin(x[1] * y) * x.sum()).sum(),
                                                 (x, y))
    h = hessian(source, x="[0.3, 0.7]", y=1.5, dtype="float64")
    r = jacobian(source, x="[0.3, 0.7]", y=1.5, dtype="float64")
    for i, a in enumerate("xy"):
        for j, b in enumerate("xy"):
            torch.testing.assert_close(h.hessians[a][b], expected[i][j].reshape(h.hessians[a][b].shape))
            torch.testing.assert_close(r.hessians[a][b], h.hessians[a][b])
    torch.testing.assert_close(h.hessians["x"]["y"], h.hessians["y"]["x"].T)   # mixed partials agree
    assert h.symmetric() and h.matrix().shape == (3, 3) and torch.equal(r.hessian_matrix(), h.matrix())


def test_jacobian_blocks_of_several_outputs_and_inputs():
    r = jacobian("(x * y, x.sum() * y)", x="[1.0, 2.0]", y=3)
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0])
    expected = torch.autograd.functional.jacobian(lambda x, y: (x * y, (x.sum() * y).reshape(())), (x, y))
    blocks = r.blocks()
    assert len(blocks) == 2 and r.matrix().shape == (3, 3)
    for k, block in enumerate(blocks):
        for i, name in enumerate("xy"):
            torch.testing.assert_close(block[name], expected[k][i].reshape(block[name].shape))


def test_inputs_of_whole_numbers_are_held_fixed():
    r = jacobian("F.cross_entropy(z, k) + w.sum()", z="rand(2, 3)", k="tensor([0, 2])", w="[1.0]", dtype="float64")
    assert list(r.jacobians) == ["z", "w"] and list(r.hessians) == ["z", "w"]
    assert list(jacobian("F.cross_entropy(z, k)", z="rand(2, 3)", k="tensor([0, 2])", wrt=["k", "z"]).jacobians) \
        == ["z"]
    with pytest.raises(ExpressionError, match="whole numbers"):
        jacobian("k * 1.5", k="tensor([1, 2])")
    with pytest.raises(ExpressionError, match="whole numbers"):
        jacobian("F.cross_entropy(z, k)", z="rand(2, 3)", k="tensor([0, 2])", wrt=["k"])


def test_hessian_needs_a_scalar_function():
    with pytest.raises(ExpressionError, match="scalar function"):
        hessian("x * x", x="ones(3)")


# --- Divergence, Laplacian, curl ----------------------------------------------------------------------

def test_div_grad_of_x_dot_x_is_6_both_ways():  # seed 002
    d = divergence("dot(x, x)", {"x": "ones(3)"}, laplacian=True)
    assert (d.with_ones, d.with_identity, d.diagonal, d.agree) == (6.0, 6.0, True, True)
    torch.testing.assert_close(d.jacobian, 2 * torch.eye(3))
    assert "diagonal" in d.verdict and "cheaper" in d.verdict


def test_the_ones_trick_is_wrong_for_a_non_diagonal_jacobian():
    d = divergence("stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"})
    # J = [[x1, x0, 0], [0, x2, x1], [x2, 0, x0]]: trace 2 + 3 + 1, all entries 12.
    assert (d.with_identity, d.with_ones, d.off_diagonal_sum) == (6.0, 12.0, 6.0)
    assert not d.diagonal and not d.agree and "wrong" in d.verdict
    torch.testing.assert_close(d.jacobian, torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 2.0], [3.0, 0.0, 1.0]]))


def test_off_diagonal_entries_that_cancel_are_still_reported():
    d = divergence("stack([x[1], -x[0]])", {"x": "[1.0, 2.0]"})
    assert d.agree and not d.diagonal and "luck" in d.verdict


def test_a_field_of_one_number_inputs_takes_them_in_alphabetical_order():
    d = divergence("(x*y, y*z, z*x)", z=3, x=1, y=2)
    assert d.coordinates == ("x", "y", "z") and (d.with_identity, d.with_ones) == (6.0, 12.0)


def test_timing_as_n_grows_both_ways():
    timings = divergence_timings("sin(x)", (10, 100), repeat=1)
    assert [t.n for t in timings] == [10, 100]
    assert all(t.agree and t.seconds_ones > 0 and t.seconds_identity > 0 for t in timings)
    assert not any(t.agree for t in divergence_timings("x * sum(x)", (10, 100), repeat=1))
    d = divergence("stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"}, sizes=(3, 10))
    assert d.timings[0].refusal is None and "as many outputs as inputs" in d.timings[1].refusal


def test_curl_of_a_rotation():
    assert curl("stack([-x[1], x[0], 0*x[2]])", {"x": "[1.0, 2.0, 3.0]"}).curl.tolist() == [0, 0, 2]
    r = curl("(-y, x, 0*z)", x=1, y=2, z=3)
    assert r.curl.tolist() == [0, 0, 2] and r.coordinates == ("x", "y", "z")
    # ∇×(yz, xz, xy) = 0 (a gradient field); ∇×(0, 0, x²) = (0, -2x, 0).
    assert curl("(y*z, x*z, x*y)", x=1, y=2, z=3).curl.tolist() == [0, 0, 0]
    assert curl("stack([0*x[0], 0*x[1], x[0]**2])", x="[1.5, 0.0, 0.0]").curl.tolist() == [0, -3, 0]
    with pytest.raises(ExpressionError, match="R³"):
        curl("x", {"x": "ones(2)"})


# --- Higher order -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sin_second_derivative_is_minus_sin_bit_for_bit(dtype):  # seed 002
    check = sin_check(1001, dtype)
    assert check.exact and check.first_error == 0.0 and check.second_error == 0.0
    r = higher_order("sin(x)", {"x": "linspace(0, 1, 1001)"}, order=2, graphs=False, dtype=dtype)
    assert torch.equal(r.derivatives[2], -torch.sin(r.x)) and torch.equal(r.derivatives[1], torch.cos(r.x))
    assert r.exact == [True, True, True] and r.formulas[2] == r"- \sin{\left(x \right)}"


def test_nth_derivatives_elementwise():
    r = higher_order("x**3 - 2*x", {"x": "[0.5, 1.0, 2.0]"}, order=4, graphs=False, dtype="float64")
    x = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    expected = [x**3 - 2 * x, 3 * x**2 - 2, 6 * x, torch.full_like(x, 6.0), torch.zeros_like(x)]
    for got, want in zip(r.derivatives, expected):
        torch.testing.assert_close(got, want)
    sin4 = higher_order("sin(x)", {"x": "linspace(0, 1, 11)"}, order=4, graphs=False)
    torch.testing.assert_close(sin4.derivatives[4], torch.sin(sin4.x))


def test_the_graph_of_the_derivative_beside_the_original():
    r = higher_order("sin(x)", {"x": "linspace(0, 1, 5)"})
    assert "SinBackward0" in r.original_dot and "CosBackward0" not in r.original_dot
    assert "CosBackward0" in r.derivative_dot and "MulBackward0" in r.derivative_dot
    original, derivative = derivative_graphs(parse("x**3"), {"x": torch.ones(2)})
    assert "PowBackward0" in original and "PowBackward0" in derivative and derivative != original


def test_higher_order_refusals():
    with pytest.raises(ExpressionError, match="know your Jacobian"):
        higher_order("x * sum(x)", {"x": "[1.0, 2.0]"})
    with pytest.raises(ExpressionError, match="one input"):
        higher_order("x * y", x=1, y=2)
    with pytest.raises(ExpressionError, match="order"):
        higher_order("sin(x)", x=1, order=0)
    with pytest.raises(ExpressionError, match="element by element"):
        higher_order("sum(x)", x="ones(3)")


# --- Budgets and refusals -----------------------------------------------------------------------------

def test_budgets_are_checked_before_anything_is_computed(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the Jacobian was computed before the budget was checked")

    monkeypatch.setattr(torch.autograd.functional, "jacobian", never)
    with pytest.raises(ExpressionError, match=r"2,000 × 2,000 = 4,000,000 entries \(at most 1,000,000\)"):
        jacobian("sin(x)", {"x": "ones(2000)"})
    with pytest.raises(ExpressionError, match="entries"):
        jacobian("sin(x)", {"x": "ones(10)"}, max_entries=50)
    with pytest.raises(ExpressionError, match="passes over the function"):
        jacobian("sin(x)", {"x": "ones(10)"}, max_work=100)
    with pytest.raises(ExpressionError, match="Jacobian of the field would have"):
        divergence("sin(x)", {"x": "ones(1001)"})


def test_a_hessian_over_budget_leaves_the_jacobian():
    r = jacobian("dot(x, x)", {"x": "ones(1100)"})
    assert r.jacobians["x"].shape == (1, 1100) and r.hessians is None
    assert "Hessian in x would have 1,100 × 1,100" in r.hessian_refusal


def test_refusals_are_expression_errors():
    with pytest.raises(ExpressionError, match="no inputs"):
        jacobian("2 + 3")
    with pytest.raises(ExpressionError, match="bool values"):
        jacobian("x > 0", x=1)
    with pytest.raises(ExpressionError, match="'y' is not an input"):
        jacobian("sin(x)", x=1, wrt=["y"])
    with pytest.raises(ExpressionError, match="as many outputs as inputs"):
        divergence("sum(x)", x="ones(3)")
    with pytest.raises(ExpressionError, match="scalar function"):
        divergence("x", x="ones(3)", laplacian=True)
    with pytest.raises(ValueError, match="max_entries"):
        jacobian("x", x=1, max_entries=0)
    with pytest.raises(ValueError, match="repeat"):
        divergence("x", x=1, repeat=0)
    with pytest.raises(ValueError, match="sizes"):
        divergence("x", x=1, sizes=5)


def test_results_are_plain_picklable_data():  # the app runs them in a worker process
    for result in (jacobian("dot(x, x)", x="ones(2)"), divergence("x*x", x="ones(2)", sizes=(2,)),
                   curl("(-y, x, 0*z)", x=1, y=2, z=3), higher_order("sin(x)", x="ones(2)")):
        copy = pickle.loads(pickle.dumps(result))
        assert type(copy) is type(result)


# --- The jacobian command -----------------------------------------------------------------------------

def test_jacobian_command_as_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "explorer", "jacobian", "sin(A @ x + b)", "--var", "A=rand(10,5)",
                           "--var", "x=rand(5)", "--var", "b=rand(10)", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [len(data["jacobian"]["x"]), len(data["jacobian"]["x"][0])] == [10, 5]
    assert len(data["jacobian"]["A"][0]) == 50 and "hessian" not in data
    assert data["passes"] == {"reverse": 10, "forward": 65} and data["cheaper"] == "reverse"


def test_jacobian_command_prints_every_block_of_the_hessian(capsys):
    assert main(["jacobian", "x**2 * y", "--var", "x=3", "--var", "y=5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hessian"] == {"x": {"x": [[10.0]], "y": [[6.0]]}, "y": {"x": [[6.0]], "y": [[0.0]]}}
    assert main(["jacobian", "x**2 * y", "--var", "x=3", "--var", "y=5"]) == 0
    assert "Hessian block d2f/dx dy: 1 × 1" in capsys.readouterr().out


def test_jacobian_command_prints_the_hessian_of_a_scalar_function(capsys):
    assert main(["jacobian", "dot(x, x)", "--var", "x=ones(3)", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["jacobian"] == {"x": [[2.0, 2.0, 2.0]]}
    assert data["hessian"] == {"x": {"x": [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]}}
    assert main(["jacobian", "sin(A @ x)", "--var", "A=rand(3,2)", "--var", "x=rand(2)", "--wrt", "x"]) == 0
    out = capsys.readouterr().out
    assert "J with respect to x: 3 × 2" in out and "Forward mode is cheaper" in out


def test_jacobian_command_refuses_bad_input_with_one_line(capsys):
    assert main(["jacobian", "sin(x)", "--var", "x=ones(2000)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the Jacobian would have") and err.count("\n") == 1


# --- Robustness ---------------------------------------------------------------------------------------

def test_every_lab_function_returns_or_refuses_on_every_kind_of_function():
    """Each lab function on functions of every family: a result or an ExpressionError, never another exception."""
    from explorer.compare import compare
    from explorer.mechanics import accumulation, leaf_and_non_leaf, second_backward
    from tests.unit.test_symbolic import EXAMPLES, SPECS

    sources = EXAMPLES[::6] + ["x", "x > 0", "where(x > 0.5, x, 0*x)", "abs(x)", "(x, y)", "1/x", "log(-x)"]
    lessons = (jacobian, higher_order, divergence, curl, hessian, second_backward, accumulation, leaf_and_non_leaf)
    for source in sources:
        specs = {n: SPECS[n] for n in parse(source).inputs}
        for function in lessons + (compare,):
            try:
                function(source, specs, **({"repeat": 1} if function is compare else {}))
            except ExpressionError:
                pass
