"""Model presets: big real graphs, reproducible by seed, their gradients alive at depth, parameters checked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.graph import capture, longest_path
from explorer.models import MODELS, build_model, chain, mlp, residual_mlp, rnn


@pytest.mark.parametrize("name", list(MODELS))
def test_every_preset_builds_a_scalar_loss_with_named_leaves(name):
    loss, params = build_model(name, 6, seed=3)
    assert loss.shape == () and loss.requires_grad and params
    assert all(p.is_leaf and p.requires_grad for p in params.values())
    graph = capture(loss, params)
    assert set(graph.grads) == set(params)   # every leaf of the graph is a named parameter
    expected = torch.autograd.grad(loss, list(params.values()))
    for (name_, grad), want in zip(graph.grads.items(), expected):
        torch.testing.assert_close(grad, want)
    assert MODELS[name].description and MODELS[name].default_depth >= 1


def test_node_counts_grow_as_documented():
    assert len(capture(*mlp(depth=10)).nodes) == 5 * 10 + 2         # + mean and pow
    assert len(capture(*residual_mlp(depth=10)).nodes) == 6 * 10 + 2
    assert len(capture(*rnn(steps=10)).nodes) == 5 * 10 + 2 + 3      # + the three shared leaves
    graph = capture(*chain(depth=1500))
    assert longest_path(graph.nodes) == 1501                         # sum, 1,500 sins, the leaf


def test_the_same_seed_gives_the_same_model_and_another_seed_another():
    a, b, c = mlp(depth=3, seed=1), mlp(depth=3, seed=1), mlp(depth=3, seed=2)
    assert a[0].item() == b[0].item() != c[0].item()
    assert torch.equal(a[1]["layer2.weight"], b[1]["layer2.weight"])


def test_gradients_stay_alive_through_deep_presets():
    """Orthogonal weights: through 1,000 layers the first layer's gradient neither vanishes nor explodes."""
    loss, params = mlp(depth=1000)
    first = torch.autograd.grad(loss, params["layer0.weight"])[0].abs().max().item()
    assert 1e-6 < first < 1e3
    loss, params = rnn(steps=1000)
    assert torch.isfinite(torch.autograd.grad(loss, params["W"])[0]).all()


def test_parameters_are_checked():
    for name, model in MODELS.items():
        for bad in (0, -1, model.max_depth + 1, 2.5, True):
            with pytest.raises(ValueError, match=f"must be a whole number from 1 to {model.max_depth:,}"):
                build_model(name, bad)
    with pytest.raises(ValueError, match="hidden must be"):
        rnn(steps=3, hidden=0)
    with pytest.raises(ValueError, match="model must be one of mlp, rnn, residual, chain"):
        build_model("lstm")


def test_the_deepest_preset_is_freed_without_crashing():
    """PyTorch frees a walked graph recursively: a preset at its largest depth must not overflow the C stack."""
    script = ("from explorer.models import build_model, MODELS\nfrom explorer.graph import capture\n"
              "loss, params = build_model('chain', MODELS['chain'].max_depth)\n"
              "graph = capture(loss, params)\ndel loss, params\nprint(len(graph.nodes))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == str(MODELS["chain"].max_depth + 2)
