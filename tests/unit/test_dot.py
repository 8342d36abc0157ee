"""DOT of captured graphs: torchviz's look (faithful, after backward, saved tensors apart), the annotated
style (names, values, gradients, colours, kinds, broadcasts), and level of detail for huge graphs."""
from __future__ import annotations

import dataclasses
import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
import torch
import torchviz

import explorer
from explorer.dot import PALETTE, PROXY_USES, level_of_detail, to_dot, torchviz_own
from explorer.export import render
from explorer.graph import capture
from explorer.models import build_model

NODE = r'\t(\S+) \[label=("(?:[^"\\]|\\.)*"|[^\s\]]+)([^\]]*)\]'
EDGE = r'(?m)^\t(\S+) -> (\S+)'


def nodes_of(dot: str) -> dict[str, tuple[str, str]]:
    """DOT name -> (label as drawn, the other attributes); the last definition of a name wins, as in Graphviz."""
    found = {}
    for name, label, attrs in re.findall(NODE, dot, re.S):
        found[name] = (label.strip('"').replace("\\n", "\n").replace('\\"', '"'), attrs)
    return found


def look(dot: str) -> tuple[Counter, int]:
    """What a drawing shows, whatever its node names: (label, fill colour) of each box, and the edge count."""
    boxes = Counter()
    for label, attrs in nodes_of(dot).values():
        fill = re.search(r'fillcolor=("[^"]*"|\S+)', attrs)
        boxes[label, fill.group(1).strip('"') if fill else None] += 1
    return boxes, len(re.findall(EDGE, dot))


def lays_out(dot: str) -> bool:
    return ET.fromstring(render(dot, "svg")).tag.endswith("svg")


def seed_graphs():
    """The seeds' worked examples, built in plain PyTorch."""
    x = torch.tensor([4.0], requires_grad=True)
    yield "polynomial", capture(x**3 + 2 * x**2 + 8 * x, {"x": x}), {"x": [72.0]}
    x = torch.tensor([4.0], requires_grad=True)
    yield "sin", capture(torch.sin(x), {"x": x}), {"x": [-0.6536]}
    x, y = torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)
    yield "partials", capture((x + y) * (y + 3), {"x": x, "y": y}), {"x": [5.0], "y": [8.0]}
    v = torch.tensor([0.5, 0.75], requires_grad=True)
    yield "log_sin", capture(torch.log(v[0] * v[1]) * torch.sin(v[1]), {"x": v}), {"x": [1.3633, 0.1912]}


@pytest.mark.parametrize("name, graph, grads", list(seed_graphs()), ids=lambda v: v if isinstance(v, str) else "")
def test_both_styles_for_the_seed_examples(name, graph, grads):
    annotated = to_dot(graph, "annotated")
    boxes = nodes_of(annotated)
    for leaf, expected in grads.items():
        label = boxes[str(graph.leaves[leaf])][0]
        shown = [float(v) for v in re.findall(r"-?\d+\.\d+|-?\d+", label.split("grad")[1])[:len(expected)]]
        assert shown == pytest.approx(expected, abs=1e-4), label
    torchviz_dot = to_dot(graph, "torchviz")
    assert torchviz_dot == graph.torchviz_dot[(False, False)]   # torchviz's own drawing, kept from the live graph
    for dot in (annotated, torchviz_dot, to_dot(graph, "torchviz", show_attrs=True, show_saved=True)):
        assert lays_out(dot)


def test_the_polynomial_annotated_with_values_gradients_colours_and_kinds():
    ex = explorer.explore("w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5", x=4)
    dot = ex.to_dot("annotated")
    boxes = nodes_of(dot)
    by_label = {n.label: str(n.id) for n in ex.nodes if n.label}
    assert boxes[by_label["x"]][0] == "x = 4\ngrad 72"
    assert boxes[by_label["w3"]][0] == "w3 = PowBackward0\nvalue 16\ngrad 2"
    assert boxes[by_label["output"]][0] == "output = AddBackward0\nvalue 128\ngrad 1"
    assert "shape=ellipse" in boxes[by_label["x"]][1] and "peripheries=2" in boxes[by_label["output"]][1]
    assert f'fillcolor="{PALETTE[-1]}"' in boxes[by_label["x"]][1]   # the largest gradient: the darkest fill
    assert f'fillcolor="{PALETTE[-1]}"' not in boxes[by_label["w3"]][1]
    constants = sorted(label for name, (label, attrs) in boxes.items() if "shape=diamond" in attrs)
    assert constants == ["constant\n2", "constant\n8"]
    assert re.search(r"\tlegend \[.*\|gradient received\|", dot)


