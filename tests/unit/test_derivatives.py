"""The derivatives lab with the seeds' numbers: Jacobians, Hessians, div/Laplacian/curl, higher order,
four ways to a derivative, autograd mechanics."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer import ExpressionError, parse
from explorer.compare import compare
from explorer.derivatives import curl, divergence, exact_second_derivative_of_sin, higher_order, jacobian
from explorer.mechanics import accumulation, leaf_and_non_leaf, second_backward
from explorer.symbolic import symbolic_gradient

ROOT = Path(__file__).resolve().parents[2]
A = [[0.9670, 0.5487, 0.0196, 0.4444, 0.3262], [0.3794, 0.7918, 0.9998, 0.0907, 0.8979],
     [0.0238, 0.1552, 0.9408, 0.4540, 0.7213], [0.0461, 0.6931, 0.9383, 0.2263, 0.5735],
     [0.1622, 0.9763, 0.6564, 0.8489, 0.6759], [0.1780, 0.4534, 0.0268, 0.5234, 0.3507],
     [0.1702, 0.2508, 0.9425, 0.4099, 0.5830], [0.7704, 0.2154, 0.5592, 0.2581, 0.9374],
     [0.5028, 0.6831, 0.5410, 0.7700, 0.9633], [0.1757, 0.9128, 0.7975, 0.6231, 0.2041]]
B = [0.2230, 0.8327, 0.9930, 0.4835, 0.0355, 0.7217, 0.7977, 0.3526, 0.9574, 0.4611]
X = [0.0143, 0.9790, 0.6805, 0.8771, 0.0953]


def test_jacobian_of_sin_affine_is_cos_times_A_and_v_ones_sums_its_rows():  # seed 003
    r = jacobian("sin(mv(A, x) + b)", {"A": A, "x": X, "b": B})
    At, xt, bt = (torch.tensor(v, dtype=torch.float64) for v in (A, X, B))
    expected = torch.cos(At @ xt + bt)[:, None] * At
    torch.testing.assert_close(r.jacobians["x"], expected)
    torch.testing.assert_close(r.jacobians["x"].sum(0), torch.tensor([-0.5727, -2.9134, -3.6513, -2.2281, -2.8390],
                                                                     dtype=torch.float64), atol=5e-4, rtol=0)
    assert r.cheaper == "forward" or r.outputs <= r.inputs or r.cheaper == "reverse"
    assert r.hessians is None


def test_hessian_of_x_dot_x_is_2I():  # seed 002
    r = jacobian("dot(x, x)", {"x": "ones(3)"})
    torch.testing.assert_close(r.hessians["x"], 2 * torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(r.jacobians["x"], torch.full((1, 3), 2.0, dtype=torch.float64))
    assert r.cheaper == "reverse"


def test_div_grad_of_x_dot_x_is_6_both_ways():  # seed 002
    d = divergence("dot(x, x)", {"x": "ones(3)"}, laplacian=True)
    assert float(d.with_ones) == 6 and float(d.with_identity) == 6 and d.diagonal and d.agree


def test_the_ones_trick_is_wrong_for_a_non_diagonal_jacobian():
    d = divergence("stack([x[0]*x[1], x[1]*x[2], x[2]*x[0]])", {"x": "[1.0, 2.0, 3.0]"})
    assert float(d.with_identity) == 2 + 3 + 1 and float(d.with_ones) != float(d.with_identity)
    assert not d.diagonal and not d.agree


def test_curl():
    assert curl("stack([-x[1], x[0], 0*x[2]])", {"x": "[1.0, 2.0, 3.0]"}).tolist() == [0, 0, 2]
    with pytest.raises(ExpressionError, match="R³"):
        curl("x", {"x": "ones(2)"})


def test_sin_second_derivative_is_minus_sin_bit_for_bit():  # seed 002
    exact, difference = exact_second_derivative_of_sin()
    assert exact and difference == 0.0
    r = higher_order("sin(x)", {"x": "linspace(0, 1, 11)"}, order=4)
    torch.testing.assert_close(r.derivatives[4], torch.sin(r.x))
    assert "digraph" in r.derivative_dot


def test_partial_derivatives_by_all_four_ways():  # seed 002: (x + y)(y + 3) at 1, 2
    r = compare("(x + y) * (y + 3)", {"x": 1, "y": 2}, dtype="float64")
    for method in ("symbolic", "reverse_mode", "forward_mode"):
        assert r.methods[method]["x"].value.tolist() == [5.0] and r.methods[method]["y"].value.tolist() == [8.0]


def test_finite_differences_of_seed_004():
    r = compare("log(x[0]*x[1]) * sin(x[1])", {"x": [0.5, 0.75]}, step=1e-3, dtype="float32")
    torch.testing.assert_close(r.methods["forward_difference"]["x"].value, torch.tensor([1.3619, 0.1919]),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(r.methods["symbolic"]["x"].value.float(), torch.tensor([1.3633, 0.1912]),
                               atol=1e-4, rtol=0)
    assert r.methods["reverse_mode"]["x"].error < 1e-6 < r.methods["forward_difference"]["x"].error
    errors = dict(r.step_errors["forward float32"])
    assert errors[1e-1] > errors[1e-3] < errors[1e-7]   # the V: truncation right, round-off left


def test_symbolic_is_built_from_the_tree():
    formulas = symbolic_gradient(parse("w = x**2\nexp(w) * y"))
    assert str(formulas["y"]) == "exp(x**2)"
    with pytest.raises(ExpressionError, match="symbolic"):
        symbolic_gradient(parse("sum(x)"))


def test_autograd_mechanics_lessons():  # seed 001
    events = second_backward("x**3 + 2*x**2 + 8*x", {"x": 4})
    assert events[0].grad == "tensor([72.])" and "backward through the graph a second time" in events[1].message
    grads = [e.grad for e in accumulation("x**3 + 2*x**2 + 8*x", {"x": 4})]
    assert grads == ["tensor([72.])", "tensor([144.])", "tensor([216.])", "tensor([0.])"]
    lesson = leaf_and_non_leaf("x**3 + 2*x**2 + 8*x", {"x": 4})
    assert any("not a leaf" in e.message for e in lesson) and lesson[-1].grad == "tensor(1.)"


def test_budgets_are_checked_before_computing():
    with pytest.raises(ExpressionError, match="Jacobian would have"):
        jacobian("sin(x)", {"x": "ones(2000)"})


def test_command_line():
    done = subprocess.run([sys.executable, "-m", "explorer", "jacobian", "sin(A @ x + b)", "--var", "A=rand(10,5)",
                           "--var", "x=rand(5)", "--var", "b=rand(10)", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["jacobian"]["x"]) == 10 and len(data["jacobian"]["x"][0]) == 5 and "hessian" not in data
    done = subprocess.run([sys.executable, "-m", "explorer", "compare", "log(x[0]*x[1]) * sin(x[1])", "--var",
                           "x=[0.5, 0.75]", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data["x"]) == {"symbolic", "forward_difference", "central_difference", "reverse_mode", "forward_mode"}
    assert data["x"]["reverse_mode"]["error"] < 1e-6 and "seconds" in data["x"]["symbolic"]
