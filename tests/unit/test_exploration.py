"""Explorations (explorer/exploration.py): a typed function or any tensor built in Python, run forward and
backward, captured as plain data."""
from __future__ import annotations

import pickle

import pytest
import torch

import explorer
from explorer.exploration import Exploration, explore, trace
from explorer.graph import capture
from explorer.models import build_model
from explorer.vjp import VectorChoice


def test_an_exploration_is_plain_detached_cpu_data_that_pickles():
    ex = explore("y = x * w\ny.sum()", x="[1.0, 2.0]", w=3, device="cpu")
    tensors = [*ex.outputs, *ex.grads.values(), *ex.inputs.values(), *ex.v]
    assert all(t.is_cpu and not t.requires_grad for t in tensors)
    assert ex.grads["x"].tolist() == [3.0, 3.0] and ex.grads["w"].tolist() == [3.0]
    copy = pickle.loads(pickle.dumps(ex))
    assert isinstance(copy, Exploration) and copy.grads["w"].tolist() == [3.0] and len(copy.nodes) == len(ex.nodes)
    assert (ex.source, ex.dtype, ex.seed, ex.output_names) == ("y = x * w\ny.sum()", "float32", 0, ("",))


def test_inputs_named_like_an_option_go_in_inputs():
    ex = explore("v * seed", inputs={"v": "2", "seed": "5"}, seed=1)
    assert ex.grads["v"].tolist() == [5.0] and ex.seed == 1


def test_v_is_ones_by_default_given_per_output_or_chosen():
    assert explore("x * 2", x="[1.0, 2.0]").v[0].tolist() == [1.0, 1.0]
    assert explore("x * 2", x="[1.0, 2.0]", v="[1, 0]").grads["x"].tolist() == [2.0, 0.0]
    chosen = explore("x * 2", x="[1.0, 2.0]", v=VectorChoice("one-hot", index=1))
    assert chosen.v[0].tolist() == [0.0, 1.0]
    with pytest.raises(explorer.ExpressionError, match=r"v must have the shape of output 0 \(2,\)"):
        explore("x * 2", x="[1.0, 2.0]", v="[1, 0, 0]")
    with pytest.raises(explorer.ExpressionError, match="give one v for each of the 2 outputs"):
        explore("x, 2 * x", x=1, v="[1]")


def test_an_output_that_depends_on_no_input_is_refused():
    with pytest.raises(explorer.ExpressionError, match="does not depend on any input"):
        explore("x.detach() * 2", x=1)


def test_json_has_the_values_and_the_node_table():
    data = explore("x**2", x=3).to_json()
    assert data["outputs"] == [[9.0]] and data["grads"] == {"x": [6.0]} and data["v"] == [[1.0]]
    assert [n["op"] for n in data["nodes"]] == ["PowBackward0", "AccumulateGrad"]


def test_a_preset_through_trace():
    loss, params = build_model("rnn", 30)
    ex = trace(loss, params)
    assert sorted(ex.grads) == ["U", "W", "b"] and len(ex.nodes) == len(capture(loss, params).nodes)
    assert ex.to_dot("annotated", max_nodes=40).count("\n") < 400


def test_trace_leaves_grad_untouched_and_takes_pairs_or_a_mapping():
    model = torch.nn.Linear(2, 1)
    loss = model(torch.ones(3, 2)).sum()
    by_pairs = trace(loss, model.named_parameters())
    by_mapping = trace(loss, dict(model.named_parameters()), v=torch.tensor(2.0))
    assert model.weight.grad is None and model.bias.grad is None
    assert by_pairs.grads["bias"].tolist() == [3.0] and by_mapping.grads["bias"].tolist() == [6.0]
    assert by_pairs.device == "cpu" and by_pairs.dtype == "float32" and by_pairs.source is None


def test_outputs_are_named_as_the_user_named_them():
    assert explore("x * 2", x=1).output_labels() == ["f"]
    assert explore("a = x * 2\nb = x + 1\na, b", x=1).output_labels() == ["a", "b"]
    assert explore("x * 2, x + 1", x=1).output_labels() == ["f0", "f1"]
