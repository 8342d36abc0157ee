"""graph.capture: the chain-rule invariant, engine order, local Jacobians, values, the seeds' numbers, scale."""
from __future__ import annotations

import json
import math
import pickle

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import explorer
from explorer.format import summed_dims
from explorer.dot import to_dot
from explorer.graph import capture, longest_path, recording
from tests.unit.random_graphs import PROGRAMS, random_graph

W_SOURCE = "w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5"


def assert_receive_equals_sum_of_sends(graph):
    """Every output slot of every node received the sum of what its consumers sent into that slot."""
    assert graph.sum_mismatches(rtol=1e-5, atol=1e-6) == []


@given(PROGRAMS, st.integers(0, 10_000))
@example([(False, 0, 0, 0)] * 5 + [(True, 12, 0, 0), (False, 11, 8, 0)], 0)   # NaN sent and received: it adds up
@settings(max_examples=100, deadline=None)
def test_receive_equals_sum_of_sends_on_random_graphs(program, seed):
    """Random graphs of torch ops (broadcasts, reductions, multi-output nodes, reuse): the chain rule's sums hold."""
    out, leaves = random_graph(program, seed)
    a, b = leaves["a"], leaves["b"]
    graph = capture(out, leaves)
    assert_receive_equals_sum_of_sends(graph)
    expected = torch.autograd.grad(out, [a, b])
    torch.testing.assert_close(graph.grads["a"], expected[0], equal_nan=True)   # sqrt(|0|) gives NaN on both sides
    torch.testing.assert_close(graph.grads["b"], expected[1], equal_nan=True)
    leaf = graph.node(graph.leaves["a"])
    torch.testing.assert_close(leaf.grad, expected[0], equal_nan=True)
    assert a.grad is None and b.grad is None  # the user's .grad is untouched


def test_engine_order_is_a_reverse_topological_order_and_what_hooks_see():
    x = torch.tensor([0.3, 0.7], requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    z = (torch.sin(x) * y + x.exp() * x).sum() * y
    graph = capture(z, {"x": x, "y": y})
    position = {n.id: n.step for n in graph.nodes}
    assert [n.step for n in graph.nodes] == list(range(len(graph.nodes)))
    for node in graph.nodes:   # every consumer runs before the node it sends to
        assert all(position[c] < position[node.id] for c in node.consumers)

    # The same graph, run by backward() with hooks of our own, runs the same operations in the same order.
    seen, stack, ran = set(), [z.grad_fn], []
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        fn.register_prehook(lambda grads, fn=fn: ran.append(type(fn).__name__))
        stack += [f for f, _ in fn.next_functions if f is not None and type(f).__name__ != "AccumulateGrad"]
    z.backward()
    assert [n.op for n in graph.nodes if n.kind != "leaf"] == ran
    torch.testing.assert_close(graph.grads["x"], x.grad)
    torch.testing.assert_close(graph.grads["y"], y.grad)
    assert [s.node for s in graph.steps] == [n.id for n in graph.nodes if n.kind != "leaf"]


def test_local_jacobians_of_known_ops():
    x = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = torch.tensor([2.0, -1.0, 0.5], requires_grad=True)
    c = torch.tensor([1.0], requires_grad=True)
    out = (torch.sin(x) * y).pow(2) + c
    graph = capture(out.sum(), {"x": x, "y": y, "c": c})
    node = {n.op: n for n in graph.nodes}
    sin, mul, pow_, add = node["SinBackward0"], node["MulBackward0"], node["PowBackward0"], node["AddBackward0"]
    torch.testing.assert_close(sin.local[0], torch.diag(torch.cos(x.detach())))
    torch.testing.assert_close(mul.local[0], torch.diag(y.detach()))                 # ∂(s·y)/∂s
    torch.testing.assert_close(mul.local[1], torch.diag(torch.sin(x.detach())))      # ∂(s·y)/∂y
    torch.testing.assert_close(pow_.local[0], torch.diag(2 * torch.sin(x.detach()) * y.detach()))
    c_input = add.inputs.index(graph.leaves["c"])
    torch.testing.assert_close(add.local[c_input], torch.ones(3, 1))   # broadcast: the Jacobian sums
    assert add.reduced[c_input] == ((3,), (1,)) and summed_dims(add.reduced[c_input]) == (0,)
    for n in (sin, mul, pow_, add):   # each send is the received gradient times the local Jacobian
        for k, target in enumerate(n.inputs):
            if target is not None:
                torch.testing.assert_close(n.sends[k].reshape(-1), n.grad.reshape(-1) @ n.local[k])


def test_the_w1_to_w6_table_of_seed_001():
    ex = explorer.explore(W_SOURCE, x=4)
    node = {n.label: n for n in ex.nodes if n.label}
    assert node["w2"].value.item() == 64 and node["w2"].local[0].item() == 48      # 3 w1²
    assert node["w3"].value.item() == 16 and node["w3"].local[0].item() == 8       # 2 w1
    assert node["w4"].sends[0].item() == 2 and node["w5"].sends[0].item() == 8
    assert node["w3"].grad.item() == 2 and node["w3"].sends[0].item() == 16        # 2 · 8: the chain rule
    assert node["x"].grad.item() == 72 and node["x"].step == len(ex.nodes) - 1
    assert sorted(s.item() for n in ex.nodes for s, t in zip(n.sends, n.inputs) if t == node["x"].id) == [8, 16, 48]
    texts = "\n".join(s.text for s in ex.graph.steps)
    assert "∂L/∂w3 = ∂L/∂w4 · ∂w4/∂w3 = 1 · 2 = 2" in texts
    assert "∂L/∂x += ∂L/∂w3 · ∂w3/∂x = 2 · 8 = 16" in texts
    constants = [s for s in node["w4"].saved if s.of is None]
    assert [c.value.item() for c in constants] == [2]
    assert node["w2"].attrs["exponent"] == "3"


@pytest.mark.parametrize("build, expected", [
    (lambda x: x**3 + 2 * x**2 + 8 * x, {"x": [72.0]}),
    (torch.sin, {"x": [-0.6536]}),
])
def test_seed_001_single_variable(build, expected):
    x = torch.tensor([4.0], requires_grad=True)
    graph = capture(build(x), {"x": x})
    assert graph.grads["x"].tolist() == pytest.approx(expected["x"], abs=1e-4)


def test_seed_002_partials_and_seed_004_vector():
    x, y = torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)
    graph = capture((x + y) * (y + 3), {"x": x, "y": y})
    assert graph.grads["x"].item() == 5 and graph.grads["y"].item() == 8
    v = torch.tensor([0.5, 0.75], requires_grad=True)
    graph = capture(torch.log(v[0] * v[1]) * torch.sin(v[1]), {"x": v})
    assert graph.grads["x"].tolist() == pytest.approx([1.3633, 0.1912], abs=1e-4)
    assert_receive_equals_sum_of_sends(graph)


