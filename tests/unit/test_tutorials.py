"""Every number the tutorials state is computed again here, by the library (docs/tutorials/*.md).

The convention: a number the text states is followed by an HTML comment naming its claim,
``72<!-- check: poly.grad -->`` (GitHub does not show the comment). :data:`CLAIMS` maps each name to
the computation that gives it; the written number must be the computed one as written (rounded to
the digits shown), or, for a claim marked ``at_most``, at least as large (``below 1e-14``). A number
in the prose with no mark must be one the text *sets* (an input, a coefficient, a size), listed in
:data:`GIVEN` for its tutorial; anything else fails, so a number cannot slip in unchecked. Code
blocks, inline code and link addresses are not prose.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import explorer
from explorer import compare, derivatives, mechanics
from explorer.presets import preset
from explorer.vjp import VectorChoice

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
_DIGITS = r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-−+]?\d+)?"  # 72, −0.6536, 1,797, 3.8e-5
MARK = re.compile(rf"(?P<number>{_DIGITS})<!--\s*check:\s*(?P<name>[\w.]+)\s*-->")
NUMBER = re.compile(rf"(?<![\w.⁰-⁹₀-₉]){_DIGITS}(?![\w])")


@dataclass(frozen=True)
class Claim:
    """How to compute a stated number; ``at_most``: the text gives an upper bound for it."""

    compute: Callable[[], float]
    at_most: bool = False


# -- the computations (each cached: several claims read one run) -----------------------------------

@functools.cache
def poly():
    return explorer.explore("x**3 + 2*x**2 + 8*x", x=4)


@functools.cache
def sent_to_x(source: str) -> dict[str, float]:
    """What each consumer of the leaf x sends it in backward, by the consumer's label (the node table)."""
    ex = explorer.explore(source, x=4)
    leaf = next(n for n in ex.nodes if n.kind == "leaf" and n.label == "x")
    return {n.label: float(n.sends[k].sum()) for n in ex.nodes for k, i in enumerate(n.inputs)
            if i == leaf.id and k < len(n.sends) and n.sends[k] is not None}


@functools.cache
def accumulated() -> list[float]:
    events = mechanics.accumulation("x**3 + 2*x**2 + 8*x", {"x": 4})
    return [float(e.grads["x"]) for e in events if e.grads and e.grads["x"] is not None][:3]


def grad(preset_key: str, name: str, index: int = 0) -> float:
    return float(preset(preset_key).explore().grads[name].reshape(-1)[index])


@functools.cache
def sin_affine():
    return preset("sin_affine").explore()


def sin_affine_one_hot() -> float:
    p = preset("sin_affine")
    ex = explorer.explore(p.source, inputs=dict(p.inputs), v=VectorChoice("one-hot", index=0),
                          dtype=p.dtype)
    return float(ex.grads["x"][0])


def gap_to_seed() -> float:
    """The largest difference between our x.grad of sin(Ax + b) and the one seed 003 prints."""
    printed = preset("sin_affine").expected.grads["x"]
    return max(abs(a - b) for a, b in zip(sin_affine().grads["x"].tolist(), printed))


@functools.cache
def log_dot_scale() -> float:
    x = preset("log_dot").explore().inputs["x"]
    return float(2 / (1 + x @ x))


@functools.cache
def divergence(source: str, spec: str, laplacian: bool):
    return derivatives.divergence(source, {"x": spec}, laplacian=laplacian, dtype="float64")


@functools.cache
def curl():
    return derivatives.curl("(-y, x, 0*z)", {"x": "1.0", "y": "2.0", "z": "3.0"}, dtype="float64").curl.tolist()


@functools.cache
def lab_jacobian():  # the Jacobians & VJP lab's default
    return derivatives.jacobian("sin(A @ x + b)", {"A": "rand(10, 5)", "x": "rand(5)", "b": "rand(10)"},
                                dtype="float64")


@functools.cache
def four_ways():  # the Four ways page's default: the table at h = 0.001 in float32
    return compare.compare("log(x[0]*x[1]) * sin(x[1])", {"x": "[0.5, 0.75]"}, step=1e-3, dtype="float32")


def estimate(method: str, index: int) -> float:
    return float(four_ways().methods[method]["x"].value[index])


@functools.cache
def regression():  # the SGD regression page's defaults, which are seed 004's settings
    from explorer.demos import regression as demo

    data = demo.make_data(100, 2.0, 1.0, 1.0, seed=0)
    snapshots = list(demo.fit(data, seed=0, lr=0.1, epochs=500, report_every=100))
    return data, snapshots, demo.stability_limit(data)


@functools.cache
def tsne_checks():  # the t-SNE page's check on iris, at its default perplexity and seed
    from explorer.demos.tsne import random_checks

    return random_checks("iris", None, 30.0, 0, (1.0, 12.0))["checks"]


