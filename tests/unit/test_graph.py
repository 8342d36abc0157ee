"""The captured graph: engine order, the chain-rule invariant, local Jacobians, DOT, huge graphs."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import explorer
from explorer.export import render
from explorer.graph import capture
from explorer.models import build_model


def receive_equals_sum_of_sends(graph):
    """What a node receives equals the sum of what its consumers send (after the engine's broadcast sums)."""
    by_id = {n.id: n for n in graph.nodes}
    for node in graph.nodes:
        if node.grad is None:
            continue
        total = torch.zeros_like(node.grad)
        for c in set(node.consumers):  # a consumer using the node twice sends along both edges
            consumer = by_id[c]
            for index, target in enumerate(consumer.inputs):
                if target == node.id and consumer.sends[index] is not None:
                    total = total + consumer.sends[index].sum_to_size(node.grad.shape)
        if node.consumers:
            torch.testing.assert_close(node.grad, total, rtol=1e-5, atol=1e-6)


OPS = [torch.sin, torch.tanh, torch.exp, lambda t: t * t, lambda t: t.sum(0, keepdim=True),
       lambda t: t + torch.ones(3, 1), lambda t: t.pow(3), torch.sigmoid]


@given(st.lists(st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 2)), min_size=1, max_size=8),
       st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_invariant_on_random_graphs(program, seed):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.rand(4, generator=gen, dtype=torch.float64, requires_grad=True)
    values = [a, b, a * b]
    for op, arg in program:
        values.append(OPS[op](values[arg % len(values)] * 0.5) + values[-1].mean())
    out = values[-1].sum() + values[2].sum()
    graph = capture([out], {"a": a, "b": b})
    receive_equals_sum_of_sends(graph)
    expected = torch.autograd.grad(out, [a, b])
    torch.testing.assert_close(graph.grads["a"], expected[0])
    torch.testing.assert_close(graph.grads["b"], expected[1])
    assert a.grad is None and b.grad is None  # the user's .grad is untouched


def test_engine_order_is_a_valid_backward_order():
    ex = explorer.explore("w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5", x=4)
    position = {n.id: n.step for n in ex.nodes}
    for node in ex.nodes:  # every consumer runs before the node it sends to
        for c in node.consumers:
            assert position[c] < position[node.id]
    assert [n.step for n in ex.nodes] == list(range(len(ex.nodes)))
    assert ex.nodes[-1].label == "x" and ex.nodes[-1].grad.tolist() == [72.0]


def test_seed_table_w1_to_w6():
    ex = explorer.explore("w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5", x=4)
    node = {n.label: n for n in ex.nodes if n.label}
    assert node["w2"].local[0].item() == 48          # 3 w1^2
    assert node["w3"].local[0].item() == 8           # 2 w1
    assert node["w4"].sends[0].item() == 2           # 2 · grad
    assert node["w5"].sends[0].item() == 8
    assert node["w3"].sends[0].item() == 16          # 2 · 8: the chain rule
    assert node["w2"].value.item() == 64
    texts = "\n".join(s.text for s in ex.graph.steps)
    assert "∂L/∂x += ∂L/∂w3 · ∂w3/∂x = 2 · 8 = 16" in texts


def test_local_jacobian_of_a_vector_op_and_a_broadcast():
    ex = explorer.explore("sin(x) * y", x="[0.1, 0.2, 0.3]", y=2)
    sin = next(n for n in ex.nodes if n.op == "SinBackward0")
    torch.testing.assert_close(sin.local[0], torch.diag(torch.cos(torch.tensor([0.1, 0.2, 0.3]))))
    mul = next(n for n in ex.nodes if n.op == "MulBackward0")
    y_index = mul.inputs.index(next(n.id for n in ex.nodes if n.label == "y"))
    assert mul.reduced[y_index] == ((3,), (1,))   # the engine summed the broadcast
    assert ex.grads["y"].item() == pytest.approx(float(torch.sin(torch.tensor([0.1, 0.2, 0.3])).sum()), rel=1e-6)
    assert "summed (3,) → (1,)" in ex.to_dot("annotated")


@pytest.mark.parametrize("source, inputs", [
    ("x**3 + 2*x**2 + 8*x", {"x": 4}), ("sin(x)", {"x": 4}), ("(x + y) * (y + 3)", {"x": 1, "y": 2}),
    ("log(x[0]*x[1]) * sin(x[1])", {"x": [0.5, 0.75]}), ("sin(mv(A, x) + b)", {"A": "rand(10, 5)", "x": "rand(5)", "b": "rand(10)"}),
])
def test_both_styles_lay_out_for_the_seed_examples(source, inputs):
    ex = explorer.explore(source, inputs=inputs)
    for style in ("torchviz", "annotated"):
        svg = render(ex.to_dot(style), "svg")
        assert ET.fromstring(svg).tag.endswith("svg")
    assert render(ex.to_dot("annotated"), "png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_torchviz_view_after_backward_keeps_saved_tensors_apart_from_the_leaf():
    ex = explorer.explore("x * x", x=3)   # backward has run; the graph is freed
    dot = ex.to_dot("torchviz", show_saved=True)
    assert dot.count("fillcolor=orange") == 2        # self and other, each its own node
    assert dot.count("fillcolor=lightblue") == 1     # and the leaf stays itself
    assert "MulBackward0" in ex.to_dot("torchviz", show_attrs=True)


def test_a_20000_node_graph_stays_readable():
    loss, params = build_model("mlp", 4000)
    ex = explorer.trace(loss, params)
    assert len(ex.nodes) > 20_000
    dot = ex.to_dot("annotated")
    assert dot.count("->") < 1000 and "not shown" in dot
    assert ET.fromstring(render(dot, "svg")).tag.endswith("svg")
    focus = ex.to_dot("annotated", focus=ex.nodes[len(ex.nodes) // 2].id, max_nodes=30)
    boxes = [line for line in focus.splitlines() if line.startswith("\t") and "->" not in line and "[label=" in line]
    assert 30 <= len(boxes) <= 33  # 30 nodes, the legend and the note


def test_a_chain_deeper_than_torchviz_can_walk():
    x = torch.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(3000):
        y = torch.sin(y)
    ex = explorer.trace(y, {"x": x})
    dot = ex.to_dot("torchviz")       # torchviz itself would hit a RecursionError here
    assert "collapsed" in dot and "SinBackward0" in dot


def test_create_graph_gives_the_graph_of_the_derivative():
    ex = explorer.explore("sin(x)", x=1, create_graph=True)
    derivative = ex.graph.derivative
    assert derivative is not None and any(n.op == "CosBackward0" for n in derivative.nodes)
    assert derivative.to_dot("annotated").startswith("digraph")
