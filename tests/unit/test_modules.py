"""explorer.modules: each node's module, the folding rule, gradients as a plain backward gives them."""
from __future__ import annotations

import torch
from torch import nn

from explorer.models import GPT, ResNet
from explorer.exploration import trace_model
from explorer.modules import ancestors, runs


def modules_of(ex, op: str) -> list[str]:
    return [n.module for n in sorted(ex.nodes, key=lambda n: n.id) if n.op == op]


def plain_grads(model: nn.Module, loss_of) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss_of().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return grads


def assert_same_grads(ex, model: nn.Module, loss_of) -> None:
    expected = plain_grads(model, loss_of)
    assert set(expected) <= set(ex.grads)
    for name, g in expected.items():
        torch.testing.assert_close(ex.grads[name], g, rtol=1e-5, atol=1e-7, msg=name)


class Shared(nn.Module):
    """One linear layer called twice, with functional code between the calls."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        h = self.lin(x)
        h = torch.tanh(h) * 2          # functional code of this module's own forward
        return self.lin(h)


class Caller(nn.Module):
    """A module whose forward calls a module it does not own, given to it."""

    def __init__(self, helper: nn.Module):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.helper = [helper]   # not registered: the call is what makes it run inside this module

    def forward(self, x):
        return self.helper[0](x * self.scale)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.Tanh()))
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 1), "b": nn.Linear(4, 1)})
        self.shared = Shared()
        self.outer = nn.Linear(3, 3)
        self.caller = Caller(self.outer)

    def forward(self, x):
        h = self.seq(x)
        for block in self.blocks:
            h = block(h) + h            # the residual add is this model's own code: module ""
        y = self.heads["a"](h) - self.heads["b"](h)
        return y.sum() + self.shared(x).pow(2).sum() + self.caller(x).sum()


def test_every_node_knows_the_innermost_module_that_made_it():
    torch.manual_seed(0)
    model = Nested()
    x = torch.randn(5, 3)
    ex = trace_model(model, x)
    addmm = modules_of(ex, "AddmmBackward0")
    assert sorted(set(addmm)) == sorted(["blocks.0", "blocks.1", "outer", "heads.a", "heads.b", "seq.0", "seq.2.0",
                                         "shared.lin"])
    assert addmm.count("shared.lin") == 2                        # called twice: both calls are its nodes
    assert "seq.1" in modules_of(ex, "ReluBackward0")           # nested Sequential
    assert modules_of(ex, "TanhBackward0").count("shared") == 1  # the functional code between the two calls
    assert "seq.2.1" in modules_of(ex, "TanhBackward0")
    assert "caller" in modules_of(ex, "MulBackward0")            # x * scale, in Caller's own forward
    assert set(modules_of(ex, "SubBackward0")) == {""}            # the root model's own code
    leaves = {n.label: n.module for n in ex.nodes if n.kind == "leaf"}
    assert leaves["seq.2.0.weight"] == "seq.2.0" and leaves["caller.scale"] == "caller"
    m = ex.graph.modules
    assert m["shared.lin"].calls == 2 and m["shared.lin"].parent == "shared"
    assert m["outer"].parent == "caller" and m["outer"].depth == 2   # called from Caller's forward
    assert m["seq.2.0"].depth == 3 and ancestors(m, "seq.2.0") == ["seq", "seq.2", "seq.2.0"]
    assert "blocks" not in m                                      # a ModuleList runs no forward of its own
    assert_same_grads(ex, model, lambda: model(x))


def test_functional_code_outside_any_module_and_a_loss_function():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.Softplus())
    x, target = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    ex = trace_model(model, x, loss=lambda out: nn.functional.cross_entropy(out * 3, target))
    outside = {n.op for n in ex.nodes if n.module == ""}
    assert {"MulBackward0", "NllLossBackward0", "LogSoftmaxBackward0"} <= outside   # the loss is nobody's module
    assert_same_grads(ex, model, lambda: nn.functional.cross_entropy(model(x) * 3, target))


def test_the_loss_is_the_scalar_output_or_output_loss_else_a_clear_refusal():
    model = GPT(vocab=20, context=8, layers=1, width=8, heads=2)
    ids = torch.randint(0, 20, (2, 6), generator=torch.Generator().manual_seed(0))
    ex = trace_model(model, ids)   # a dict with a "loss", as transformers' outputs are
    torch.testing.assert_close(ex.outputs[0], model(ids)["loss"].detach())
    import pytest

    with pytest.raises(ValueError, match="not a scalar and has no loss"):
        trace_model(nn.Linear(2, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match="one element"):
        trace_model(nn.Linear(2, 2), torch.ones(1, 2), loss=lambda y: y * 2)


def test_gpt_nodes_fall_in_blocks_and_gradients_match_a_plain_backward():
    torch.manual_seed(0)
    model = GPT(vocab=50, context=16, layers=3, width=16, heads=2)
    ids = torch.randint(0, 50, (2, 10), generator=torch.Generator().manual_seed(1))
    ex = trace_model(model, ids)
    softmax = modules_of(ex, "SoftmaxBackward0")
    assert sorted(softmax) == [f"transformer.h.{i}.attn" for i in range(3)]
    assert sorted(set(modules_of(ex, "NativeLayerNormBackward0"))) == sorted(
        [f"transformer.h.{i}.ln_{k}" for i in range(3) for k in (1, 2)] + ["transformer.ln_f"])
    assert runs(ex.graph) == [tuple(f"transformer.h.{i}" for i in range(3))]
    assert_same_grads(ex, model, lambda: model(ids)["loss"])


def test_identical_blocks_fold_and_blocks_that_differ_do_not():
    torch.manual_seed(0)
    model = ResNet((1, 3, 2, 1), width=4, classes=3)
    images = torch.randn(2, 3, 32, 32)
    ex = trace_model(model, images, loss=lambda y: y.sum())
    found = runs(ex.graph)
    # The first bottleneck of a stage downsamples (other parameters): it stands apart from the rest.
    assert ("layer2.1", "layer2.2") in found and ("layer3.0", "layer3.1") not in found
    assert not any("layer3.0" in run or "layer1.0" in run for run in found)
    widths = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 8), nn.Linear(8, 8), nn.Tanh())
    ex = trace_model(widths, torch.ones(1, 4), loss=lambda y: y.sum())
    assert runs(ex.graph) == [("0", "1")]   # other shapes, other operations: no run
    twice = nn.Linear(4, 4)
    model = nn.Sequential(twice, nn.Linear(4, 4), twice)   # called twice: never folded with its neighbours
    ex = trace_model(model, torch.ones(1, 4), loss=lambda y: y.sum())
    assert runs(ex.graph) == []


def test_saved_bytes_count_each_storage_once_as_a_pack_hook_sees_them():
    torch.manual_seed(0)
    model = GPT(vocab=64, context=16, layers=2, width=32, heads=4)
    ids = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(2))
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(ids)["loss"]
    ex = trace_model(model, ids)
    assert ex.saved_bytes == sum(n.saved_bytes for n in ex.nodes) > 0
    assert abs(ex.saved_bytes - sum(seen.values())) <= 0.05 * sum(seen.values())
    assert all(n.saved_bytes == 0 for n in ex.nodes if n.kind == "leaf")
