"""What the explorer page shows of an exploration (explorer/views.py), computed where the exploration is made."""
from __future__ import annotations

import pytest

from explorer import ExpressionError
from explorer.dot import DEFAULT_MAX_NODES
from explorer.views import PARTS, Request, drawing, exploration, view

POLY = Request("x**3 + 2*x**2 + 8*x", (("x", "4"),))


def test_a_typed_function_is_light_work_and_a_model_heavy():
    assert POLY.lane == "light" and Request(model="mlp", depth=3).lane == "heavy"


def test_the_summary_has_the_numbers_above_the_tabs():
    summary = view(POLY)["summary"]
    assert summary["lines"] == ["f = tensor([128.])", "x.grad = tensor([72.])"]
    assert (summary["nodes"], summary["scalar"], summary["shapes"], summary["v"]) == (7, True, {"x": (1,)}, None)
    assert summary["preset"] == ("poly", summary["preset"][1])   # seed 001's polynomial, with its agreement


def test_each_part_comes_with_the_summary():
    graph = view(POLY, ("graph", "annotated", ()))["graph"]
    assert graph["dot"].startswith("digraph") and graph["svg"].lstrip().startswith(("<?xml", "<svg"))
    table = view(POLY, ("table",))["table"]
    assert table["adds_up"] and len(table["rows"]) == 7
    step = view(POLY, ("steps", 0, ()))["steps"]
    assert (step["count"], step["step"]) == (7, 0) and "received" in step["text"]
    assert view(POLY, ("steps", 99, ()))["steps"]["step"] == 6   # clamped to the last step
    vjp = view(Request("x * x", (("x", "[1.0, 2.0]"),)), ("vjp",))["vjp"]
    assert vjp["same"] == {"x": True}
    with pytest.raises(ValueError, match="part must be one of " + ", ".join(PARTS)):
        view(POLY, ("nothing",))


def test_a_model_is_built_by_name_and_an_unknown_one_refused():
    assert view(Request(model="mlp", depth=2))["summary"]["lines"][0].startswith("loss = ")
    with pytest.raises(ExpressionError, match="model must be one of"):
        view(Request(model="lstm", depth=2))


def test_a_worker_keeps_the_exploration_for_the_next_part():
    request = Request("sin(x) * x", (("x", "2"),))
    assert exploration(request) is exploration(request)


def test_a_big_graphs_step_shows_the_neighbourhood_of_its_node():
    big = Request(model="chain", depth=DEFAULT_MAX_NODES + 50)
    step = view(big, ("steps", 10, ()))["steps"]
    assert step["count"] == DEFAULT_MAX_NODES + 52 and step["graph"]["svg"] is not None
    whole = view(big, ("graph", "annotated", ()))["graph"]["dot"]
    assert step["graph"]["dot"] != whole   # drawn around the step's node, not from the output down


def test_a_drawing_without_graphviz_says_why(monkeypatch, tmp_path):
    from explorer import export

    monkeypatch.setenv("PATH", str(tmp_path))   # no dot program on it
    monkeypatch.setattr(export, "_graphviz", lambda: None)   # nor Graphviz's library
    out = drawing("digraph { a -> b }")
    assert out["svg"] is None and "not installed" in out["error"] and out["dot"] == "digraph { a -> b }"
