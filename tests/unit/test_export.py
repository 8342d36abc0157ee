"""Export through Graphviz's dot (SVG that parses, PNG bytes, DOT passthrough, clear errors) and the graph command."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from explorer import export
from explorer.cli import main
from explorer.export import format_of, render, save

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = 'digraph { a [label="x = 4"]; a -> b [label="grad 72"] }'


def test_svg_parses_png_has_its_magic_and_dot_passes_through():
    svg = ET.fromstring(render(SMALL, "svg"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "grad 72" in "".join(svg.itertext())
    assert render(SMALL, "png")[:8] == PNG_MAGIC
    assert render(SMALL, "dot") == SMALL.encode()


def test_save_takes_the_format_from_the_suffix(tmp_path):
    assert format_of("g.PNG") == "png" and format_of("g.gv") == "dot" and format_of("g.txt") == "svg"
    assert save(SMALL, tmp_path / "g.png").read_bytes()[:8] == PNG_MAGIC
    assert save(SMALL, tmp_path / "g.gv").read_text() == SMALL
    assert ET.parse(save(SMALL, tmp_path / "g.out", "svg")).getroot().tag.endswith("svg")


def test_small_graphs_laid_out_in_process_are_what_the_dot_program_draws():
    from explorer.views import Request, exploration

    ex = exploration(Request("x**3 + 7*x", (("x", "3"),)))
    assert export._graphviz() is not None   # the library comes with Graphviz
    for graph in (SMALL, ex.to_dot("annotated"), ex.to_dot("torchviz")):
        assert render(graph, "svg", in_process=True) == render(graph, "svg")   # the same bytes, title included
    assert render(SMALL, "png", in_process=True)[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="could not lay the graph out: .*syntax"):   # worded by dot
        render("digraph { a -> }", "svg", in_process=True)


def test_errors_are_one_clear_value_error(monkeypatch):
    with pytest.raises(ValueError, match="format must be one of svg, png, dot"):
        render(SMALL, "pdf")
    with pytest.raises(ValueError, match="could not lay the graph out: .*syntax"):
        render("digraph { a -> }", "svg")
    with pytest.raises(ValueError, match="DOT text"):
        render(b"digraph {}", "svg")
    with pytest.raises(ValueError, match="positive number"):
        render(SMALL, "svg", timeout=0)
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="^Graphviz's dot program is not installed: apt-get install graphviz"):
        render(SMALL, "svg")
    assert render(SMALL, "dot") == SMALL.encode()   # DOT needs no Graphviz


def test_a_layout_over_time_is_stopped(monkeypatch):
    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(export.subprocess, "run", slow)
    with pytest.raises(ValueError, match="longer than 0.5 s"):
        render(SMALL, "svg", timeout=0.5)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", "graph", *args], cwd=ROOT, capture_output=True,
                          timeout=300)


def test_the_graph_command_writes_each_format(tmp_path):
    svg, png, dot = tmp_path / "g.svg", tmp_path / "g.png", tmp_path / "g.dot"
    done = cli("sin(A @ x + b)", "--var", "A=rand(10,5)", "--var", "x=rand(5)", "--var", "b=rand(10)",
               "--style", "annotated", "--format", "svg", "-o", str(svg))
    assert done.returncode == 0, done.stderr
    assert ET.parse(svg).getroot().tag.endswith("svg") and b"nodes, annotated, svg" in done.stderr
    done = cli("x**3 + 2*x**2 + 8*x", "--var", "x=4", "--style", "torchviz", "--show-saved", "-o", str(png))
    assert done.returncode == 0 and png.read_bytes()[:8] == PNG_MAGIC
    done = cli("x**3 + 2*x**2 + 8*x", "--var", "x=4", "-o", str(dot))
    assert done.returncode == 0 and 'x = 4\\ngrad 72' in dot.read_text()
    done = cli("x * y", "--var", "x=2", "--var", "y=3", "--format", "dot")   # to stdout
    assert done.stdout.startswith(b"digraph") and b"grad 3" in done.stdout


def test_the_graph_command_draws_a_big_model(tmp_path):
    out = tmp_path / "mlp.dot"
    done = cli("--model", "mlp", "--depth", "4000", "--max-nodes", "100", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "nodes collapsed" in text and "20,002 nodes" in text
    done = cli("--model", "rnn", "--depth", "50", "--focus", "60", "--levels", "2", "--format", "dot")
    assert done.returncode == 0 and b"\t60 [" in done.stdout and b"more than 2 levels from the focus" in done.stdout
    done = cli("--model", "transformer", "--depth", "2", "--modules", "0", "--open", "transformer.h.1",
               "--format", "dot")
    assert done.returncode == 0, done.stderr
    assert b"transformer.h.1 (Block)" in done.stdout and b'id="open:transformer.h.0"' in done.stdout


def test_the_graph_command_refuses_bad_input_in_one_line(capsys):
    done = cli("--model", "vgg")
    assert done.returncode == 2 and b"model must be one of" in done.stderr
    assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr
    for args, message in [
        (("x**2", "--var", "x=3", "--depth", "3"), "--depth sizes a --model"),
        (("x**2", "--var", "x=3", "--focus", "99"), "focus must be the id of a node"),
        (("x**2", "--var", "x=3", "--max-nodes", "0"), "max_nodes must be"),
        (("x**2", "--var", "x=[1, 2"), "error:"),
        (("--model", "mlp", "x**2"), "not both"),
        ((), "give a function (SOURCE) or --model"),
    ]:
        assert main(["graph", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (args, err)
