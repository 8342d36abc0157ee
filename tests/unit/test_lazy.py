"""The two layers of a capture: details computed on first use are the numbers an eager capture computes,
and what a real backward pass shows its hooks; they are computed only for what is asked; a graph pickles
whole; a later backward or an in-place change of the graph never gives a wrong number. (A graph too deep
to free: test_live.py.)"""
from __future__ import annotations

import dataclasses
import pickle
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import explorer
from explorer import graph as graph_module
from explorer import live
from explorer.dot import to_dot, torchviz_own
from explorer.graph import Node, capture
from explorer.table import node_rows
from explorer.models import MODELS, build_model, mlp
from explorer.presets import PRESETS
from tests.unit.random_graphs import PROGRAMS, random_graph

DETAILS = ("value", "sends", "reduced", "local", "saved", "attrs")
EXPLORABLE = [p for p in PRESETS if p.explorable]


def same(a, b) -> bool:
    """Equal, tensors included (bit for bit, NaN where NaN), whatever they are nested in."""
    if torch.is_tensor(a) or torch.is_tensor(b):
        return (torch.is_tensor(a) and torch.is_tensor(b) and a.shape == b.shape and a.dtype == b.dtype
                and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0.5), b.nan_to_num(0.5)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def assert_same_graph(eager, lazy) -> None:
    """Field by field, node by node, and every text written from them."""
    assert [n.id for n in eager.nodes] == [n.id for n in lazy.nodes]
    for a, b in zip(eager.nodes, lazy.nodes):
        for f in dataclasses.fields(Node):
            assert same(getattr(a, f.name), getattr(b, f.name)), (a.name, f.name)
    for f in ("grads", "outputs", "leaves", "gradients_kept"):
        assert same(getattr(eager, f), getattr(lazy, f)), f
    assert [s.text for s in eager.steps] == [s.text for s in lazy.steps]
    assert node_rows(eager) == node_rows(lazy)
    assert eager.sum_mismatches() == lazy.sum_mismatches() == []
    for options in ({}, {"show_attrs": True, "show_saved": True}, {"max_nodes": 10}):
        assert to_dot(eager, "annotated", **options) == to_dot(lazy, "annotated", **options)
    if eager.derivative is not None:
        assert_same_graph(eager.derivative, lazy.derivative)


def read_lazily(graph, seed: int) -> None:
    """Draw first, then read details in a shuffled order of nodes and attributes, as a visitor might."""
    rng = random.Random(seed)
    to_dot(graph, "annotated", max_nodes=5)
    nodes = list(graph.nodes)
    rng.shuffle(nodes)
    for node in nodes:
        graph.step(node.id)
        for name in rng.sample(DETAILS, len(DETAILS)):
            getattr(node, name)


def computed(graph, name: str) -> int:
    """How many nodes have ``name`` (a detail) computed."""
    return sum(name in vars(n) for n in graph.nodes)


@pytest.mark.parametrize("preset", EXPLORABLE, ids=[p.key for p in EXPLORABLE])
def test_lazy_details_are_the_eager_ones_on_every_preset(preset):
    eager = preset.explore().graph.complete()
    lazy = preset.explore().graph
    assert computed(lazy, "local") == 0
    read_lazily(lazy, seed=len(preset.key))
    assert_same_graph(eager, lazy)


@pytest.mark.parametrize("name", list(MODELS))
def test_lazy_details_are_the_eager_ones_on_every_model(name):
    eager = capture(*build_model(name, 6, seed=1), lazy=False)
    lazy = capture(*build_model(name, 6, seed=1))
    read_lazily(lazy, seed=3)
    assert_same_graph(eager, lazy)
    assert not any(n.is_live for n in eager.nodes) and eager.live_tensors() is None   # eager: nothing live kept


