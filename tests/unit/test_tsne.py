"""t-SNE: the perplexity search, the gradient three ways, and a run that lowers KL."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.demos.tsne import (
    gradient_check, joint_probabilities, kl_divergence, load_dataset, paper_gradient, reference_gradient, tsne,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def iris():
    X, labels = load_dataset("iris")
    return X, labels, joint_probabilities(X, 20.0)


def test_perplexity_search_hits_its_target():
    X, _ = load_dataset("blobs", 200)
    X = torch.as_tensor(X)
    n = X.shape[0]
    P = joint_probabilities(X, 15.0)
    assert float(P.sum()) == pytest.approx(1.0) and torch.allclose(P, P.T)
    # Recover each conditional row's entropy from the search itself: re-run it and read H(P_i).
    D = torch.cdist(X, X) ** 2
    D.fill_diagonal_(math.inf)
    beta_lo, beta_hi = torch.full((n,), 1e-8, dtype=torch.float64), torch.full((n,), 1e3, dtype=torch.float64)
    for _ in range(200):  # an independent bisection, to compare entropies at the found precisions
        beta = (beta_lo + beta_hi) / 2
        Pc = torch.softmax(-D * beta[:, None], 1)
        H = -(Pc * Pc.clamp_min(1e-300).log()).sum(1)
        beta_lo, beta_hi = torch.where(H > math.log(15), beta, beta_lo), torch.where(H > math.log(15), beta_hi, beta)
    symmetric = (Pc + Pc.T) / (2 * n)
    torch.testing.assert_close(P, symmetric, atol=1e-6, rtol=1e-3)


@pytest.mark.parametrize("alpha", [1.0, 12.0])
def test_autograd_agrees_with_the_paper_to_1e_10_and_the_reference_is_a_quarter(iris, alpha):
    _, _, P = iris
    Y = torch.randn(P.shape[0], 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    check = gradient_check(P, Y, alpha)
    assert check.max_rel_error < 1e-10
    torch.testing.assert_close(paper_gradient(P, Y, alpha), 4 * reference_gradient(P, Y, alpha))
    assert check.reference_ratio == pytest.approx(4.0, rel=1e-9)


def test_seed_000_random_P():  # the seed's own set-up: P from |randn| symmetrised, Y ~ randn(10, 2)
    gen = torch.Generator().manual_seed(0)
    P = torch.randn(10, 10, generator=gen, dtype=torch.float64).abs()
    P.fill_diagonal_(0)
    P = (P + P.T) / 2 / P.sum()
    check = gradient_check(P, torch.randn(10, 2, generator=gen, dtype=torch.float64))
    assert torch.allclose(check.autograd / check.paper, torch.ones_like(check.paper))


def test_kl_of_a_perfect_embedding_is_small_and_positive(iris):
    _, _, P = iris
    Y = torch.randn(P.shape[0], 2, dtype=torch.float64)
    assert float(kl_divergence(P, Y)) > 0


def test_a_short_run_lowers_kl(iris):
    X, _, P = iris
    snapshots = list(tsne(X, P=P, n_iter=400, kl_every=50, seed=0, device="cpu"))
    kls = [s.kl for s in snapshots if s.kl is not None]
    assert kls[-1] < 0.5 * kls[0]
    assert snapshots[0].phase == "early exaggeration" and snapshots[-1].phase == "main"


def test_the_fast_gradient_is_the_paper_gradient(iris):
    from explorer.demos.tsne import _Gradient

    _, _, P = iris
    Y = torch.randn(P.shape[0], 2, dtype=torch.float64)
    fast = _Gradient(P.to(torch.float64), block=64)(Y, 12.0)
    torch.testing.assert_close(fast, paper_gradient(P, Y, 12.0))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"perplexity": 1000}, "perplexity"), ({"n_iter": 0}, "n_iter"), ({"learning_rate": -1}, "learning_rate"),
    ({"early_exaggeration": 0.5}, "early_exaggeration"),
])
def test_parameters_are_validated(iris, kwargs, fragment):
    X, _, _ = iris
    with pytest.raises(ValueError, match=fragment):
        list(tsne(X, **kwargs))
    with pytest.raises(ValueError, match="dataset"):
        load_dataset("mnist")


def test_command_line_json():
    done = subprocess.run([sys.executable, "-m", "explorer", "tsne", "--dataset", "iris", "--iterations", "300",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"kl", "seconds", "iterations", "grad_check_max_rel_error", "trustworthiness", "device"} <= set(result)
    assert result["grad_check_max_rel_error"] < 1e-10 and result["trustworthiness"] > 0.9
    bad = subprocess.run([sys.executable, "-m", "explorer", "tsne", "--perplexity", "5000", "--dataset", "iris"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "perplexity" in bad.stderr and "Traceback" not in bad.stderr