@functools.cache
def tsne_iris_run() -> dict:  # Start on the t-SNE page for iris, with its defaults
    from explorer.demos.tsne import live

    *_, score = live("iris", None, 30.0, 0, n_iter=1000, early_exaggeration=12.0, exploration_iter=250,
                     learning_rate="auto", tol=1e-4, device="cpu", snapshot_every=10)
    return score


def digits_shape() -> tuple[int, int]:
    from explorer.demos.tsne import dataset_shape

    return dataset_shape("digits")


W_GRAPH = "w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw6 = w2 + w4 + w5\nw6"

CLAIMS: dict[str, Claim] = {
    # autograd-basics.md (seed 001)
    "poly.grad": Claim(lambda: float(poly().grads["x"])),
    "poly.value": Claim(lambda: float(poly().outputs[0])),
    "poly_w.via_w2": Claim(lambda: sent_to_x(W_GRAPH)["w2"]),
    "poly_w.via_w3": Claim(lambda: sent_to_x(W_GRAPH)["w3"]),
    "poly_w.via_w5": Claim(lambda: sent_to_x(W_GRAPH)["w5"]),
    "sin_vector.first_grad": Claim(lambda: grad("sin_vector", "X")),
    "accumulate.first": Claim(lambda: accumulated()[0]),
    "accumulate.second": Claim(lambda: accumulated()[1]),
    "accumulate.third": Claim(lambda: accumulated()[2]),
    "sin.grad": Claim(lambda: grad("sin", "x")),
    "poly_xy.dx": Claim(lambda: grad("poly_xy", "x")),
    "poly_xy.dy": Claim(lambda: grad("poly_xy", "y")),
    "sin_xy.dy": Claim(lambda: grad("sin_xy", "y")),
    # vector-jacobian-products.md (seed 003)
    "log_dot.scale": Claim(log_dot_scale),
    "log_dot.first_grad": Claim(lambda: grad("log_dot", "x")),
    **{f"sin_affine.grad_{i}": Claim(functools.partial(lambda i: float(sin_affine().grads["x"][i]), i))
       for i in range(5)},
    "sin_affine.gap_to_seed": Claim(gap_to_seed, at_most=True),
    "sin_affine.one_hot_first": Claim(sin_affine_one_hot),
    "lab.outputs": Claim(lambda: lab_jacobian().outputs),
    "lab.inputs": Claim(lambda: lab_jacobian().inputs),
    # know-your-jacobian.md (seed 002)
    "sin_second.largest_difference": Claim(lambda: max(
        derivatives.higher_order("sin(x)", {"x": "linspace(0, 1, 1001)"}, order=2).differences)),
    "partials.dx": Claim(lambda: grad("partials", "x")),
    "partials.dy": Claim(lambda: grad("partials", "y")),
    "dot.gradient_entry": Claim(lambda: max(explorer.explore("dot(x, x)", x="ones(3)").grads["x"].tolist())),
    "laplacian.identity": Claim(lambda: divergence("dot(x, x)", "ones(3)", True).with_identity),
    "laplacian.ones": Claim(lambda: divergence("dot(x, x)", "ones(3)", True).with_ones),
    "divergence.identity": Claim(lambda: divergence("x * sum(x)", "[1.0, 2.0, 3.0]", False).with_identity),
    "divergence.ones": Claim(lambda: divergence("x * sum(x)", "[1.0, 2.0, 3.0]", False).with_ones),
    "divergence.off_diagonal": Claim(lambda: float(
        (lambda J: J.sum() - J.trace())(divergence("x * sum(x)", "[1.0, 2.0, 3.0]", False).jacobian))),
    "curl.x": Claim(lambda: curl()[0]),
    "curl.y": Claim(lambda: curl()[1]),
    "curl.z": Claim(lambda: curl()[2]),
    # four-ways-and-sgd.md (seed 004)
    "four_ways.symbolic_0": Claim(lambda: estimate("symbolic", 0)),
    "four_ways.symbolic_1": Claim(lambda: estimate("symbolic", 1)),
    "four_ways.forward_0": Claim(lambda: estimate("forward_difference", 0)),
    "four_ways.forward_1": Claim(lambda: estimate("forward_difference", 1)),
    "four_ways.forward_error": Claim(lambda: four_ways().methods["forward_difference"]["x"].error),
    "four_ways.central_error": Claim(lambda: four_ways().methods["central_difference"]["x"].error),
    "four_ways.autograd_error": Claim(lambda: max(four_ways().methods[m]["x"].error
                                                  for m in ("reverse_mode", "forward_mode")), at_most=True),
    "four_ways.theory_forward_float32": Claim(lambda: compare.optimal_step("forward", "float32")),
    "four_ways.best_forward_float32": Claim(lambda: four_ways().best_steps()["forward float32"][0]),
    "four_ways.theory_central_float32": Claim(lambda: compare.optimal_step("central", "float32")),
    "four_ways.best_central_float32": Claim(lambda: four_ways().best_steps()["central float32"][0]),
    "regression.first_loss": Claim(lambda: regression()[1][0].loss),
    "regression.gradient_at_100": Claim(lambda: max(abs(g) for g in (regression()[1][1].grad_b0,
                                                                       regression()[1][1].grad_b1)), at_most=True),
    "regression.b0": Claim(lambda: regression()[1][-1].b0),
    "regression.b1": Claim(lambda: regression()[1][-1].b1),
    "regression.loss": Claim(lambda: regression()[1][-1].loss),
    "regression.stability_limit": Claim(lambda: regression()[2]),
    # tsne-kl-gradient.md (seed 000)
    "tsne.autograd_against_paper": Claim(lambda: tsne_checks()[1.0].max_rel_error, at_most=True),
    "tsne.autograd_over_reference": Claim(lambda: tsne_checks()[1.0].reference_ratio),
    "tsne.exaggerated_against_paper": Claim(lambda: tsne_checks()[12.0].max_rel_error, at_most=True),
    "tsne.exaggerated_over_reference": Claim(lambda: tsne_checks()[12.0].reference_ratio),
    "tsne.iris_kl": Claim(lambda: tsne_iris_run()["kl"]),
    "tsne.iris_trustworthiness": Claim(lambda: tsne_iris_run()["trustworthiness"]),
    "tsne.digits_points": Claim(lambda: digits_shape()[0]),
    "tsne.digits_dimensions": Claim(lambda: digits_shape()[1]),
}

