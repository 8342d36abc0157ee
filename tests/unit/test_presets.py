"""Every preset through explore() gives the numbers its seed prints.

The expected numbers live in explorer/presets.py, typed in from the seed
documents (shared/seeds/); a few are checked here against the seed text once
more, so that a typo in a preset cannot agree with itself.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

import explorer
from explorer.presets import MODEL_PRESETS, PRESETS, SEEDS, Expected, Preset, preset, preset_for, presets_of_seed
from explorer.vjp import VectorChoice
from explorer.views import Request, view

EXPLORABLE = [p for p in PRESETS if p.explorable]


def assert_agrees(actual: torch.Tensor, printed, atol: float) -> None:
    if isinstance(printed, dict):  # only some elements are printed
        flat = actual.reshape(-1).double()
        for index, value in printed.items():
            assert abs(flat[index].item() - value) <= atol, (index, flat[index].item(), value)
        return
    expected = torch.tensor(printed, dtype=torch.float64)
    torch.testing.assert_close(actual.double(), expected, atol=atol, rtol=0)


@pytest.mark.parametrize("p", EXPLORABLE, ids=[p.key for p in EXPLORABLE])
def test_preset_gives_the_seeds_numbers(p: Preset):
    ex = p.explore()
    assert p.expected.grads or p.expected.outputs, "a preset with a function must say what its seed prints"
    for name, printed in p.expected.grads.items():
        assert_agrees(ex.grads[name], printed, p.expected.atol)
    for out, printed in zip(ex.outputs, p.expected.outputs or ()):
        assert_agrees(out, printed, p.expected.atol)
    assert ex.dtype == p.dtype


def test_the_w_table_sends_48_16_and_8_to_x():
    # Seed 001: w2' = 48, w4' = 2 w3' = 16, w5' = 8 arrive at x and add up to 72.
    p = preset("poly_w")
    ex = p.explore()
    sent = sorted(float(g.sum()) for g in _sent_to(ex, "x"))
    assert sent == sorted(p.expected.sent["x"]) == [8.0, 16.0, 48.0]
    assert sum(sent) == ex.grads["x"].item() == 72.0


def _sent_to(ex, name: str) -> list[torch.Tensor]:
    """The gradients the consumers of leaf ``name`` send it, from the node table."""
    leaf = next(n for n in ex.nodes if n.kind == "leaf" and n.label == name)
    return [n.sends[k] for n in ex.nodes for k, i in enumerate(n.inputs)
            if i == leaf.id and k < len(n.sends) and n.sends[k] is not None]


def test_the_printed_numbers_are_the_seed_texts():
    # A second look at the seed text, so that the presets cannot drift from it.
    assert preset("poly").expected.grads == {"x": [72.0]}
    assert preset("poly_xy").expected.grads == {"x": [49.0], "y": [4.0]}
    assert preset("partials").expected.grads == {"x": [5.0], "y": [8.0]}
    assert preset("log_sin").expected.grads == {"x": [1.3633, 0.1912]}
    assert preset("sin_affine").expected.grads["x"] == [-0.5727, -2.9134, -3.6513, -2.2281, -2.8390]
    assert preset("accumulate").expected.extra["accumulated"] == (72.0, 144.0, 216.0)


def test_the_reconstructed_tenth_value_of_seed_003_is_said_and_consistent():
    p = preset("log_dot")
    assert "0.0492" in p.description and "reconstructed" in p.description
    x = torch.tensor([float(v) for v in p.inputs["x"].strip("[]").split(",")], dtype=torch.float64)
    # Seed 003 prints the gradient 2x / (1 + x.x); its last element is 0.0310.
    assert abs((2 * x[-1] / (1 + x @ x)).item() - 0.0310) < 5e-5


def test_every_seed_has_presets_and_every_preset_a_seed():
    assert {p.seed for p in PRESETS} == set(SEEDS)
    for seed in SEEDS:
        assert presets_of_seed(seed)
    keys = [p.key for p in PRESETS + MODEL_PRESETS]
    assert len(keys) == len(set(keys))


def test_presets_of_other_pages_name_a_page():
    pages = {"explore", "jacobian", "higher-order", "four-ways", "mechanics", "regression", "tsne"}
    assert {p.page for p in PRESETS} <= pages
    assert preset("tsne_kl").page == "tsne" and not preset("tsne_kl").explorable
    assert preset("regression").page == "regression"


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown preset 'nope'; choose one of poly"):
        preset("nope")
    with pytest.raises(ValueError, match="unknown seed"):
        presets_of_seed("999")


def test_presets_run_through_the_public_explore_too():
    p = preset("sin_xy")
    ex = explorer.explore(p.source, inputs=dict(p.inputs))
    assert_agrees(ex.grads["y"], p.expected.grads["y"], p.expected.atol)


def test_a_presets_v_is_the_explorers_choice():
    assert preset("poly").vector == VectorChoice()
    assert preset("sin_affine").v == "ones(10)" and preset("sin_affine").vector == VectorChoice()
    typed = dataclasses.replace(preset("sin_vector"), v="[1, 0, 0, 0, 0, 0, 0, 0, 0, 2]")
    assert typed.vector == VectorChoice("typed", values="[1, 0, 0, 0, 0, 0, 0, 0, 0, 2]")
    grads = typed.explore().grads["X"]
    assert grads[1:-1].abs().sum() == 0 and grads[-1] == pytest.approx(2 * preset("sin_vector").expected.grads["X"][-1],
                                                                        abs=1e-4)


def test_agreement_with_the_seed_is_what_the_explorer_page_shows():
    p = preset("partials")
    ex = p.explore()
    assert p.agreement(ex) == (True, ["x.grad = [5.0]", "y.grad = [8.0]"])
    wrong = dataclasses.replace(p, expected=Expected(grads={"x": [5.0], "y": [8.01]}))
    assert wrong.agreement(ex) == (False, ["x.grad = [5.0]", "y.grad = [8.01]"])
    some = preset("sin_linspace")   # the seed prints one element of the gradient
    assert some.agreement(some.explore()) == (True, ["x.grad[0] = 1"])
    shown = view(Request(p.source, tuple(p.inputs.items()), dtype=p.dtype))["summary"]["preset"]
    assert shown == ("partials", (True, ["x.grad = [5.0]", "y.grad = [8.0]"]))
    assert view(Request(p.source, (("x", "1"), ("y", "3"))))["summary"]["preset"] is None   # other inputs
    assert preset_for(p.source + "  ", {"x": "1", "y": "2"}, "float32") is p
    assert preset_for(p.source, {"x": "1", "y": "2"}, "float64") is None
