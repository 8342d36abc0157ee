"""docs/notebook.ipynb, executed in a real Jupyter kernel (ipykernel, driven by nbclient): every picture it
promises is there, with the user's names and the gradients on its nodes.

The notebook is committed without outputs (its pictures would go stale with every change to the drawing,
and weigh hundreds of kilobytes); this test is what shows that it runs.
"""
from __future__ import annotations

import json
import re
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"
KERNEL = "autograd-explorer-test"


def test_the_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> tuple[nbformat.NotebookNode, Path]:
    """The notebook run top to bottom in a fresh kernel of this very Python, in a copy of docs/ (its files are
    written there), with the repository importable as from a checkout."""
    work = tmp_path_factory.mktemp("notebook")
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    # A kernelspec of our own: the machine's "python3" spec may name another interpreter ("python" on PATH).
    specs = work / "kernels"
    (specs / KERNEL).mkdir(parents=True)
    (specs / KERNEL / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Autograd Explorer tests", "language": "python"}))
    manager = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]),
                                 transport="ipc", connection_file=str(work / "kernel.json"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "IPYTHONDIR": str(work / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"}
    nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, km=manager, timeout=300, allow_errors=False).execute(cwd=str(work), env=env)
    return nb, work


def cell(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    """The one code cell whose source is ``text``, or else contains it."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    found = [c for c in code if c.source == text] or [c for c in code if text in c.source]
    assert len(found) == 1, f"{len(found)} cells contain {text!r}"
    return found[0]


def picture(c: nbformat.NotebookNode, mime: str) -> str:
    """The SVG a cell displayed as ``mime`` (``image/svg+xml``, or ``text/html`` with the SVG inline)."""
    shown = [o.data[mime] for o in c.outputs if o.output_type in ("execute_result", "display_data") and mime in o.data]
    assert len(shown) == 1, f"the cell showed {[list(o.get('data', o)) for o in c.outputs]}"
    assert "<svg" in shown[0]
    return shown[0]


def printed(c: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in c.outputs if o.output_type == "stream")


def test_an_exploration_shows_its_annotated_graph_and_node_table(executed):
    nb, _ = executed
    page = picture(cell(nb, "ex = explorer.explore("), "text/html")
    assert "x = 4" in page and "grad 72" in page and "w6" in page
    assert "<details><summary>Node table" in page and "∂/∂x: 48" in page
    assert cell(nb, 'ex.grads["x"]').outputs[0].data["text/plain"] == "tensor([72.])"


def test_the_backward_pass_plays_inline(executed):
    import base64
    import io

    from PIL import Image

    nb, _ = executed
    shown = [o.data["text/html"] for o in cell(nb, "animate(ex)").outputs if "text/html" in o.get("data", {})]
    assert len(shown) == 1 and shown[0].startswith('<img src="data:image/gif;base64,')
    gif = Image.open(io.BytesIO(base64.b64decode(shown[0].split("base64,")[1].split('"')[0])))
    assert gif.n_frames == 7   # the engine's six steps, and x's gradient complete


def test_a_traced_model_is_named_by_its_parameters(executed):
    nb, _ = executed
    page = picture(cell(nb, "explorer.trace(loss, model.named_parameters())"), "text/html")
    assert "0.weight = " in page and "2.bias = " in page and "grad " in page


def test_draw_replaces_make_dot_in_both_styles(executed):
    nb, _ = executed
    annotated = picture(cell(nb, "explorer.draw(loss, dict(model.named_parameters()))"), "image/svg+xml")
    assert "0.weight = " in annotated and "grad " in annotated
    torchviz = picture(cell(nb, 'style="torchviz", show_saved=True'), "image/svg+xml")
    assert ">0.weight</text>" in torchviz and "AddmmBackward0" in torchviz
    assert "#ffa500" in torchviz.lower() or "orange" in torchviz   # show_saved's boxes


def test_draw_without_params_names_tensors_by_their_variables(executed):
    nb, _ = executed
    svg = picture(cell(nb, "explorer.draw(y)"), "image/svg+xml")
    for name in ("w = [1, 2]", "b = 0.5", "h = AddBackward0", "y = SumBackward0"):
        assert name in svg


def test_a_big_model_is_drawn_at_the_apps_level_of_detail(executed):
    nb, _ = executed
    default = picture(cell(nb, "explorer.draw(big, dict(deep.named_parameters()))"), "image/svg+xml")
    smaller = picture(cell(nb, "max_nodes=40"), "image/svg+xml")
    for svg in (default, smaller):
        assert "1,502 nodes" in svg and "collapsed into" in svg
    assert len(smaller) < len(default) / 3
    assert cell(nb, "len(drawing.exploration.nodes)").outputs[0].data["text/plain"] == "(1502, torch.Size([8, 8]))"


def test_the_notebook_saves_each_format_and_refuses_another(executed):
    nb, work = executed
    assert "graph.png" in printed(cell(nb, "small.save(folder / name)"))
    folder = work / "drawings"
    assert (folder / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (folder / "graph.svg").read_bytes()
    assert (folder / "graph.dot").read_text().startswith("digraph")
    assert "cannot tell the format of 'drawings/graph.pdf'" in printed(cell(nb, "graph.pdf"))
    assert not (folder / "graph.pdf").exists()


def test_a_real_model_is_drawn_by_module_with_its_blocks_folded(executed):
    nb, _ = executed
    modules = cell(nb, "model_ex = explorer.trace_model(gpt, ids)").outputs[0].data["text/plain"]
    assert [m for m in re.findall(r"'([^']+)'", modules)] == [f"transformer.h.{i}.attn" for i in (3, 2, 1, 0)]
    folded = picture(cell(nb, "explorer.draw(model_ex, modules=0)"), "image/svg+xml")
    assert "transformer.h.0 … transformer.h.3 ×4" in folded and "lm_head" in folded
    opened = picture(cell(nb, 'colour="saved"'), "image/svg+xml")
    assert "×4" not in opened and "transformer.h.2 (Block)" in opened and "share of the" in opened
