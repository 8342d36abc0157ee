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
    for command in ("explore", "graph", "jacobian", "compare", "tsne", "regression", "shot"):
        assert command in result.stdout
    explore_help = cli("explore", "--help")
    assert "--var NAME=SPEC" in explore_help.stdout and "--json" in explore_help.stdout


# -- shot: everything it is given is checked before a server or a browser starts ----------------------

@pytest.mark.parametrize("args, fragment", [
    (("shot",), "give a VIEW"),
    (("shot", "http://example.com/explore", "-o", "a.png"), "a view is a page path"),
    (("shot", "//example.com/explore", "-o", "a.png"), "a view is a page path"),
    (("shot", "explore?f=x#top", "-o", "a.png"), "a view is a page path"),
    (("shot", "jacobian"), "each VIEW needs its own -o FILE"),
    (("shot", "jacobian", "-o", "a.png", "tsne"), "each VIEW needs its own -o FILE"),
    (("shot", "jacobian", "-o", "a.jpg"), "a shot is a .png file"),
    (("shot", "jacobian", "-o", "a.png", "--url", "file:///etc/passwd"), "--url must be the http://"),
    (("shot", "jacobian", "-o", "a.png", "--url", "javascript:alert(1)"), "--url must be the http://"),
    (("shot", "jacobian", "-o", "a.png", "--width", "5"), "--width must be"),
    (("shot", "jacobian", "-o", "a.png", "--scale", "9"), "--scale must be"),
    (("shot", "jacobian", "-o", "a.png", "--click", " "), "--click needs a button's label"),
    (("shot", "jacobian", "-o", "a.png", "--timeout", "0"), "--timeout must be"),
    (("shot", "--list", "docs/shots.txt"), "--list needs --out-dir"),
    (("shot", "--list", "docs/shots.txt", "--out-dir", "out", "--only", "nope"), "--only nope: no such figure"),
    (("shot", "--list", "docs/shots.txt", "--out-dir", "out", "jacobian", "-o", "a.png"), "not both"),
    (("shot", "--list", "no/such/file.txt", "--out-dir", "out"), "no/such/file.txt"),
])
def test_shot_refuses_bad_input_with_exit_2_and_one_line(args, fragment):
    test_bad_input_exits_2_with_one_line(args, fragment)


def test_shot_pairs_each_view_with_its_file_in_order():
    from explorer.cli import build_parser
    from explorer.commands.shot import figures

    args = build_parser().parse_args(["shot", "jacobian?jac_tab=Curl", "-o", "a.png", "--full-page",
                                      "/four-ways", "-o", "b.png", "--width", "1000"])
    assert [(shot.view, shot.full_page, shot.width, str(path)) for shot, path in figures(args)] == [
        ("jacobian?jac_tab=Curl", True, 1000, "a.png"), ("four-ways", True, 1000, "b.png")]


def test_a_bad_line_of_a_list_of_views_is_named(tmp_path):
    listing = tmp_path / "shots.txt"
    listing.write_text("# figures\ncurl 'jacobian?jac_tab=Curl'\ncurl 'four-ways' --bogus\n")
    result = cli("shot", "--list", str(listing), "--out-dir", str(tmp_path))
    assert result.returncode == 2 and "shots.txt, line 3" in result.stderr and "--bogus" in result.stderr


def test_shot_without_playwright_says_what_to_install():
    # The app does not need Playwright; shot does, and says so in one line (exit 1: not the input's fault).
    code = ("import sys; sys.modules['playwright'] = None; from explorer.cli import main; "
            "sys.exit(main(['shot', 'jacobian', '-o', 'a.png']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "pip install" in result.stderr
