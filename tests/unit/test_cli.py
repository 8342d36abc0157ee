"""The command line as a user runs it: a subprocess, JSON on stdout, exit 2 and one line on bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_explore_json_has_outputs_grads_and_nodes():
    result = cli("explore", "x**3 + 2*x**2 + 8*x", "--var", "x=4", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["grads"] == {"x": [72.0]}
    assert data["outputs"] == [[128.0]]
    assert data["v"] == [[1.0]]
    assert isinstance(data["nodes"], list) and len(data["nodes"]) >= 4


def test_explore_several_inputs_and_v():
    result = cli("explore", "sin(A @ x + b)", "--var", "A=rand(10,5)", "--var", "x=rand(5)",
                 "--var", "b=rand(10)", "--v", "ones(10)", "--seed", "3", "--dtype", "float64", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["grads"]["A"]) == 10 and len(data["grads"]["x"]) == 5
    assert data["dtype"] == "float64" and data["seed"] == 3


def test_explore_prints_a_readable_table_without_json():
    result = cli("explore", "(x + y) * (y + 3)", "--var", "x=1", "--var", "y=2")
    assert result.returncode == 0, result.stderr
    assert "d/dx = tensor([5.])" in result.stdout and "d/dy = tensor([8.])" in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (("explore", "__import__('os')", "--json"), "'_'"),
    (("explore", "x +* 2", "--var", "x=1"), "column"),
    (("explore", "x", "--var", "x"), "NAME=SPEC"),
    (("explore", "x", "--var", "x=rand(10**9)"), "elements"),
    (("explore", "x + y", "--var", "x=1"), "no value given for y"),
    (("explore", "x", "--var", "x=1", "--dtype", "int8"), "invalid choice"),
    (("explore",), "SOURCE"),
    (("nonsense",), "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, fragment):
    result = cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_every_command():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("explore", "graph", "jacobian", "compare", "tsne", "regression"):
        assert command in result.stdout
    explore_help = cli("explore", "--help")
    assert "--var NAME=SPEC" in explore_help.stdout and "--json" in explore_help.stdout
