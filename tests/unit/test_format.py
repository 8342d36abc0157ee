"""How numbers and tensors are written (explorer/format.py): one way each, wherever they are shown."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from explorer.format import NONE, cell, chain_rule, number, numbers, shape, short, summed_dims, to_jsonable
from explorer.graph import capture


@pytest.mark.parametrize("value, text", [
    (72.0, "72"), (-0.65364362, "-0.6536"), (0.0, "0"), (1e-3, "0.001"), (1.2e-7, "1.2e-07"),
    (123456.0, "123456"), (1234567.0, "1.235e+06"), (math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "nan"),
])
def test_a_number_is_written_with_four_decimals_at_most_and_no_trailing_zeros(value, text):
    assert number(value) == text


def test_a_tensor_shows_its_first_entries_and_says_when_there_are_more():
    assert numbers(torch.tensor([2.5])) == "2.5"
    assert numbers(torch.arange(5.0)) == "[0 1 2 3 …]"
    assert numbers(torch.arange(4.0)) == "[0 1 2 3]"
    assert numbers(None) == "0"   # a gradient that never came is a zero one
    assert numbers(torch.ones(2, 2), None, ", ") == "[1, 1, 1, 1]"


def test_shapes_short_forms_and_cells():
    assert shape(torch.Size([2, 3])) == "(2, 3)" and shape(None) == "()"
    assert short(None) == NONE and short(torch.ones(4)) == "[1, 1, 1, …] (4)"
    assert cell(torch.arange(12.0)).startswith("[0, 1,") and cell(torch.arange(13.0)) == "(13): [0, 1, 2, 3, 4, 5, …]"
    assert cell("text") == "text"


def test_summed_dims_undo_a_broadcast():
    assert summed_dims(((4, 2, 3), (3,))) == (0, 1)
    assert summed_dims(((4, 1, 3), (4, 1, 1))) == (2,)
    assert summed_dims(((3,), (3,))) == ()


def test_a_step_of_the_chain_rule_is_written_out_with_its_sum_and_broadcast():
    x = torch.tensor([3.0], requires_grad=True)
    b = torch.ones(2, 1, requires_grad=True)
    graph = capture((x * x + b).sum(), {"x": x, "b": b})
    add = next(n for n in graph.nodes if n.op == "AddBackward0")
    text = chain_rule(add, graph.by_id)
    assert "the engine summed the broadcast over dim 0" in text   # x (1) was broadcast to (2, 1)
    mul = next(n for n in graph.nodes if n.op == "MulBackward0")
    assert chain_rule(mul, graph.by_id).count("+=") == 2           # x reached twice: two terms of its sum


def test_json_values_are_plain_and_standard():
    value = {"t": torch.tensor([1.0, math.inf]), "a": np.arange(2), 3: (math.nan, "s"), "n": None}
    out = to_jsonable(value)
    assert out == {"t": [1.0, "inf"], "a": [0, 1], "3": ["nan", "s"], "n": None}
    json.dumps(out, allow_nan=False)
