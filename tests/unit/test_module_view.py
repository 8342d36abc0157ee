"""explorer.module_view: clusters down to a depth, boxes below, runs folded, every view laid out by Graphviz."""
from __future__ import annotations

import re

import pytest
import torch

import explorer
from explorer import module_view
from explorer.export import render
from explorer.models import GPT, ResNet
from explorer.exploration import trace_model


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    model = GPT(vocab=40, context=16, layers=3, width=16, heads=2)
    ids = torch.randint(0, 40, (2, 8), generator=torch.Generator().manual_seed(0))
    return trace_model(model, ids)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    model = ResNet((1, 3, 2, 1), width=4, classes=3)
    return trace_model(model, torch.randn(2, 3, 32, 32), loss=lambda y: y.square().mean())


def labels(dot: str) -> list[str]:
    return [m.replace("\\n", "\n") for m in re.findall(r'\bm_\d+ \[label="((?:[^"\\]|\\.)*)"', dot)]


def clusters(dot: str) -> list[str]:
    return re.findall(r'label="([^"(]+) \(\w+\)" style="rounded,filled"', dot)


def test_every_module_view_is_laid_out_by_graphviz(gpt, resnet):
    for ex in (gpt, resnet):
        deepest = module_view.max_depth(ex.graph)
        for depth in [*range(deepest + 1), None]:
            for style in ("annotated", "torchviz"):
                for colour in module_view.COLOURS:
                    dot = ex.to_dot(style, modules=depth, colour=colour)
                    assert render(dot, "svg").startswith(b"<?xml")


def test_depth_k_opens_modules_down_to_k_and_draws_deeper_ones_as_boxes(gpt):
    # The ModuleDict `transformer` runs no forward of its own: the blocks run one call below the model.
    assert gpt.graph.modules["transformer.h.1"].depth == 1 and "transformer" not in gpt.graph.modules
    dot = gpt.to_dot("annotated", modules=0)
    assert clusters(dot) == []
    boxes = labels(dot)
    wte = next(b for b in boxes if b.startswith("transformer.wte"))
    assert wte.splitlines()[:3] == ["transformer.wte", "Embedding · 640 params", "out (2, 8, 16)"]
    folded = next(b for b in boxes if "×3" in b)
    assert folded.splitlines()[0] == "transformer.h.0 … transformer.h.2 ×3"
    assert "Block ·" in folded and "out (2, 8, 16)" in folded and "|grad| received ≤" in folded
    assert "lm_head\nLinear · 640 params" in "\n".join(boxes)
    opened = gpt.to_dot("annotated", modules=0, opened=["transformer.h.0..transformer.h.2"])
    assert sorted(b.splitlines()[0] for b in labels(opened) if b.startswith("transformer.h.")) == [
        "transformer.h.0", "transformer.h.1", "transformer.h.2"]    # unfolded, each one box at depth 0
    deeper = gpt.to_dot("annotated", modules=1, opened=["transformer.h.0..transformer.h.2"])
    assert {"transformer.wte", "transformer.h.1"} <= set(clusters(deeper))
    assert "transformer.h.1.attn\nCausalSelfAttention" in "\n".join(labels(deeper))
    one = gpt.to_dot("annotated", modules=0, opened=["transformer.h.0..transformer.h.2", "transformer.h.1"])
    assert clusters(one) == ["transformer.h.1"]                    # a box opened by its key
    assert re.search(r'id="open:transformer\.h\.0\.\.transformer\.h\.2"', dot)   # what a click opens


def test_all_nodes_in_nested_clusters_and_edges_carry_shapes(gpt):
    dot = gpt.to_dot("annotated", modules=None, opened=["transformer.h.0..transformer.h.2"])
    assert not labels(dot)                                    # no module box: every node drawn
    assert {"transformer.h.1", "transformer.h.1.attn", "transformer.h.1.attn.c_attn"} <= set(clusters(dot))
    boxes = gpt.to_dot("annotated", modules=0, opened=["transformer.h.0..transformer.h.2"])
    assert re.search(r'm_\d+ -> m_\d+ \[label="\(2, 8, 16\)"', boxes)   # between two blocks: the hidden state


def test_the_default_depth_is_the_deepest_that_fits(gpt, resnet):
    for ex in (gpt, resnet):
        depth = module_view.default_depth(ex.graph)
        assert module_view.plan(ex.graph, depth).size <= module_view.DEFAULT_BOXES
        if depth < module_view.max_depth(ex.graph):
            assert module_view.plan(ex.graph, depth + 1).size > module_view.DEFAULT_BOXES
        assert ex.to_dot("annotated") == ex.to_dot("annotated", modules=depth)
    assert module_view.default_depth(gpt.graph, max_nodes=3) == 0
    flat = gpt.to_dot("annotated", modules="flat")
    assert "cluster" not in flat and "AddmmBackward0" in flat


def test_saved_bytes_colour_and_share(resnet):
    dot = resnet.to_dot("annotated", modules=0, colour="saved")   # every module one box: the shares cover it
    shares = [int(s) for s in re.findall(r"saved [\d.]+ \w?i?B \((\d+)%\)", dot)]
    outside = sum(n.saved_bytes for n in resnet.nodes if not n.module) / resnet.saved_bytes
    assert len(shares) >= 7 and abs(sum(shares) - 100 * (1 - outside)) <= len(shares)   # rounded shares
    assert "share of the" in dot and module_view.SAVED_PALETTE[0] in dot
    with pytest.raises(ValueError, match="colour"):
        resnet.to_dot("annotated", modules=1, colour="loud")


def test_the_step_through_highlights_the_box_of_the_step_and_names_its_module(gpt):
    node = next(n for n in gpt.nodes if n.op == "SoftmaxBackward0")
    step = gpt.graph.step(node.id)
    assert step.module == node.module == "transformer.h.2.attn"
    dot = gpt.to_dot("annotated", modules=0, highlight=node.id)
    marked = [line for line in dot.splitlines() if "color=red penwidth=4" in line]
    assert len(marked) == 1 and "×3" in marked[0]


def test_an_exploration_without_modules_refuses_a_module_depth():
    ex = explorer.explore("x * x", x=2)
    assert ex.to_dot("annotated") == ex.to_dot("annotated", modules="flat")
    with pytest.raises(ValueError, match="knows no modules"):
        ex.to_dot("annotated", modules=1)