def test_lazy_details_are_the_eager_ones_with_create_graph_v_and_custom_functions():
    class Square(torch.autograd.Function):   # takes no plain call: what it sends is recorded by a hook
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    def build():
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = Square.apply(x)
        return [y + y.sin() + Square.apply(y), x.unbind()[1] * 2], {"x": x}

    for lazy_first in (True, False):
        eager = capture(*build(), grad_outputs=[torch.tensor([1.0, -2, 0.5]), torch.tensor(3.0)], lazy=False)
        lazy = capture(*build(), grad_outputs=[torch.tensor([1.0, -2, 0.5]), torch.tensor(3.0)])
        if lazy_first:
            read_lazily(lazy, seed=1)
        assert_same_graph(eager, lazy)
    eager = explorer.explore("sin(x) * x**2", x="[0.5, 1.5]", create_graph=True).graph.complete()
    lazy = explorer.explore("sin(x) * x**2", x="[0.5, 1.5]", create_graph=True).graph
    read_lazily(lazy.derivative, seed=2)
    assert_same_graph(eager, lazy)


def watched_backward(outputs, grad_outputs, inputs) -> list[tuple[str, tuple, tuple]]:
    """The sure, slow way: a pre-hook and a post-hook on every node of a real backward pass, in the order
    they run: ``(op, gradients received, gradients sent)``."""
    ran, handles, seen = [], [], set()
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        fn = stack.pop()
        if fn in seen or type(fn).__name__ == "AccumulateGrad":
            continue
        seen.add(fn)

        def pre(grads, fn=fn):
            ran.append([type(fn).__name__, tuple(None if g is None else g.detach().clone() for g in grads), ()])

        def post(sent, _grads, fn=fn):
            ran[[r[0] for r in ran].index(type(fn).__name__, len(ran) - 1)][2] = \
                tuple(None if g is None else g.detach().clone() for g in sent)

        handles += [fn.register_prehook(pre), fn.register_hook(post)]
        stack += [f for f, _ in fn.next_functions if f is not None]
    try:
        torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=True, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    return [tuple(r) for r in ran]


def assert_what_hooks_see(build, grad_outputs=None) -> None:
    outputs, leaves = build()
    outputs = [outputs] if torch.is_tensor(outputs) else outputs
    grad_outputs = grad_outputs or [torch.ones_like(o) for o in outputs]
    seen = watched_backward(outputs, grad_outputs, list(leaves.values()))
    graph = capture(outputs, leaves, grad_outputs=grad_outputs)
    ran = [n for n in graph.nodes if n.kind != "leaf"]   # in the engine's order
    assert [n.op for n in ran] == [op for op, _, _ in seen]
    for node, (_, received, sent) in zip(reversed(ran), reversed(seen)):   # producers first: nothing read yet
        assert same(node.received, list(received)), node.name
        assert same(node.sends, list(sent)), node.name


