"""Vector-Jacobian products: the choice of v, J row by row, vᵀJ against backward(v), PyTorch's refusal."""
from __future__ import annotations

import pytest
import torch

import explorer
from explorer.expression import ExpressionError
from explorer.presets import preset
from explorer.vjp import MAX_JACOBIAN_ENTRIES, VectorChoice, implicit_backward_error, jacobian_rows, vector_jacobian

AFFINE = {"A": "rand(4, 3)", "x": "rand(3)", "b": "rand(4)"}


def test_the_refusal_is_pytorchs_own_message():
    # Seed 001 builds v = ones "since we no longer have a scalar"; without it PyTorch refuses.
    x = torch.rand(5, requires_grad=True)
    try:
        torch.sin(x).backward()
    except RuntimeError as err:
        expected = str(err).splitlines()[0]
    assert implicit_backward_error([torch.sin(x)]) == expected
    assert "only for scalar outputs" in expected


def test_no_refusal_for_one_element_outputs_and_no_grad_left_behind():
    x = torch.tensor([4.0], requires_grad=True)
    assert implicit_backward_error([x**3 + 2 * x**2 + 8 * x]) is None
    assert x.grad is None  # the check does not leave a gradient in the leaf


def test_jacobian_rows_are_backward_of_one_hot_vectors():
    A = torch.rand(4, 3, dtype=torch.float64)
    x = torch.rand(3, dtype=torch.float64, requires_grad=True)
    J = jacobian_rows([torch.sin(A @ x)], {"x": x})["x"]
    torch.testing.assert_close(J, torch.cos(A @ x).detach()[:, None] * A)  # d sin(Ax)/dx = diag(cos(Ax)) A


@pytest.mark.parametrize("choice", [VectorChoice(), VectorChoice("one-hot", index=2),
                                    VectorChoice("random", seed=5), VectorChoice("typed", values="[1, -2, 0, 3]")])
def test_vᵀJ_is_what_backward_v_computes(choice):
    vj = vector_jacobian("sin(mv(A, x) + b)", inputs=AFFINE, vector=choice, dtype="float64")
    ex = explorer.explore("sin(mv(A, x) + b)", inputs=AFFINE, v=choice, dtype="float64", device="cpu")
    torch.testing.assert_close(ex.v[0].reshape(-1), vj.v)
    for name in ("A", "x", "b"):
        torch.testing.assert_close(vj.products[name], ex.grads[name])
    assert vj.jacobians["x"].shape == (4, 3) and vj.jacobians["A"].shape == (4, 12)
    assert vj.implicit_error == "grad can be implicitly created only for scalar outputs"


def test_choices_of_v():
    shapes = [(2,), (1, 2)]
    assert [v.tolist() for v in VectorChoice().vectors(shapes, "float32")] == [[1, 1], [[1, 1]]]
    assert [v.tolist() for v in VectorChoice("one-hot", index=3).vectors(shapes, "float32")] == [[0, 0], [[0, 1]]]
    assert [v.tolist() for v in VectorChoice("typed", values="[1, 2, 3, 4]").vectors(shapes, "float64")] == \
        [[1, 2], [[3, 4]]]
    a = VectorChoice("random", seed=1).vectors(shapes, "float32")
    b = VectorChoice("random", seed=1).vectors(shapes, "float32")
    assert all(torch.equal(u, w) for u, w in zip(a, b))  # reproducible from its seed
    assert VectorChoice("random", seed=1).describe() == "v = randn (seed 1)"


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="v must be one of ones, one-hot, random, typed"):
        VectorChoice("zeros")
    with pytest.raises(ValueError, match="index must be a whole number"):
        VectorChoice("one-hot", index=-1)
    with pytest.raises(ExpressionError, match="index 4 is out of range: the outputs have 4 elements"):
        VectorChoice("one-hot", index=4).vectors([(4,)], "float32")
    with pytest.raises(ExpressionError, match="v needs 4 numbers"):
        VectorChoice("typed", values="[1, 2]").vectors([(4,)], "float32")
    with pytest.raises(ExpressionError):
        VectorChoice("typed", values="__import__('os')").vectors([(4,)], "float32")


def test_the_seed_003_preset_with_v_ones_gives_the_printed_gradient():
    p = preset("sin_affine")
    vj = vector_jacobian(p.source, inputs=dict(p.inputs), dtype=p.dtype)
    printed = torch.tensor(p.expected.grads["x"], dtype=torch.float64)
    torch.testing.assert_close(vj.products["x"], printed, atol=p.expected.atol, rtol=0)


def test_a_large_jacobian_is_not_built():
    vj = vector_jacobian("sin(x)", inputs={"x": "linspace(0, 1, 1001)"})
    assert 1001 * 1001 > MAX_JACOBIAN_ENTRIES
    assert vj.jacobians["x"] is None and vj.products["x"] is None
    assert vj.v.shape == (1001,)


def test_several_outputs_concatenate_in_order():
    vj = vector_jacobian("(x * x, sum(x))", inputs={"x": "[1.0, 2.0]"}, vector=VectorChoice("one-hot", index=2))
    assert vj.output_shapes == [(2,), ()]
    torch.testing.assert_close(vj.jacobians["x"], torch.tensor([[2.0, 0.0], [0.0, 4.0], [1.0, 1.0]]))
    torch.testing.assert_close(vj.products["x"], torch.tensor([1.0, 1.0]))
    assert vj.implicit_error is not None  # x * x has two elements