# Numbers a tutorial sets rather than computes: inputs, coefficients, sizes, settings, seed numbers.
GIVEN = {
    "README.md": set(),
    "autograd-basics.md": {"001", "2", "3", "4", "8", "10", "5.6419", "6", "1", "0"},
    "vector-jacobian-products.md": {"003", "1", "2", "10", "5", "0.0492", "0"},
    "know-your-jacobian.md": {"002", "1,001", "0", "1", "2", "3"},
    "four-ways-and-sgd.md": {"004", "0.5", "0.75", "0.001", "2", "100", "1", "0.1", "500"},
    "tsne-kl-gradient.md": {"000", "2008", "5", "150", "4", "12", "250", "0.5", "0.8", "1000", "1"},
}


# -- reading the tutorials ----------------------------------------------------------------------------

def prose(text: str) -> str:
    """``text`` without code blocks, inline code, link addresses and list numbers (the marks stay)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    # ](address): an address has no space and may hold parentheses; it ends at a ")" before a space or a stop.
    text = re.sub(r"\]\(\S+?\)(?=[\s.,;:!?]|$)", "] ", text, flags=re.M)
    text = re.sub(r"<https?://[^>]*>", " ", text)
    return re.sub(r"^\s*\d+\.\s", " ", text, flags=re.M)


def value(written: str) -> float:
    return float(written.replace("−", "-").replace(",", ""))


def half_unit(written: str) -> float:
    """Half a unit in the last digit written: how far the exact value may be from what is written."""
    mantissa, _, exponent = written.replace("−", "-").partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10 ** (-decimals + (int(exponent) if exponent else 0))


MARKS = [(path.name, m["number"], m["name"]) for path in TUTORIALS for m in MARK.finditer(prose(path.read_text()))]


def test_the_tutorials_are_there():
    names = {path.name for path in TUTORIALS}
    assert set(GIVEN) == names, "one tutorial per seed document, and the index"
    assert len(MARKS) >= 40


@pytest.mark.parametrize("tutorial, written, name", MARKS, ids=[f"{t}:{n}" for t, _, n in MARKS])
def test_a_stated_number_is_what_the_library_computes(tutorial: str, written: str, name: str):
    assert name in CLAIMS, f"{tutorial}: no computation for the claim {name!r} (add it to CLAIMS)"
    claim = CLAIMS[name]
    computed = float(claim.compute())
    if claim.at_most:
        assert computed <= value(written), f"{tutorial}: {name} is {computed:.6g}, not below {written}"
    else:
        assert math.isclose(computed, value(written), rel_tol=0, abs_tol=half_unit(written) * (1 + 1e-9)), \
            f"{tutorial}: {name} is {computed:.10g}; the text writes {written}"


def test_every_claim_is_stated_somewhere():
    assert set(CLAIMS) - {name for _, _, name in MARKS} == set()


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.name for p in TUTORIALS])
def test_no_number_is_stated_unchecked(path: Path):
    text = MARK.sub(" ", prose(path.read_text()))            # the checked numbers out of the way
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    loose = sorted({n for n in NUMBER.findall(text)} - GIVEN[path.name])
    assert loose == [], (f"{path.name} states {loose} without a check: mark each with <!-- check: NAME --> "
                         "and compute it in CLAIMS, or list it in GIVEN if the text sets it")

