"""explorer.draw (torchviz's make_dot, and more) and the inline view of an Exploration in Jupyter."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

import explorer
from explorer import notebook
from explorer.views import DEFAULT_MAX_NODES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def poly():
    """The seed's x³ + 2x² + 8x at 4: gradient 72."""
    x = torch.tensor([4.0], requires_grad=True)
    return x, x**3 + 2 * x**2 + 8 * x


def chain(length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A leaf through ``length`` sines: ``length + 1`` nodes, a graph for the level of detail."""
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(length):
        y = y.sin()
    return x, y


# ---------------------------------------------------------------------------
# Styles and options.

def test_annotated_is_the_default_with_values_gradients_and_names(poly):
    x, f = poly
    drawing = explorer.draw(f, {"x": x})
    assert drawing.style == "annotated"
    assert drawing.dot.startswith("digraph")
    assert 'label="x = 4\\ngrad 72"' in drawing.dot
    assert drawing.exploration.grads["x"].tolist() == [72.0]


def test_torchviz_style_is_make_dots_drawing_with_its_options(poly):
    x, _ = poly
    y = x**3
    plain = explorer.draw(y, {"x": x}, style="torchviz")
    assert "PowBackward0" in plain.dot and '"x\n (1)" fillcolor=lightblue' in plain.dot
    assert "fillcolor=orange" not in plain.dot and "exponent" not in plain.dot
    assert "fillcolor=orange" in explorer.draw(y, {"x": x}, style="torchviz", show_saved=True).dot
    assert "exponent:              3" in explorer.draw(y, {"x": x}, style="torchviz", show_attrs=True).dot
    assert "fillcolor=orange" in explorer.draw(y, {"x": x}, show_saved=True).dot   # annotated honours it too


def test_an_unknown_style_or_option_is_refused(poly):
    x, f = poly
    with pytest.raises(ValueError, match="style must be one of"):
        explorer.draw(f, {"x": x}, style="pretty")
    with pytest.raises(TypeError, match="show_attr"):
        explorer.draw(f, {"x": x}, show_attr=True)


def test_what_is_not_a_tensor_is_refused_with_what_draw_takes():
    for bad in (3, [], [torch.ones(1), 2], "x**2"):
        with pytest.raises(ValueError, match="draw\\(\\) takes a tensor"):
            explorer.draw(bad)


# ---------------------------------------------------------------------------
# Naming.

def test_params_name_the_leaves_as_make_dot_takes_them():
    model = torch.nn.Linear(3, 1)
    loss = model(torch.ones(2, 3)).pow(2).mean()
    for params in (dict(model.named_parameters()), model.named_parameters()):
        drawing = explorer.draw(loss, params)
        assert list(drawing.exploration.grads) == ["weight", "bias"]
        assert 'label="weight = ' in drawing.dot


def test_without_params_tensors_are_named_by_the_variables_that_hold_them():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    unused = torch.ones(3, requires_grad=True)   # held, but not in the graph: no gradient for it
    _ = w                                        # IPython's output history: never a name
    h = w * w + b
    y = h.sin().sum()
    drawing = explorer.draw(y)
    assert sorted(drawing.exploration.grads) == ["b", "w"]
    assert unused.grad is None
    names = {n.name for n in drawing.exploration.nodes}
    assert {"w", "b", "h", "y"} <= names and "_" not in names


def test_a_modules_parameters_are_named_through_the_variable_holding_the_module():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    loss = model(torch.ones(4, 3)).pow(2).mean()
    drawing = explorer.draw(loss)
    assert sorted(drawing.exploration.grads) == ["model.0.bias", "model.0.weight", "model.2.bias",
                                                 "model.2.weight"]
    assert "model.0.weight = " in drawing.dot


def test_a_leaf_no_variable_holds_is_named_as_trace_names_it():
    def loss_of_a_fresh_leaf():
        return (torch.ones(2, requires_grad=True) * 3).sum()

    drawing = explorer.draw(loss_of_a_fresh_leaf())
    assert list(drawing.exploration.grads) == ["leaf0"]
    assert drawing.exploration.grads["leaf0"].tolist() == [3.0, 3.0]


def test_draw_touches_no_grad_and_takes_several_outputs(poly):
    x, f = poly
    drawing = explorer.draw((f, x * 2), {"x": x})
    assert x.grad is None
    assert drawing.exploration.grads["x"].tolist() == [74.0]
    assert len(drawing.exploration.outputs) == 2


# ---------------------------------------------------------------------------
# An Exploration passed in, and the level of detail.

def test_an_exploration_is_drawn_as_it_is():
    ex = explorer.explore("w1 = x\nw2 = w1**3\nw2 + 2*w1**2 + 8*w1", x=4)
    drawing = explorer.draw(ex, style="torchviz")
    assert drawing.exploration is ex
    assert drawing.dot == ex.to_dot("torchviz", max_nodes=DEFAULT_MAX_NODES)
    assert "w2" in explorer.draw(ex).dot
    with pytest.raises(ValueError, match="already names"):
        explorer.draw(ex, {"x": torch.ones(1)})


def test_a_big_graph_gets_the_apps_level_of_detail_by_default():
    x, y = chain(DEFAULT_MAX_NODES + 50)
    drawing = explorer.draw(y, {"x": x})
    note = "\tnote [label="   # the level-of-detail view says what it collapsed or left out
    assert note in drawing.dot
    assert drawing.dot == drawing.exploration.to_dot("annotated", max_nodes=DEFAULT_MAX_NODES)
    assert note not in explorer.draw(drawing.exploration, max_nodes=DEFAULT_MAX_NODES + 100).dot
    assert note in explorer.draw(drawing.exploration, style="torchviz").dot


# ---------------------------------------------------------------------------
# Saving.

def test_save_takes_the_format_from_the_extension(poly, tmp_path):
    x, f = poly
    drawing = explorer.draw(f, {"x": x})
    png = drawing.save(tmp_path / "graph.png")
    assert png == tmp_path / "graph.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = drawing.save(str(tmp_path / "graph.svg"))
    root = ET.fromstring(svg.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "grad 72" in svg.read_text()
    assert drawing.save(tmp_path / "graph.dot").read_text() == drawing.dot
    assert drawing.save(tmp_path / "graph.gv").read_text() == drawing.dot


@pytest.mark.parametrize("name", ["graph.pdf", "graph", "graph.svg.txt"])
def test_save_refuses_an_extension_it_cannot_write(poly, tmp_path, name):
    x, f = poly
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.dot"):
        explorer.draw(f, {"x": x}).save(tmp_path / name)
    assert not (tmp_path / name).exists()


# ---------------------------------------------------------------------------
# Inline display (IPython's rich display protocol).

def test_a_drawing_displays_as_its_svg(poly):
    x, f = poly
    drawing = explorer.draw(f, {"x": x})
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert ET.fromstring(bundle["image/svg+xml"].encode()).tag.endswith("svg")
    assert bundle["text/plain"] == repr(drawing) == "<Drawing (annotated) of 7 nodes: .svg, .dot, .save(path)>"


def test_a_drawing_without_graphviz_displays_why_instead_of_failing(poly, monkeypatch, tmp_path):
    x, f = poly
    drawing = explorer.draw(f, {"x": x})
    monkeypatch.setenv("PATH", str(tmp_path))   # no dot program on it
    bundle = drawing._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "Graphviz's dot program is not installed" in bundle["text/plain"]
    with pytest.raises(ValueError, match="not installed"):
        drawing.svg
    assert "could not be drawn" in notebook.exploration_bundle(explorer.explore("x * x", x=3))["text/html"]


def test_an_exploration_displays_its_graph_and_folded_node_table_only_when_shown(monkeypatch):
    calls = []
    render = notebook.render
    monkeypatch.setattr(notebook, "render", lambda *a, **k: calls.append(a) or render(*a, **k))
    ex = explorer.explore("w1 = x\nw2 = w1**3\nw2 + 2*w1**2 + 8*w1", x=4)
    assert calls == []                                  # made without drawing
    ex = pickle.loads(pickle.dumps(ex))                 # still plain data
    bundle = notebook.exploration_bundle(ex)
    assert len(calls) == 1
    page = bundle["text/html"]
    assert page.startswith('<div style="overflow:auto"><svg') and "<?xml" not in page
    assert "grad 72" in page and "w2" in page
    assert "<details><summary>Node table: 7 nodes, in the order backward ran them</summary>" in page
    assert page.count("<tr>") == 1 + len(ex.nodes)
    assert "<th>local derivative</th>" in page and "<td>∂/∂x: 48</td>" in page
    assert bundle["text/plain"] == "Exploration (7 nodes): f = 128; x.grad = 72"


def test_the_node_table_is_cut_and_the_text_form_is_short_for_a_big_model(monkeypatch):
    monkeypatch.setattr(notebook, "TABLE_ROWS", 5)
    model = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(4)])
    ex = explorer.trace(model(torch.ones(3, 2)).sum(), model.named_parameters())
    bundle = notebook.exploration_bundle(ex)
    assert bundle["text/html"].count("<tr>") == 1 + 5
    assert f"… {len(ex.nodes) - 5:,} more rows" in bundle["text/html"]
    assert bundle["text/plain"].endswith("; … 4 more gradients")
    assert bundle["text/plain"].startswith(f"Exploration ({len(ex.nodes)} nodes): loss = ")


def test_a_drawing_pickles_with_its_exploration(poly):
    x, f = poly
    drawing = explorer.draw(f, {"x": x})
    drawing.svg
    again = pickle.loads(pickle.dumps(drawing))
    assert again.dot == drawing.dot and again.svg == drawing.svg
    assert again.exploration.grads["x"].tolist() == [72.0]


def test_ipython_shows_an_exploration_inline_by_its_type_name():
    # The exploration module does not import the display: IPython finds it by the class's name, registered
    # when explorer is imported in a running IPython, and imports it only to show one.
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "import explorer\n"
        "ex = explorer.explore('x * x', x=3)\n"
        "before = 'explorer.notebook' in sys.modules\n"
        "data, _ = shell.display_formatter.format(ex)\n"
        "print(before, 'explorer.notebook' in sys.modules, sorted(data), data['text/plain'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "IPYTHONDIR": tempfile.mkdtemp()})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == ("False True ['text/html', 'text/plain'] "
                                         "Exploration (2 nodes): f = 9; x.grad = 6")
