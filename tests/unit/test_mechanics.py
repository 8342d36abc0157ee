"""Autograd mechanics lessons with seed 001's numbers: PyTorch's own error and warning, 72 / 144 / 216, zero_grad,
leaf versus non-leaf and retain_grad."""
from __future__ import annotations

import pickle

import pytest
import torch

from explorer import ExpressionError
from explorer.mechanics import KINDS, accumulation, leaf_and_non_leaf, second_backward

SEED = "x**3 + 2*x**2 + 8*x"
SEED_NAMED = "w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw2 + w4 + w5"


def _pytorch_says(action) -> tuple[str, str]:
    """What PyTorch itself raises (a second backward) and warns (.grad of a non-leaf), to compare with the lessons."""
    x = torch.tensor([4.0], requires_grad=True)
    z = x**3 + 2 * x**2 + 8 * x
    z.backward()
    try:
        z.backward()
    except RuntimeError as err:
        error = str(err)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _ = z.grad
    return error, str(caught[0].message).split(" (Triggered internally")[0]


def test_second_backward_without_retain_graph_raises_pytorchs_error():
    events = second_backward(SEED, {"x": 4})
    assert [e.code for e in events[:2]] == ["x", "z = x**3 + 2*x**2 + 8*x"]
    assert events[1].shows == "tensor([128.], grad_fn=<AddBackward0>)"
    assert events[2].grads["x"].tolist() == [72.0] and events[2].shows == "tensor([72.])"
    error, _ = _pytorch_says(None)
    assert events[-1].kind == "error" and events[-1].shows == f"RuntimeError: {error}"
    assert "retain_graph=True" in events[-1].note and events[-1].grads["x"].tolist() == [72.0]


def test_with_retain_graph_the_second_backward_adds():
    events = second_backward(SEED, {"x": 4}, retain_graph=True)
    assert events[2].code.startswith("z.backward(retain_graph=True)")
    assert events[-1].kind == "value" and events[-1].grads["x"].tolist() == [144.0]


def test_a_graph_that_saved_nothing_backs_through_twice():
    events = second_backward("x + 1", {"x": 4})
    assert events[-1].kind == "value" and "saved no tensors" in events[-1].note
    assert events[-1].grads["x"].tolist() == [2.0]


def test_accumulation_72_144_216_then_zero_then_zero_grad():  # seed 001
    events = accumulation(SEED, {"x": 4})
    grads = [e.grads["x"] for e in events if e.grads]
    assert [g.tolist() for g in grads[:5]] == [[72.0], [144.0], [216.0], [0.0], [72.0]] and grads[5] is None
    assert [e.shows for e in events[2:5]] == ["tensor([72.])", "tensor([144.])", "tensor([216.])"]
    assert events[2].code.startswith("z.backward(retain_graph=True)") and events[4].code.startswith("z.backward()")
    assert "x.grad.zero_()" in events[5].code and "optimizer.zero_grad()" in events[7].code
    five = [e.grads["x"].item() for e in accumulation(SEED, {"x": 4}, repeats=5)[2:7]]
    assert five == [72.0, 144.0, 216.0, 288.0, 360.0]


def test_leaf_and_non_leaf_on_the_seeds_named_nodes():
    events = leaf_and_non_leaf(SEED_NAMED, {"x": 4})
    codes = [e.code for e in events]
    assert "x.is_leaf, x.grad_fn" in codes and "w1 is x" in codes
    assert next(e for e in events if e.code == "w2.is_leaf, w2.grad_fn.name()").shows == "(False, 'PowBackward0')"
    _, warning = _pytorch_says(None)
    read = [e for e in events if e.code.startswith("print(w")]
    assert [e.code for e in read] == ["print(w2.grad)", "print(w3.grad)", "print(w4.grad)", "print(w5.grad)"]
    assert all(e.kind == "warning" and e.shows == "None" and e.note == f"UserWarning: {warning}" for e in read)
    last = events[-1]
    assert "w2.retain_grad()" in last.code
    # dz/dw2 = 1, dz/dw3 = 2 (through w4 = 2 w3), dz/dw4 = 1, dz/dw5 = 1; dz/dx = 72.
    assert {n: g.tolist() for n, g in last.grads.items()} == {
        "x": [72.0], "w2": [1.0], "w3": [2.0], "w4": [1.0], "w5": [1.0], "z": [1.0]}


def test_a_vector_output_uses_ones_as_the_seed_does():
    events = accumulation("sin(x)", {"x": "[0.0, 1.0]"}, repeats=1)
    assert events[2].code.startswith("z.backward(torch.ones_like(z))")
    torch.testing.assert_close(events[2].grads["x"], torch.cos(torch.tensor([0.0, 1.0])))


def test_lessons_name_the_output_as_the_user_did_and_show_every_input():
    events = second_backward("a = x * y", {"x": 2, "y": 3})
    assert [e.code for e in events[:3]] == ["x", "y", "a = x * y"]
    assert events[3].code == "a.backward()\nprint(x.grad)\nprint(y.grad)" and events[3].shows == "tensor([3.])\ntensor([2.])"
    assert second_backward(SEED_NAMED, {"x": 4})[1].code == "z = f(x)  # the function above"


def test_refusals_and_plain_data():
    with pytest.raises(ExpressionError, match="one output"):
        accumulation("(x, x**2)", {"x": 1})
    with pytest.raises(ExpressionError, match="repeat"):
        accumulation(SEED, {"x": 4}, repeats=0)
    with pytest.raises(ExpressionError):
        second_backward("__import__('os')", {})
    for lesson in (second_backward, accumulation, leaf_and_non_leaf):
        events = lesson(SEED, {"x": 4})
        assert all(e.kind in KINDS for e in events)
        assert [e.code for e in pickle.loads(pickle.dumps(events))] == [e.code for e in events]