def test_values_known_with_recording_or_from_saved_tensors():
    x = torch.tensor([0.5, 1.5], requires_grad=True)
    with recording() as values:
        y = torch.exp(x * 3)
        z = y.sum()
    recorded = capture(z, {"x": x}, values=values)
    assert all(n.value is not None for n in recorded.nodes)
    mul = next(n for n in recorded.nodes if n.op == "MulBackward0")
    torch.testing.assert_close(mul.value, x.detach() * 3)
    # Without recording: ExpBackward0 saved its result, MulBackward0 its inputs.
    bare = capture(z, {"x": x})
    exp = next(n for n in bare.nodes if n.op == "ExpBackward0")
    torch.testing.assert_close(exp.value, torch.exp(x.detach() * 3))
    assert next(s for s in exp.saved if s.name == "result").of == exp.id


def test_names_kinds_and_leaves():
    w = torch.ones(2, requires_grad=True)
    hidden = torch.ones(2, requires_grad=True)   # not named: called leaf0
    h = (w * hidden).tanh()
    out = h.sum() * 2
    graph = capture([out], {"w": w}, labels={"h": h})
    kinds = {n.name: n.kind for n in graph.nodes}
    assert kinds["w"] == "leaf" and kinds["leaf0"] == "leaf" and kinds["h"] == "intermediate"
    assert kinds["output"] == "output" and set(graph.grads) == {"w", "leaf0"}
    torch.testing.assert_close(graph.grads["leaf0"], 2 * (1 - torch.tanh(torch.ones(2)) ** 2))
    unused = torch.ones(3, requires_grad=True)
    assert capture(out, {"w": w, "unused": unused}).grads["unused"].tolist() == [0, 0, 0]


def test_several_outputs_v_and_an_output_that_is_a_leaf():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    graph = capture([x.sin(), x * x], {"x": x}, grad_outputs=[torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])])
    torch.testing.assert_close(graph.grads["x"], torch.tensor([math.cos(1.0), 4.0]))
    assert sorted(graph.node(i).label for i in graph.outputs) == ["output[0]", "output[1]"]
    alone = capture(x, {"x": x})
    assert alone.grads["x"].tolist() == [1, 1] and alone.nodes[0].kind == "leaf" and alone.outputs == [0]


def test_the_graph_does_not_change_with_the_callers_tensors():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([3.0, 4.0])
    graph = capture(x + 1, {"x": x}, grad_outputs=[v])   # v flows through the sum unchanged
    with torch.no_grad():
        v.zero_()
        x.add_(10)
    out = graph.node(graph.outputs[0])
    assert out.grad.tolist() == [3, 4] and out.sends[0].tolist() == [3, 4] and out.value.tolist() == [2, 3]
    assert graph.grads["x"].tolist() == [3, 4] and graph.node(graph.leaves["x"]).value.tolist() == [1, 2]


