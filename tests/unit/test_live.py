"""The autograd graph while it is alive (explorer/live.py): the walk, the depth it refuses, CPU copies.

The details computed from a live graph are compared with an eager capture in ``test_lazy.py``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from explorer import live
from explorer.device import best_device
from explorer.models import MODELS


def test_the_walk_numbers_nodes_consumers_first_and_follows_the_engines_order():
    x = torch.tensor([2.0], requires_grad=True)
    w = torch.tensor([3.0], requires_grad=True)
    h = x * w
    found = live.walk([(h.sin() + h).grad_fn])
    assert found.ops[0] == "AddBackward0" and found.levels == 3
    assert [found.ops[i] for i in found.engine] == ["AddBackward0", "SinBackward0", "MulBackward0"]
    assert sorted(found.ops[3:]) == ["AccumulateGrad", "AccumulateGrad"]
    assert found.ids[found.order[2]] == 2   # ids and order agree


def test_a_shared_node_is_walked_once():
    x = torch.tensor([1.0], requires_grad=True)
    y = x.exp()
    found = live.walk([(y * y + y).grad_fn])
    assert found.ops.count("ExpBackward0") == 1 and found.ops.count("AccumulateGrad") == 1


def test_a_graph_too_deep_to_free_is_refused_and_the_process_lives_on():
    """PyTorch frees a graph Python has walked recursively, and crashes near 43,000 levels: trace refuses
    past MAX_LEVELS before it has touched a node deeper, so freeing a deeper graph later is safe (a crash
    would end the subprocess; walking all 60,000 levels, as capture did, crashed it)."""
    script = """
import gc, torch, explorer
x = torch.tensor([0.5], requires_grad=True)
y = x
for _ in range(60_000):
    y = torch.sin(y)
loss = y.sum()
try:
    explorer.trace(loss, {"x": x})
except ValueError as err:
    print(err)
del y, loss
gc.collect()
print("freed")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    message, freed = done.stdout.strip().splitlines()
    assert message.startswith(f"the graph is more than {live.MAX_LEVELS:,} operations deep") and freed == "freed"
    assert MODELS["chain"].max_depth + 2 <= live.MAX_LEVELS   # every preset is captured


def test_cpu_copies_are_detached_and_their_own():
    # On the best device here (a GPU moves its tensors in bulk, one transfer per dtype); on the CPU as they are.
    device = best_device()
    a = torch.arange(6.0, device=device).reshape(2, 3).requires_grad_()
    b = torch.tensor([7.0], device=device, dtype=torch.float64)
    c = torch.ones(4, device=device) * 2
    copies = live.on_cpu([a, None, b, c])
    assert copies[1] is None
    for copy, original in zip((copies[0], copies[2], copies[3]), (a, b, c)):
        assert copy.is_cpu and not copy.requires_grad and copy.dtype == original.dtype
        assert torch.equal(copy, original.detach().cpu())
    if not a.is_cpu:   # each copy owns its storage, not a view of the one transfer
        assert copies[0].untyped_storage().nbytes() == a.numel() * a.element_size()
    frozen = live.snapshot(a * 1)
    with torch.no_grad():
        a.add_(1)
    assert torch.equal(frozen, torch.arange(6.0).reshape(2, 3)) and not frozen.requires_grad
