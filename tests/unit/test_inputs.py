"""Input specs: numbers, lists and constructors, with seed, dtype and device."""
from __future__ import annotations

import math

import pytest
import torch

from explorer.expression import ExpressionError, Limits
from explorer.inputs import make_input, make_inputs


def test_a_number_is_a_one_element_vector_like_the_seeds():
    x = make_inputs(("x",), {"x": 4})["x"]
    assert x.shape == (1,) and x.requires_grad and x.is_leaf and x.dtype == torch.float32


def test_lists_constructors_and_arithmetic():
    t = make_inputs(("a", "b", "c", "d", "e"),
                    {"a": [0.5, 0.75], "b": "[[1, 2], [3, 4]]", "c": "linspace(0, 1, 101)",
                     "d": "eye(3)", "e": "2*pi*ones(2)"}, dtype="float64")
    assert t["a"].tolist() == [0.5, 0.75] and t["b"].shape == (2, 2)
    assert t["c"].shape == (101,) and t["c"][-1] == 1
    assert torch.equal(t["d"].detach(), torch.eye(3, dtype=torch.float64))
    assert torch.allclose(t["e"].detach(), torch.full((2,), 2 * math.pi, dtype=torch.float64))
    assert all(v.dtype == torch.float64 for v in t.values())


def test_seed_gives_the_numbers_of_plain_pytorch():
    t = make_inputs(("x", "y"), {"x": "rand(3)", "y": "randn(2, 2)"}, seed=7)
    torch.manual_seed(7)
    assert torch.equal(t["x"].detach(), torch.rand(3))
    assert torch.equal(t["y"].detach(), torch.randn(2, 2))
    again = make_inputs(("x", "y"), {"x": "rand(3)", "y": "randn(2, 2)"}, seed=7)
    assert torch.equal(t["x"], again["x"])


def test_a_tensor_is_copied_not_shared():
    source = torch.ones(3)
    x = make_inputs(("x",), {"x": source})["x"]
    x.detach().add_(1)
    assert torch.equal(source, torch.ones(3))


@pytest.mark.parametrize("spec, fragment", [
    ("rand(10**6, 10**6)", "elements"), ("y + 1", "other variables"), ("rand(2.5)", "whole numbers"),
    ({"a": 1}, "give a number"), ("open('x')", "unknown function"), ([1, "a"], "numbers only"),
    (True, "give a number"),
])
def test_bad_specs_are_refused(spec, fragment):
    with pytest.raises(ExpressionError, match=fragment):
        make_inputs(("x",), {"x": spec})


def test_missing_and_unused_inputs():
    with pytest.raises(ExpressionError, match="no value given for y"):
        make_inputs(("x", "y"), {"x": 1})
    with pytest.raises(ExpressionError, match="z is not used"):
        make_inputs(("x",), {"x": 1, "z": 2})


def test_total_input_size_is_bounded():
    with pytest.raises(ExpressionError, match="inputs are too large"):
        make_inputs(("a", "b"), {"a": "ones(60)", "b": "ones(60)"}, limits=Limits(max_total_elements=100))


def test_dtype_and_device_are_validated():
    with pytest.raises(ExpressionError, match="float32 or float64"):
        make_input("1", dtype="int8")
    with pytest.raises(ValueError, match="unknown device"):
        make_inputs(("x",), {"x": 1}, device="tpu")