def test_a_multi_output_node_receives_per_output():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b, _, _ = x.unbind()
    graph = capture(a * 2 + b * 3, {"x": x})
    unbind = next(n for n in graph.nodes if n.op == "UnbindBackward0")
    assert unbind.grad is None and [g if g is None else g.item() for g in unbind.received] == [2, 3, None, None]
    assert graph.grads["x"].tolist() == [2, 3, 0, 0]
    assert_receive_equals_sum_of_sends(graph)


def test_a_sum_that_does_not_add_up_is_found():
    """The check the tests and the node table rely on finds each way the chain rule's sum can fail."""
    def fresh():
        x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        a, b, _, _ = x.unbind()
        return capture(a * 2 + b * 3 + x.sum() * x.sum(), {"x": x})

    graph = fresh()
    assert graph.sum_mismatches() == []
    leaf = graph.node(graph.leaves["x"])
    leaf.received = [leaf.received[0] + 1e-3]                       # off by a little
    assert [m.split(" received")[0] for m in graph.sum_mismatches()] == ["x"]
    graph = fresh()
    leaf = graph.node(graph.leaves["x"])
    leaf.received = [leaf.received[0].reshape(1, 4)]               # right numbers, wrong shape
    assert len(graph.sum_mismatches()) == 1
    graph = fresh()
    unbind = next(n for n in graph.nodes if n.op == "UnbindBackward0")
    unbind.received = [unbind.received[0], None, None, None]       # output 1 was sent 3, received nothing
    assert graph.sum_mismatches() == [f"{unbind.name} (output 1) received nothing, its consumers sent 3 in all"]
    graph = fresh()
    for node in graph.nodes:                                       # a gradient nobody sent
        node.sends = [None] * len(node.sends)
    assert any("its consumers sent nothing" in m for m in graph.sum_mismatches())


def test_create_graph_captures_the_graph_of_the_derivative():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    graph = capture(torch.sin(x).sum(), {"x": x}, create_graph=True)
    derivative = graph.derivative
    ops = [n.op for n in derivative.nodes]
    assert "CosBackward0" in ops and "MulBackward0" in ops          # cos(x) · 1
    out = derivative.node(derivative.outputs[0])
    assert out.label == "∂L/∂x"
    torch.testing.assert_close(out.value, torch.cos(x.detach()))
    torch.testing.assert_close(derivative.grads["x"], -torch.sin(x.detach()))   # sin'' = -sin, exactly
    assert to_dot(derivative, "annotated").startswith("digraph")


def test_a_graph_is_plain_data():
    ex = explorer.explore(W_SOURCE, x=4)
    copy = pickle.loads(pickle.dumps(ex.graph))
    assert [n.op for n in copy.nodes] == [n.op for n in ex.nodes]
    assert to_dot(copy, "torchviz") == to_dot(ex.graph, "torchviz")
    data = json.loads(json.dumps(ex.graph.to_json()))
    assert data["grads"] == {"x": [72.0]} and len(data["steps"]) == len(ex.nodes) - 1
    assert all("grad_fn" not in repr(type(v)) for n in copy.nodes for v in vars(n).values())


def test_a_chain_deeper_than_python_recursion_and_20000_nodes():
    x = torch.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(3000):
        y = torch.sin(y)
    graph = capture(y, {"x": x})
    assert len(graph.nodes) == 3001 and longest_path(graph.nodes) == 3000
    expected, = torch.autograd.grad(y, x, retain_graph=True)
    torch.testing.assert_close(graph.grads["x"], expected)
    wide = torch.rand(20_000, requires_grad=True)
    total = sum(wide[i] * 1.0 for i in range(0, 20_000, 2))
    assert len(capture(total, {"w": wide}).nodes) > 20_000


def test_bad_arguments_are_refused_with_value_errors():
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="one grad_output"):
        capture([x * 2], {"x": x}, grad_outputs=[])
    with pytest.raises(ValueError, match="shape"):
        capture([x * 2], {"x": x}, grad_outputs=[torch.ones(3)])
    with pytest.raises(ValueError, match="requires grad"):
        capture(torch.ones(2), {"x": x})
    with pytest.raises(ValueError, match="map names to tensors"):
        capture(x * 2, {"x": 3})
    with pytest.raises(ValueError, match="no node with id"):
        capture(x * 2, {"x": x}).node(99)


@given(PROGRAMS, st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_gradient_sizes_are_each_gradients_largest_entry(program, seed):
    """The colours' sizes, reduced in bulk, are max |g| of each gradient received: NaN and infinities too."""
    out, leaves = random_graph(program, seed)
    graph = capture(out, leaves)
    node = graph.nodes[len(graph.nodes) // 2]
    node.received = [torch.tensor([1.0, float("nan")]), torch.tensor(float("-inf")), torch.zeros(0), None]
    node.grad = None
    for n in graph.nodes:
        grads = [g for g in ([n.grad] if n.grad is not None else n.received) if g is not None]
        expected = max((float(g.abs().max()) if g.numel() else 0.0 for g in grads), default=None)
        got = graph.grad_sizes[n.id]
        assert got == expected or (math.isnan(got) and math.isnan(expected)), n.name
