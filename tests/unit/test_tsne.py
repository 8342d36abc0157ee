"""t-SNE: the perplexity search, the gradient three ways, the fast exact gradients, and runs that lower KL."""
from __future__ import annotations

import doctest
import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.demos import tsne as tsne_module
from explorer.demos.tsne import (
    CpuGradient, DeviceGradient, checks_along_run, conditional_probabilities, exact_gradient, gradient_check,
    joint_probabilities, kl_divergence, load_dataset, paper_gradient, pca_initialisation, reference_gradient,
    trustworthiness, tsne,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def iris():
    X, labels = load_dataset("iris")
    return X, labels, joint_probabilities(X, 20.0)


@pytest.fixture(scope="module")
def digits():
    X, labels = load_dataset("digits")
    return X, labels, joint_probabilities(X, 30.0)


@pytest.mark.parametrize("dataset, perplexity", [("blobs", 15.0), ("digits", 30.0), ("wine", 5.0)])
def test_perplexity_search_hits_its_target(dataset, perplexity):
    X, _ = load_dataset(dataset)
    conditional, beta = conditional_probabilities(X, perplexity)
    entropy = -torch.xlogy(conditional, conditional).sum(1)
    assert float((entropy - math.log(perplexity)).abs().max()) < 1e-5
    torch.testing.assert_close(conditional.sum(1), torch.ones(len(X), dtype=torch.float64))
    assert bool((conditional.diagonal() == 0).all()) and bool((beta > 0).all())
    P = joint_probabilities(X, perplexity)
    assert float(P.sum()) == pytest.approx(1.0) and torch.equal(P, P.T)


def test_perplexity_search_agrees_with_scikit_learn(digits):
    from scipy.spatial.distance import squareform
    from sklearn.manifold._t_sne import _joint_probabilities
    from sklearn.metrics import pairwise_distances

    X, _, P = digits
    theirs = squareform(_joint_probabilities(pairwise_distances(X, squared=True), 30.0, 0))
    assert np.abs(theirs - P.numpy()).max() < 1e-4 * float(P.max())


@pytest.mark.parametrize("alpha", [1.0, 12.0])
def test_autograd_agrees_with_the_paper_to_1e_10_and_the_reference_is_a_quarter(iris, alpha):
    _, _, P = iris
    Y = torch.randn(P.shape[0], 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    check = gradient_check(P, Y, alpha)
    assert check.max_rel_error < 1e-10
    torch.testing.assert_close(paper_gradient(P, Y, alpha), 4 * reference_gradient(P, Y, alpha))
    assert check.reference_ratio == pytest.approx(4.0, rel=1e-9)


def test_the_check_holds_along_a_real_run_with_and_without_exaggeration(digits):
    X, _, P = digits
    snapshots = list(tsne(X, P=P, n_iter=400, device="cpu"))
    checks = checks_along_run(P, snapshots)
    assert [(s.iteration, s.exaggeration) for s, _ in checks] == [(10, 12.0), (250, 12.0), (260, 1.0), (400, 1.0)]
    for _, check in checks:
        assert check.max_rel_error < 1e-10 and check.reference_ratio == pytest.approx(4.0, rel=1e-9)


def test_exaggeration_is_not_kl_of_alpha_p(iris):
    # The update with αP follows −α Σ p log w + log Z; KL(αP‖Q)'s gradient would be α times the plain one.
    _, _, P = iris
    Y = torch.randn(P.shape[0], 2, dtype=torch.float64, requires_grad=True)
    (kl_alpha,) = torch.autograd.grad(kl_divergence(12 * P, Y), Y)
    (plain,) = torch.autograd.grad(kl_divergence(P, Y), Y)
    torch.testing.assert_close(kl_alpha, 12 * plain)
    assert not torch.allclose(gradient_check(P, Y, 12.0).autograd, kl_alpha, rtol=1e-3)


def test_seed_000_random_P():  # the seed's own set-up: P from |randn| symmetrised, Y ~ randn(10, 2)
    gen = torch.Generator().manual_seed(0)
    P = torch.randn(10, 10, generator=gen, dtype=torch.float64).abs()
    P.fill_diagonal_(0)
    P = (P + P.T) / 2 / P.sum()
    check = gradient_check(P, torch.randn(10, 2, generator=gen, dtype=torch.float64))
    assert torch.allclose(check.autograd / check.paper, torch.ones_like(check.paper))


def test_kl_is_the_masked_definition(iris):
    _, _, P = iris
    Y = torch.randn(P.shape[0], 2, dtype=torch.float64)
    W = 1.0 / (1.0 + torch.cdist(Y, Y) ** 2)
    off = ~torch.eye(len(Y), dtype=torch.bool)
    Q = W[off] / W[off].sum()
    p = P[off]
    keep = p > 0
    expected = (p[keep] * (p[keep] / Q[keep]).log()).sum()
    torch.testing.assert_close(kl_divergence(P, Y), expected)
    assert float(kl_divergence(P, Y)) > 0


@pytest.mark.parametrize("engine", ["cpu kernel", "torch ops"])
def test_the_fast_exact_gradients_are_the_paper_gradient(digits, engine):
    _, _, P = digits
    fast = CpuGradient(P) if engine == "cpu kernel" else DeviceGradient(P, torch.device("cpu"), block=300)
    for scale, alpha in ((1e-3, 12.0), (1.0, 12.0), (20.0, 1.0)):  # tiny and clustered, then spread out
        Y = torch.randn(P.shape[0], 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * scale
        expected = paper_gradient(P, Y, alpha)
        got = fast(Y.float(), alpha).double()
        assert float((got - expected).abs().max() / expected.abs().max()) < 1e-4
        assert fast.kl(Y.float()) == pytest.approx(float(kl_divergence(P, Y)), rel=1e-5)


def test_exact_gradient_picks_the_cpu_kernel_on_the_cpu(iris):
    assert isinstance(exact_gradient(iris[2], "cpu"), CpuGradient)


def test_the_torch_path_runs_t_sne_as_well(digits, monkeypatch):
    # What a GPU runs (and a CPU without Numba): the same schedule, the same quality. Float32 rounding
    # sends two runs apart within tens of iterations (the gains amplify it), so compare KL, not Y;
    # on digits runs land within a fraction of a percent of each other, on iris or wine within 10 %.
    X, _, P = digits
    kernel = list(tsne(X, P=P, n_iter=400, device="cpu"))[-1]

    def no_numba(P):
        raise ImportError("numba")

    monkeypatch.setattr(tsne_module, "CpuGradient", no_numba)
    assert isinstance(exact_gradient(P, "cpu"), DeviceGradient)
    torch_ops = list(tsne(X, P=P, n_iter=400, device="cpu"))[-1]
    assert torch_ops.iteration == kernel.iteration == 400
    assert torch_ops.kl == pytest.approx(kernel.kl, rel=0.02)


def test_pca_initialisation_is_scikit_learns_up_to_sign():
    from sklearn.decomposition import PCA

    X, _ = load_dataset("digits")
    ours = pca_initialisation(X)
    theirs = PCA(n_components=2, svd_solver="full").fit_transform(X)
    theirs = theirs / theirs[:, 0].std() * 1e-4
    assert ours[:, 0].std() == pytest.approx(1e-4)
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), rtol=1e-6, atol=1e-12)


def test_a_short_run_lowers_kl_and_follows_the_schedule(iris):
    X, _, P = iris
    snapshots = list(tsne(X, P=P, n_iter=400, kl_every=50, seed=0, device="cpu"))
    kls = [s.kl for s in snapshots if s.kl is not None]
    assert kls[-1] < 0.5 * kls[0]
    assert [s.iteration for s in snapshots if s.kl is not None] == list(range(50, 401, 50))
    early = [s for s in snapshots if s.phase == "early exaggeration"]
    main = [s for s in snapshots if s.phase == "main"]
    assert early[-1].iteration == 250 and main[0].iteration == 260
    assert {(s.exaggeration, s.momentum) for s in early} == {(12.0, 0.5)}
    assert {(s.exaggeration, s.momentum) for s in main} == {(1.0, 0.8)}
    assert snapshots[-1].kl == pytest.approx(float(kl_divergence(P, torch.as_tensor(snapshots[-1].Y).double())),
                                             rel=1e-5)


def test_digits_reaches_exact_quality():
    # scikit-learn's exact TSNE ends at 0.680, its Barnes-Hut at 0.710. Runs of the same schedule whose P
    # differ by 1e-9 (rounding) end anywhere in 0.681-0.685, in float32 as in float64, so the bar here
    # leaves room for another CPU's rounding; bench/tsne.py prints the figure.
    X, _ = load_dataset("digits")
    P = joint_probabilities(X, 30.0)
    *_, last = tsne(X, P=P, device="cpu")
    assert float(kl_divergence(P, torch.as_tensor(last.Y, dtype=torch.float64))) <= 0.69
    assert trustworthiness(X, last.Y) >= 0.99


def test_runs_are_deterministic_and_threads_do_not_mix(iris):
    X, _, P = iris
    alone = list(tsne(X, P=P, n_iter=300, device="cpu"))[-1].Y
    results = {}

    def run(k):
        results[k] = list(tsne(X, P=P, n_iter=300, device="cpu"))[-1].Y

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2]
    for Y in results.values():
        np.testing.assert_array_equal(Y, alone)


