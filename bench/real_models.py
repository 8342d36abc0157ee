"""Real models, from model and batch to the drawn module view, against PyTorch's own step (issue 19).

For GPT-2 small (12 layers, 768 wide, 12 heads, 50,257 tokens, a sequence of
64; transformers' ``GPT2LMHeadModel`` from a config when transformers is
installed, else explorer.models.GPT, the same architecture) and a
ResNet-50-shaped CNN (bottlenecks 3-4-6-3, 224×224, batch 2), in one run:

* PyTorch's own forward and backward of the same step (best of ``--repeat``);
* this project's whole path: forward under module hooks, backward, capture,
  the default module view's DOT and Graphviz's layout (best of ``--repeat``),
  and its ratio to PyTorch's (goal ≤ 1.5×);
* the boxes of the default module view (goal ≤ 80);
* the slowest node detail (local Jacobian, saved tensors) of a few nodes
  (goal ≤ 200 ms);
* the bytes saved for backward, against a ``saved_tensors_hooks`` pack hook's
  count of unique saved storages in the same forward (goal within 5 %);
* the peers: torchviz's flat ``make_dot`` with Graphviz's layout, and
  torchview's ``draw_graph`` (whatever it does, it is printed).

    python bench/real_models.py [--repeat 3] [--only gpt2|resnet]
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import module_view  # noqa: E402
from explorer.export import render  # noqa: E402
from explorer.models import GPT, ResNet  # noqa: E402
from explorer.exploration import trace_model  # noqa: E402


def gpt2() -> tuple[str, torch.nn.Module, tuple, object]:
    torch.manual_seed(0)
    ids = torch.randint(0, 50257, (1, 64), generator=torch.Generator().manual_seed(0))
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return "GPT-2 small (explorer.models.GPT)", GPT(50257, 1024, 12, 768, 12, dropout=0.1), (ids,), None
    model = GPT2LMHeadModel(GPT2Config(n_layer=12, n_embd=768, n_head=12))
    model.config.use_cache = False
    return "GPT-2 small (transformers)", model, (), {"input_ids": ids, "labels": ids}


def resnet50() -> tuple[str, torch.nn.Module, tuple, object]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.randn(2, 3, 224, 224, generator=gen), torch.randint(0, 1000, (2,), generator=gen)
    model = ResNet((3, 4, 6, 3), width=64, classes=1000)
    return "ResNet-50-shaped CNN", model, (images,), labels


def _loss(model, args, extra):
    if isinstance(extra, dict):
        return model(*args, **extra).loss
    out = model(*args)
    if isinstance(out, dict):
        return out["loss"]
    return torch.nn.functional.cross_entropy(out, extra)


def pytorch_step(model, args, extra) -> float:
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    _loss(model, args, extra).backward()
    took = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return took


def explorer_path(model, args, extra):
    start = time.perf_counter()
    if isinstance(extra, dict):
        ex = trace_model(model, *args, **extra)
    elif extra is None:
        ex = trace_model(model, *args)
    else:
        ex = trace_model(model, *args, loss=lambda out: torch.nn.functional.cross_entropy(out, extra))
    traced = time.perf_counter()
    dot = ex.to_dot("annotated")
    drawn = time.perf_counter()
    render(dot, "svg")
    laid = time.perf_counter()
    return ex, dot, {"trace": traced - start, "dot": drawn - traced, "layout": laid - drawn, "total": laid - start}


def packed_bytes(model, args, extra) -> int:
    """Unique storages the forward saved for backward, as a pack hook sees them, parameters left out."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[(t.device, storage.data_ptr())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = _loss(model, args, extra)
    total = sum(seen.values())
    del loss
    return total


def details(ex, count: int = 8) -> float:
    """The slowest of ``count`` nodes' details (local Jacobian, saved tensors), read fresh."""
    nodes = [n for n in ex.nodes if n.kind != "leaf"]
    worst = 0.0
    for node in nodes[:: max(1, len(nodes) // count)][:count]:
        start = time.perf_counter()
        node.local, node.saved  # noqa: B018  (reading computes them)
        worst = max(worst, time.perf_counter() - start)
    return worst


def peers(model, args, extra) -> list[str]:
    lines = []
    try:
        import torchviz
        loss = _loss(model, args, extra)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = torchviz.make_dot(loss, params=dict(model.named_parameters())).source
        made = time.perf_counter()
        render(source, "svg")
        lines.append(f"  torchviz make_dot: {made - start:.2f} s + layout {time.perf_counter() - made:.2f} s "
                     f"(flat, {source.count('->')} edges, no values or modules)")
        del loss
    except Exception as err:   # a peer's failure is a finding, printed
        lines.append(f"  torchviz make_dot: failed: {type(err).__name__}: {err}")
    try:
        from torchview import draw_graph
        start = time.perf_counter()
        if isinstance(extra, dict):
            graph = draw_graph(model, input_data=extra, depth=2, expand_nested=True)
        else:
            graph = draw_graph(model, input_data=list(args), depth=2, expand_nested=True)
        lines.append(f"  torchview draw_graph(depth=2): {time.perf_counter() - start:.2f} s, "
                     f"{graph.visual_graph.source.count('->')} edges (forward only, no gradients)")
    except ImportError:
        lines.append("  torchview: not installed (pip install torchview==0.2.7)")
    except Exception as err:
        lines.append(f"  torchview draw_graph(depth=2): failed: {type(err).__name__}: {str(err)[:80]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("gpt2", "resnet"))
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    for key, make in (("gpt2", gpt2), ("resnet", resnet50)):
        if args.only and args.only != key:
            continue
        name, model, inputs, extra = make()
        print(f"== {name}: {sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
        pytorch_step(model, inputs, extra)   # warm-up of both paths
        explorer_path(model, inputs, extra)
        ours, theirs = [], []
        for _ in range(args.repeat):   # alternated, so that a slower spell of the machine weighs on both
            gc.collect()
            theirs.append(pytorch_step(model, inputs, extra))
            gc.collect()
            ex, dot, took = explorer_path(model, inputs, extra)
            ours.append(took)
            print(f"  run: PyTorch {theirs[-1]:.2f} s, ours {took['total']:.2f} s", flush=True)
        best = min(ours, key=lambda t: t["total"])
        ref = min(theirs)
        depth = module_view.default_depth(ex.graph)
        boxes = module_view.plan(ex.graph, depth).size
        print(f"  PyTorch forward + backward: {ref:.2f} s (best of {args.repeat})")
        print(f"  explorer, model to drawn module view: {best['total']:.2f} s = trace {best['trace']:.2f} "
              f"+ DOT {best['dot']:.2f} + layout {best['layout']:.2f}  ->  {best['total'] / ref:.2f}× PyTorch "
              f"(goal ≤ 1.5×)")
        print(f"  nodes {len(ex.nodes)}; default module view: depth {depth}, {boxes} boxes (goal ≤ 80)")
        print(f"  slowest node details: {1000 * details(ex):.0f} ms (goal ≤ 200 ms)")
        packed = packed_bytes(model, inputs, extra)
        ours_bytes = ex.saved_bytes
        print(f"  saved for backward: ours {ours_bytes / 2**20:.1f} MiB, pack hook {packed / 2**20:.1f} MiB "
              f"({100 * (ours_bytes - packed) / max(packed, 1):+.1f} %, goal within 5 %)")
        for line in peers(model, inputs, extra):
            print(line, flush=True)
        del ex, model


if __name__ == "__main__":
    main()
