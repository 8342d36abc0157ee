"""Four ways to a derivative with seed 004's numbers, the V of finite differences, and the compare command."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer import ExpressionError
from explorer.cli import main
from explorer.compare import METHODS, STEPS, compare, finite_differences, optimal_step

ROOT = Path(__file__).resolve().parents[2]
SEED_004 = "log(x[0]*x[1]) * sin(x[1])"


@pytest.fixture(scope="module")
def seed_004():
    return compare(SEED_004, {"x": "[0.5, 0.75]"}, step=1e-3, dtype="float32", repeat=1)


def test_seed_004_four_ways(seed_004):
    r = seed_004
    assert tuple(r.methods) == METHODS and r.reference == "symbolic"
    # The manual derivative: [sin(x2)/x1, sin(x2)/x2 + log(x1 x2) cos(x2)] = [1.3633, 0.1912].
    torch.testing.assert_close(r.methods["symbolic"]["x"].value,
                               torch.tensor([1.3633, 0.1912], dtype=torch.float64), rtol=0, atol=5e-5)
    assert r.formulas == {"x_0": "sin(x_1)/x_0", "x_1": "log(x_0*x_1)*cos(x_1) + sin(x_1)/x_1"}
    # The seed's forward difference, h = 1e-3 in float32: tensor([1.3619, 0.1919]).
    torch.testing.assert_close(r.methods["forward_difference"]["x"].value, torch.tensor([1.3619, 0.1919]),
                               rtol=0, atol=5e-5)
    for method in ("reverse_mode", "forward_mode"):
        torch.testing.assert_close(r.methods[method]["x"].value, torch.tensor([1.3633, 0.1912]), rtol=0, atol=5e-5)
        assert r.methods[method]["x"].error < 1e-6            # float32 rounding only
    assert r.methods["forward_difference"]["x"].error > 1e-3  # truncation: h/2 · f''
    assert r.methods["central_difference"]["x"].error < r.methods["forward_difference"]["x"].error / 10
    assert all(e.seconds > 0 for by_input in r.methods.values() for e in by_input.values())
    assert r.methods["symbolic"]["x"].error == 0.0 and math.isclose(r.value, math.log(0.375) * math.sin(0.75),
                                                                    rel_tol=1e-6)


def test_the_v_of_finite_differences(seed_004):
    curves = seed_004.step_errors
    assert set(curves) == {"forward float32", "forward float64", "central float32", "central float64"}
    assert [h for h, _ in curves["forward float64"]] == list(STEPS)
    for name, curve in curves.items():
        errors = dict(curve)
        h_best, best = seed_004.best_steps()[name]
        assert errors[1e-1] > best < errors[1e-12]           # truncation on the right, round-off on the left
        kind, precision = name.split()
        assert optimal_step(kind, precision) / 100 <= h_best <= optimal_step(kind, precision) * 100
    best = {name: e for name, (_, e) in seed_004.best_steps().items()}
    assert best["forward float64"] < best["forward float32"] and best["central float64"] < best["forward float64"]
    # Truncation: halving the error per decade of h for forward (slope 1), two decades for central (slope 2).
    forward, central = dict(curves["forward float64"]), dict(curves["central float64"])
    assert 5 < forward[1e-2] / forward[1e-3] < 20 and 50 < central[1e-2] / central[1e-3] < 200


def test_partial_derivatives_of_seed_002_are_exact_every_way_but_differences():
    r = compare("(x + y) * (y + 3)", x=1, y=2, repeat=1)
    for method in ("symbolic", "reverse_mode", "forward_mode"):
        assert r.methods[method]["x"].value.tolist() == [5.0] and r.methods[method]["y"].value.tolist() == [8.0]
        assert r.methods[method]["x"].error == 0.0
    assert r.formulas == {"x": "y + 3", "y": "x + 2*y + 3"}


def test_a_function_without_a_symbolic_form_is_measured_against_float64_reverse_mode():
    r = compare("det(M)", M="rand(5, 5)", repeat=1)
    assert "limited to 4 × 4" in r.symbolic_refusal and r.reference == "reverse_mode in float64"
    assert r.methods["symbolic"]["M"].value is None and r.methods["reverse_mode"]["M"].error < 1e-5


def test_finite_differences_as_seed_004_writes_them():
    x = torch.tensor([0.5, 0.75])

    def f(t):
        return torch.log(t[0] * t[1]) * torch.sin(t[1])

    y = f(x)
    by_hand = torch.stack([(f(x + torch.tensor([1e-3, 0])) - y) / 1e-3, (f(x + torch.tensor([0, 1e-3])) - y) / 1e-3])
    assert torch.equal(finite_differences(f, [x], 1e-3)[0], by_hand)


def test_refusals():
    with pytest.raises(ExpressionError, match="scalar function"):
        compare("x * x", x="ones(2)")
    with pytest.raises(ExpressionError, match="at most 100 input elements"):
        compare("sum(x)", x="ones(101)")
    with pytest.raises(ExpressionError, match="step h"):
        compare("x * x", x=1, step=2.0)
    with pytest.raises(ValueError, match="kind"):
        optimal_step("backward", "float32")


def test_compare_command_as_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "explorer", "compare", SEED_004, "--var", "x=[0.5, 0.75]", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data["x"]) == set(METHODS)
    for method, entry in data["x"].items():
        assert set(entry) == {"value", "error", "seconds"} and entry["seconds"] > 0
    assert [round(v, 4) for v in data["x"]["forward_difference"]["value"]] == [1.3619, 0.1919]
    assert data["x"]["symbolic"]["error"] == 0.0 and data["x"]["reverse_mode"]["error"] < 1e-6
    assert data["formulas"]["x_0"] == "sin(x_1)/x_0" and data["function"] == "log(x_0*x_1)*sin(x_1)"
    assert data["reference"] == "symbolic" and len(data["step_errors"]["central float32"]) == len(STEPS)


def test_compare_command_text_and_refusals(capsys):
    assert main(["compare", "(x + y) * (y + 3)", "--var", "x=1", "--var", "y=2", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "df/dx = y + 3" in out and "reverse_mode" in out
    assert main(["compare", "x * step", "--var", "x=1", "--var", "step=2", "--json"]) == 2
    assert "clash" in capsys.readouterr().err
    assert main(["compare", "x * x", "--var", "x=ones(3)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: comparing derivatives needs a scalar function") and err.count("\n") == 1