def test_a_stalled_run_stops_early_and_tol_zero_runs_them_all(iris):
    X, _, P = iris
    stalled = list(tsne(X, P=P, n_iter=3000, tol=1e-2, device="cpu"))[-1]
    assert 350 <= stalled.iteration < 3000
    every = list(tsne(X, P=P, n_iter=3000, tol=0, device="cpu"))
    kls = [s.kl for s in every if s.kl is not None]
    assert any(b > a for a, b in zip(kls, kls[1:]))  # KL rises now and then late in the run: no reason to stop
    assert every[-1].iteration == 3000


@pytest.mark.parametrize("kwargs, fragment", [
    ({"perplexity": 1000}, "perplexity"), ({"n_iter": 0}, "n_iter"), ({"learning_rate": -1}, "learning_rate"),
    ({"early_exaggeration": 0.5}, "early_exaggeration"), ({"tol": -1}, "tol"), ({"kl_every": 0}, "kl_every"),
    ({"exploration_iter": -1}, "exploration_iter"), ({"device": "tpu"}, "device"),
])
def test_parameters_are_validated(iris, kwargs, fragment):
    X, _, _ = iris
    with pytest.raises(ValueError, match=fragment):
        list(tsne(X, **kwargs))
    with pytest.raises(ValueError, match="dataset"):
        load_dataset("mnist")


def test_the_module_examples_run():
    assert doctest.testmod(tsne_module, raise_on_error=False).failed == 0


def test_command_line_json(tmp_path):
    out = tmp_path / "embedding.csv"
    done = subprocess.run([sys.executable, "-m", "explorer", "tsne", "--dataset", "iris", "--iterations", "300",
                           "--json", "--save-embedding", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"kl", "seconds", "iterations", "grad_check_max_rel_error", "trustworthiness", "device"} <= set(result)
    assert result["grad_check_max_rel_error"] < 1e-10 and result["trustworthiness"] > 0.9
    assert result["iterations"] == 300 and result["device"] == "cpu" and result["reference_ratio"] == pytest.approx(4)
    assert {c["exaggeration"] for c in result["grad_checks"]} == {1.0, 12.0} and len(result["grad_checks"]) == 6
    assert "iteration   300  KL" in done.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "x,y,label" and len(rows) == 151
    bad = subprocess.run([sys.executable, "-m", "explorer", "tsne", "--perplexity", "5000", "--dataset", "iris"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "perplexity" in bad.stderr and "Traceback" not in bad.stderr