@given(PROGRAMS, st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_engine_order_gradients_and_sends_are_what_hooks_see_on_random_graphs(program, seed):
    assert_what_hooks_see(lambda: random_graph(program, seed))


@pytest.mark.parametrize("name", list(MODELS))
def test_engine_order_gradients_and_sends_are_what_hooks_see_on_the_models(name):
    assert_what_hooks_see(lambda: build_model(name, 12, seed=4))


def test_several_outputs_one_used_by_another_run_in_the_engines_order():
    def build():
        x = torch.tensor([0.2, 0.4, 0.7], requires_grad=True)
        h = x * 3 + 1
        return [h.sin() * 2, h, x.exp()], {"x": x}

    assert_what_hooks_see(build, [torch.tensor([1.0, 2, 3]), torch.tensor([0.5, 0, 1]), torch.ones(3)])


def test_a_leafs_value_is_copied_when_first_read_and_never_after_a_change_in_place(monkeypatch):
    monkeypatch.setattr(graph_module, "LEAF_COPY_BUDGET", 0)   # as for a model's parameters past the budget
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([3.0], requires_grad=True)
    graph = capture((w * v).sum(), {"w": w, "v": v})
    assert graph.node(graph.leaves["w"]).value.tolist() == [1.0, 2.0]   # read before the change: kept
    with torch.no_grad():
        w.add_(1.0)
        v.mul_(2.0)   # an optimiser step
    assert graph.node(graph.leaves["w"]).value.tolist() == [1.0, 2.0]
    with pytest.raises(live.GraphGone, match="changed in place"):
        graph.node(graph.leaves["v"]).value


def test_the_default_view_of_a_big_graph_computes_details_for_drawn_nodes_only():
    graph = capture(*mlp(depth=4000))
    assert len(graph.nodes) > 20_000
    assert sum(computed(graph, name) for name in DETAILS if name != "value") == 0   # only the first layer yet
    assert computed(graph, "value") == len(graph.leaves) + 1   # the caller's tensors: leaves and the loss
    dot = to_dot(graph, "annotated")
    drawn = sum(1 for line in dot.splitlines() if line.startswith("\t") and line.split(" ")[0][1:].isdigit()
                and " -> " not in line)
    assert 100 < computed(graph, "sends") <= drawn <= 300   # the senders of drawn edges
    assert computed(graph, "local") == 0 and computed(graph, "saved") <= drawn
    middle = graph.nodes[len(graph.nodes) // 2]
    assert "∂L/∂" in graph.step(middle.id).text
    assert computed(graph, "local") == 1   # one step's chain rule: one node's local Jacobians
    graph.to_json()
    assert computed(graph, "local") == len(graph.nodes)


def test_pickling_completes_a_graph_and_a_node():
    eager = capture(*build_model("rnn", 8, seed=5), lazy=False)
    graph = capture(*build_model("rnn", 8, seed=5))
    one = graph.nodes[3]
    node = pickle.loads(pickle.dumps(one))
    assert not node.is_live and same(node.local, eager.nodes[3].local)
    copy = pickle.loads(pickle.dumps(graph))   # nothing read before: everything computed for the pickle
    assert not any(n.is_live for n in copy.nodes) and copy.live_tensors() is None
    assert_same_graph(eager, copy)
    assert_same_graph(eager, graph)


def test_torchvizs_own_drawing_waits_for_the_torchviz_view_and_pickles_as_plain_data():
    graph = explorer.explore("sin(x) * x", x="[1.0, 2.0]").graph
    assert graph.torchviz_dot == {} and graph.live_tensors() is not None
    to_dot(graph, "annotated")
    assert graph.torchviz_dot == {}   # the annotated view did not make it
    own = to_dot(graph, "torchviz")
    assert sorted(graph.torchviz_dot) == [(a, s) for a in (0, 1) for s in (0, 1)]   # the four, made together
    copy = pickle.loads(pickle.dumps(graph))
    assert copy.live_tensors() is None and type(copy.torchviz_dot) is dict
    assert to_dot(copy, "torchviz") == own == graph.torchviz_dot[(False, False)]
    never = explorer.explore("sin(x) * x", x="[1.0, 2.0]").graph.complete()   # completed before any drawing:
    assert torchviz_own(never) is None and "SinBackward0" in to_dot(never, "torchviz")   # its look, from data
    big = capture(*mlp(depth=80))   # beyond TORCHVIZ_MAX_NODES: torchviz's look is drawn from captured data
    assert "AddmmBackward0" in to_dot(big, "torchviz") and big.torchviz_dot == {}


def test_a_later_backward_completes_the_graph_first():
    eager = explorer.trace(*mlp(depth=3, seed=7), lazy=False).graph
    loss, params = mlp(depth=3, seed=7)
    graph = explorer.trace(loss, params).graph
    loss.backward()   # frees the buffers the details are read from: the graph read them first
    assert_same_graph(eager, graph)


def test_a_graph_changed_in_place_raises_rather_than_showing_a_wrong_number():
    loss, params = mlp(depth=2, seed=8)
    lazy = explorer.trace(loss, params).graph
    other_loss, other_params = mlp(depth=2, seed=8)   # (a backward through loss would complete lazy first)
    eager = explorer.trace(other_loss, other_params, lazy=False).graph
    with torch.no_grad():
        for p in (params, other_params):
            p["layer1.weight"].add_(1.0)   # an optimiser step
    addmm = next(n for n in lazy.nodes if n.op == "AddmmBackward0")   # it saved the weight (transposed)
    for detail in ("sends", "saved"):
        with pytest.raises(live.GraphGone, match="lazy=False"):
            getattr(addmm, detail)
    eager_addmm = next(n for n in eager.nodes if n.op == "AddmmBackward0")
    assert eager_addmm.sends and eager_addmm.saved and to_dot(eager, "annotated").startswith("digraph")