def test_highlight_marks_one_node_and_the_gradients_it_sends():
    x = torch.tensor([4.0], requires_grad=True)
    graph = capture(torch.sin(x * x), {"x": x})
    mul = next(n.id for n in graph.nodes if n.op == "MulBackward0")
    dot = to_dot(graph, "annotated", highlight=mul)
    assert "color=red" in nodes_of(dot)[str(mul)][1]
    assert sum("color=red" in attrs for attrs in (a for _, a in nodes_of(dot).values())) == 1
    assert len(re.findall(rf"\t\S+ -> {mul} \[.*color=red", dot)) == 2    # x·x: both sends into x
    assert "color=red" in nodes_of(to_dot(graph, "torchviz", highlight=mul))[str(mul)][1]


def test_a_broadcast_sum_is_written_on_its_edge():
    ex = explorer.explore("sin(x) * y", x="[0.1, 0.2, 0.3]", y=2)
    y = ex.graph.leaves["y"]
    edge = re.search(rf'\t{y} -> \d+ \[label="([^"]*)"', ex.to_dot("annotated")).group(1)
    assert "sum over dim 0" in edge and "(3) → (1)" in edge
    matrix = torch.ones(2, 3, requires_grad=True)
    column = torch.ones(2, 1, requires_grad=True)
    graph = capture((matrix * column).sum(), {"m": matrix, "c": column})
    edge = re.search(rf'\t{graph.leaves["c"]} -> \d+ \[label="([^"]*)"', to_dot(graph)).group(1)
    assert "sum over dim 1" in edge and "(2, 3) → (2, 1)" in edge


def test_the_torchviz_look_drawn_from_captured_data_is_torchvizs():
    """Where torchviz's own drawing is not kept (big graphs, options), ours shows the same boxes and edges."""
    for _, graph, _ in seed_graphs():
        bare = dataclasses.replace(graph, torchviz_dot={})
        for attrs in (False, True):
            for saved in (False, True):
                assert look(to_dot(bare, "torchviz", show_attrs=attrs, show_saved=saved)) == \
                    look(torchviz_own(graph, show_attrs=attrs, show_saved=saved)), (attrs, saved)


def test_saved_tensors_are_boxes_of_their_own_after_backward():
    x = torch.tensor([3.0], requires_grad=True)
    y = x * x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        raw = torchviz.make_dot(y, params={"x": x}, show_saved=True).source
    # torchviz's defect: the saved `self` and `other` are the leaf, so all three boxes share one name.
    assert len({name for name, (label, attrs) in nodes_of(raw).items() if "x\n" in label or "orange" in attrs}) == 1
    graph = capture(y, {"x": x})
    y.backward()   # the graph is freed; the drawing was kept
    for bare in (graph, dataclasses.replace(graph, torchviz_dot={})):
        boxes = nodes_of(to_dot(bare, "torchviz", show_saved=True))
        orange = sorted(label for label, attrs in boxes.values() if "orange" in attrs)
        assert orange == ["other\n (1)", "self\n (1)"]
        assert [label for label, attrs in boxes.values() if "lightblue" in attrs] == ["x\n (1)"]
    saved = nodes_of(to_dot(graph, "annotated", show_saved=True))
    assert sorted(label.split()[0] for label, attrs in saved.values() if "orange" in attrs) == ["other", "self"]


def test_show_attrs_prints_torchvizs_attribute_table():
    x = torch.tensor([2.0], requires_grad=True)
    graph = capture(x.pow(3), {"x": x})
    pow_ = next(n.id for n in graph.nodes if n.op == "PowBackward0")
    for dot in (to_dot(graph, "torchviz", show_attrs=True),
                to_dot(dataclasses.replace(graph, torchviz_dot={}), "torchviz", show_attrs=True)):
        label = nodes_of(dot)[next(k for k, (v, _) in nodes_of(dot).items() if v.startswith("PowBackward0"))][0]
        assert label.splitlines()[2:] == ["exponent:              3", "self    : [saved tensor]"]
    assert "exponent" in nodes_of(to_dot(graph, "annotated", show_attrs=True))[str(pow_)][0]


def boxes_drawn(dot: str) -> list[str]:
    return [name for name in nodes_of(dot) if name.isdigit() or name.startswith("group")]


def test_a_20000_node_graph_gives_a_readable_collapsed_view():
    loss, params = build_model("mlp", 4000)
    graph = capture(loss, params)
    assert len(graph.nodes) > 20_000
    for style in ("annotated", "torchviz"):
        dot = to_dot(graph, style)
        boxes = boxes_drawn(dot)
        assert len(boxes) <= 300 and sum(b.startswith("group") for b in boxes) == 1
        group = nodes_of(dot)["group0"][0]
        assert "[AddmmBackward0 → TanhBackward0] ×" in group and "nodes collapsed" in group
        assert "collapsed into 1 dashed box" in nodes_of(dot)["note"][0]
        assert str(graph.outputs[0]) in boxes and str(graph.leaves["layer0.weight"]) in boxes   # both ends shown
        assert lays_out(dot)


def test_focus_depth_and_max_nodes_bound_the_view():
    loss, params = build_model("mlp", 400)
    graph = capture(loss, params)
    middle = graph.nodes[len(graph.nodes) // 2].id
    focus = to_dot(graph, "annotated", focus=middle, max_nodes=30)
    boxes = boxes_drawn(focus)
    assert str(middle) in boxes and len(boxes) <= 30
    near = to_dot(graph, "annotated", depth=3)
    by_id = graph.by_id
    drawn = {int(b) for b in boxes_drawn(near)}
    assert graph.outputs[0] in drawn and all(by_id[n].step <= 6 for n in drawn if by_id[n].kind != "leaf")
    assert "more than 3 levels from the outputs" in nodes_of(near)["note"][0]
    assert "more input" in near   # a stub on every cut edge
    tiny = level_of_detail(graph, max_nodes=5)
    assert len(tiny.singles) + len(tiny.groups) <= 5 and not tiny.stubs   # all but 3 nodes in one box


def test_a_wide_graph_is_cut_with_stubs():
    x = torch.rand(500, requires_grad=True)
    graph = capture(torch.stack([x[i].sin() * i for i in range(500)]).sum(), {"x": x})
    view = level_of_detail(graph, max_nodes=20)
    assert len(view.singles) + len(view.groups) <= 20
    stack = next(n.id for n in graph.nodes if n.op == "StackBackward0")
    assert (str(stack), 500 - (sum(1 for n in view.singles if graph.node(n).op == "MulBackward0")), 0) in view.stubs
    dot = to_dot(graph, "torchviz", max_nodes=20)
    assert "more inputs" in dot and "not drawn (beyond max_nodes=20)" in nodes_of(dot)["note"][0]
    assert lays_out(dot)


def test_residual_blocks_group_and_shared_weights_are_drawn_beside_each_use():
    loss, params = build_model("residual", 300)
    graph = capture(loss, params)
    assert "[AddBackward0 → TanhBackward0 → AddmmBackward0] ×" in nodes_of(to_dot(graph))["group0"][0]
    loss, params = build_model("rnn", 400)
    graph = capture(loss, params)
    dot = to_dot(graph, "annotated")
    out_edges = Counter(source for source, _ in re.findall(EDGE, dot))
    assert max(out_edges.values()) <= PROXY_USES + 1
    proxies = [label for name, (label, _) in nodes_of(dot).items() if name.startswith("use")]
    assert proxies and {p.split("\n")[0] for p in proxies} == {"W", "U", "b"}
    assert lays_out(dot)


def test_torchviz_fails_on_a_2000_deep_chain_and_we_do_not():
    x = torch.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(2000):
        y = torch.sin(y)
    with warnings.catch_warnings(), pytest.raises(RecursionError):
        warnings.simplefilter("ignore", DeprecationWarning)
        torchviz.make_dot(y, params={"x": x})
    graph = capture(y, {"x": x})
    for style in ("torchviz", "annotated"):
        dot = to_dot(graph, style)
        assert "[SinBackward0] ×" in nodes_of(dot)["group0"][0] and lays_out(dot)
    whole = to_dot(graph, "torchviz", max_nodes=5000)   # every node, in torchviz's look
    assert Counter(label for label, _ in nodes_of(whole).values())["SinBackward0"] == 2000


def test_bad_options_are_refused():
    x = torch.tensor([1.0], requires_grad=True)
    graph = capture(x * 2, {"x": x})
    for options, message in [({"style": "fancy"}, "style"), ({"max_nodes": 0}, "max_nodes"),
                             ({"depth": -1}, "depth"), ({"focus": 42}, "focus"), ({"highlight": "1"}, "highlight")]:
        with pytest.raises(ValueError, match=message):
            to_dot(graph, **options)


def test_the_graph_of_a_derivative_draws_like_any_other():
    ex = explorer.explore("sin(x)", x=1, create_graph=True)
    dot = to_dot(ex.graph.derivative, "annotated")
    labels = [label for label, _ in nodes_of(dot).values()]
    assert any(label.startswith("∂L/∂x = MulBackward0") for label in labels)
    assert any(label.startswith("CosBackward0") for label in labels) and lays_out(dot)
