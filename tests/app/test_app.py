"""The app shell and the explorer page under Streamlit's AppTest: every preset shows its seed's numbers.

The numbers checked come from the seed text (typed into explorer/presets.py);
the page computes them in the sandbox, as the hosted app does.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.presets import MODEL_PRESETS, PRESETS, SEEDS, preset
from explorer.ui.explorer_page import preset_query
from tests.app.shown import blocks, monospace

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120  # the first run starts a sandbox worker (it imports torch)


def start(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def codes(at: AppTest) -> str:
    return monospace(at)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def numbers(text: str) -> list[float]:
    text = re.sub(r"dtype=torch\.float\d+|grad_fn=<\w+>", "", text)
    return [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", text)]


def shown_grad(at: AppTest, name: str) -> list[float]:
    block = codes(at)
    match = re.search(rf"^{re.escape(name)}\.grad = (tensor\(.*?\))$", block, re.S | re.M)
    assert match, block
    return numbers(match.group(1))


def test_the_shell_starts_on_the_explorer_with_the_device_and_the_presets():
    at = start()
    no_exception(at)
    assert "computing on **CPU**" in at.markdown[0].value
    assert not at.sidebar.page_link  # every seed starts closed: its links are sent once it is opened
    assert [e.label for e in at.sidebar.expander] == [f"Seed {seed}" for seed in SEEDS] + ["Big graphs"]
    assert shown_grad(at, "x") == [72.0]  # the default is seed 001's polynomial at 4
    for seed in SEEDS:
        at.session_state[f"seed_{seed}"] = True
    at.session_state["seed_models"] = True
    at.run()
    links = {link.label for link in at.sidebar.page_link}
    assert {p.title for p in PRESETS if p.explorable} | {p.title for p in MODEL_PRESETS} <= links


def test_on_a_live_demo_every_worked_example_is_listed_at_once():
    # opening a seed there must not rerun the page: that would stop a run that is streaming
    script = "import app\npages = app.pages()\napp.sidebar_presets(pages, {!r})"
    every = {p.title for p in PRESETS if p.explorable} | {p.title for p in MODEL_PRESETS}
    for page, listed in (("tsne", True), ("regression", True), ("jacobian", False)):
        at = AppTest.from_string(script.format(page), default_timeout=TIMEOUT).run()
        no_exception(at)
        assert (every <= {link.label for link in at.sidebar.page_link}) == listed, page


@pytest.mark.parametrize("p", [p for p in PRESETS if p.explorable], ids=lambda p: p.key)
def test_every_preset_shows_its_seeds_numbers(p):
    at = start(**preset_query(p))  # what the preset's link in the sidebar opens
    no_exception(at)
    assert at.text_area(key="f").value == p.source
    block = codes(at)
    assert "ours agree to within" in "\n".join(m.value for m in at.markdown), block
    for name, printed in p.expected.grads.items():
        shown = shown_grad(at, name)
        if isinstance(printed, dict):
            pairs = [(shown[i], value) for i, value in printed.items() if i < 3]  # the repr elides the middle
        else:
            flat = [float(v) for v in _flatten(printed)]
            assert len(shown) == len(flat), (shown, flat)
            pairs = list(zip(shown, flat))
        # the page prints 4 decimals: allow their rounding on top of the preset's tolerance
        assert all(abs(a - b) <= p.expected.atol + 5e-5 for a, b in pairs), (name, pairs)
    assert at.query_params["f"] == [p.source] or at.query_params["f"] == p.source  # the URL holds the view


def _flatten(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def test_the_url_reproduces_the_view():
    query = {"f": "sin(x) * y", "var_x": "[0.0, 1.0]", "var_y": "2", "dtype": "float64", "tab": "Node table"}
    at = start(**query)
    no_exception(at)
    assert at.text_area(key="f").value == "sin(x) * y"
    assert at.text_input(key="var_x").value == "[0.0, 1.0]"
    assert at.segmented_control(key="dtype").value == "float64"
    assert "dtype=torch.float64" in codes(at)
    assert at.dataframe[0].value.shape[0] >= 4  # the node table tab is open, one row a node
    # with v = ones: d/dy = sin(0) + sin(1) = 0.8415, d/dx = y cos(x) = [2, 2 cos(1)] = [2, 1.0806]
    assert shown_grad(at, "y") == pytest.approx([0.8415], abs=1e-4)
    assert shown_grad(at, "x") == pytest.approx([2.0, 1.0806], abs=1e-4)


def test_a_syntax_error_is_shown_with_a_marker_at_its_column():
    at = start(f="x +* 2")
    no_exception(at)
    assert "syntax error at line 1, column" in at.error[0].value
    assert blocks(at)[0].splitlines()[1].endswith("^")


def test_while_the_function_does_not_run_the_tab_bar_stays_and_says_why_it_is_empty():
    at = start(f="sin(x)", var_x="2")
    no_exception(at)
    assert len(at.tabs) == 6 and not [c for c in at.caption if c.value.startswith("Nothing to show yet")]
    at.text_area(key="f").input("sin(x) +").run()   # half typed: the page keeps its shape
    no_exception(at)
    assert len(at.tabs) == 6 and "syntax error" in at.error[0].value
    assert [c.value for c in at.caption if c.value.startswith("Nothing to show yet")] == [
        "Nothing to show yet: see the message above."]


def test_a_setting_drawn_by_the_whole_page_recomputes_the_function():
    """Seed, dtype, device and v are drawn by whole runs (a typed function's run leaves them be); changing one
    runs the page, and the function with it."""
    at = start(f="x * y", var_x="[1.0, 2.0]", var_y="3")
    no_exception(at)
    assert "dtype=torch.float64" not in codes(at)
    at.segmented_control(key="dtype").set_value("float64").run()
    no_exception(at)
    assert "dtype=torch.float64" in codes(at)
    at.text_area(key="f").input("x * y * y").run()
    assert shown_grad(at, "y") == pytest.approx([18.0])   # d/dy sum(x y^2) = 2 y (1 + 2), in float64 still
    assert "dtype=torch.float64" in codes(at)
    at.segmented_control(key="v").set_value("one-hot").run()
    at.number_input(key="v_index").set_value(1).run()
    no_exception(at)
    assert shown_grad(at, "x") == pytest.approx([0.0, 9.0])   # v picks the second output: d/dx2 of x2 y^2


def test_a_bad_input_is_shown_once_under_the_input():
    at = start(f="sin(x)", var_x="rand(")
    no_exception(at)
    assert [e.value.startswith("x is not valid: ") for e in at.error] == [True]


def test_a_refused_function_never_runs():
    at = start(f="__import__('os')")
    no_exception(at)
    assert "names starting with '_' are not allowed" in at.error[0].value
    assert "pwned" not in codes(at)


def test_step_through_backward():
    at = start(tab="Step through backward")
    no_exception(at)
    assert at.number_input(key="step").value == 0
    at.button(key="step_next").click().run()
    no_exception(at)
    assert at.number_input(key="step").value == 1
    assert "Step 1 of" in "\n".join(m.value for m in at.markdown)
    assert "∂L/∂" in codes(at) or "received" in codes(at)  # the chain-rule product of the step
    at.button(key="step_prev").click().run()
    assert at.number_input(key="step").value == 0


def test_play_steps_once_a_timer_rerun_and_stops_at_the_last_step():
    import time

    from explorer.ui.explorer_page import PLAY_SECONDS

    at = start(tab="Step through backward")
    at.button(key="step_play").click().run()
    no_exception(at)
    assert at.session_state["step_playing"] and at.number_input(key="step").value == 0
    at.run()   # a rerun sooner than the timer's (a click elsewhere) does not move on
    assert at.number_input(key="step").value == 0
    for step in range(1, 7):
        time.sleep(PLAY_SECONDS)
        at.run()   # what the fragment's timer does in a browser
        assert at.number_input(key="step").value == step
    assert not at.session_state["step_playing"]   # the last step stops it
    at.button(key="step_play").click().run()
    assert at.session_state["step_playing"] and at.number_input(key="step").value == 0   # again from the start


def test_share_gives_the_link_the_iframe_and_the_offline_file():
    from explorer.ui.explorer_page import embed_snippet

    at = start(f="sin(x)", var_x="1")
    no_exception(at)
    assert not [c for c in at.code if "f=sin" in c.value]   # closed: its contents are not made
    at.session_state["share"] = True    # the popover opened: the page reruns and fills it
    at.run()
    no_exception(at)
    shared = [c.value for c in at.code if "f=sin" in c.value]
    assert shared[0].endswith("?f=sin(x)&var_x=1") or "f=sin(x)" in shared[0]
    assert shared[1] == embed_snippet(shared[0]) and "embed=true" in shared[1]
    assert embed_snippet("http://h/?f=x").startswith('<iframe src="http://h/?f=x&embed=true"')


def test_vector_jacobian_product_tab_shows_pytorchs_refusal_and_J():
    at = start(tab="Vector-Jacobian product", **preset_query(preset("sin_affine")))
    no_exception(at)
    assert "RuntimeError: grad can be implicitly created only for scalar outputs" in codes(at)
    frames = {f.value.shape: f.value for f in at.dataframe}
    assert (10, 5) in frames and (10, 1) in frames  # J of x and v
    assert "the same" in codes(at) and "NOT the same" not in codes(at)
    at.segmented_control(key="v").set_value("one-hot").run()
    at.number_input(key="v_index").set_value(3).run()
    no_exception(at)
    assert "v = e_3 (one-hot)" in "\n".join(m.value for m in at.markdown)
    jac = next(f.value.to_numpy() for f in at.dataframe if f.value.shape == (10, 5))
    assert shown_grad(at, "x") == pytest.approx(jac[3].tolist(), abs=1e-4)  # a one-hot v picks row 3


def test_pytorch_code_tab():
    at = start(tab="PyTorch code")
    no_exception(at)
    script = codes(at)
    assert "import torch" in script and "x = torch.tensor([4.0], dtype=dtype).requires_grad_()" in script


def test_torchviz_tab_toggles():
    at = start(tab="torchviz graph", saved="true")  # the link's options come back
    no_exception(at)
    assert at.toggle(key="saved").value is True and at.toggle(key="attrs").value is False
    at.toggle(key="attrs").set_value(True).run()
    no_exception(at)
    assert at.toggle(key="attrs").value is True


def test_a_model_preset_draws_a_large_graph_with_level_of_detail():
    at = start(mode="model", model="mlp", depth="300")
    no_exception(at)
    assert "autograd nodes" in "\n".join(c.value for c in at.caption)
    assert at.number_input(key="max_nodes").value == 300
    at.run()  # a rerun: the URL has dropped model=mlp (the default); the view stays the model's
    no_exception(at)
    assert at.segmented_control(key="mode").value == "model"


def test_everyday_pytorch_in_the_explorer():
    source = "h = x * y\nh = h + 1\nh += y.detach()\nF.cross_entropy(h[None], k)"
    query = {"mode": "function", "f": source, "var_x": "[0.5, 1.0, 2.0]", "var_y": "[1.0, 2.0, 3.0]",
             "var_k": "tensor([2])"}
    at = start(**query)
    no_exception(at)
    assert not at.error
    text = codes(at)
    assert "x.grad = " in text and "y.grad = " in text and "k.grad" not in text   # class indices: no gradient
    at = start(tab="PyTorch code", **query)
    assert "h_2 = h + 1  # h#2 in the explorer's graph" in codes(at)
    at = start(tab="Step through backward", step="3", **query)
    no_exception(at)
    assert any("(h#3)" in m.value for m in at.markdown)                          # the same names as the code
    at = start(tab="Vector-Jacobian product", **query)
    no_exception(at)
    assert not at.error


def test_a_real_architecture_is_drawn_by_modules_and_a_box_opens():
    at = start(mode="model", model="transformer", depth="3")
    no_exception(at)
    assert not at.error
    assert at.selectbox(key="modules").value == "auto"
    assert "transformer.h.0..transformer.h.2" in at.multiselect(key="open").options
    drawn = at.get("iframe")[0].proto.srcdoc
    assert "transformer.h.0 … transformer.h.2 ×3" in drawn and 'id="open:transformer.h.0..transformer.h.2"' in drawn
    at.multiselect(key="open").set_value(["transformer.h.0..transformer.h.2"]).run()
    no_exception(at)
    drawn = at.get("iframe")[0].proto.srcdoc
    assert "×3" not in drawn and "transformer.h.1" in drawn
    linked = start(mode="model", model="transformer", depth="3", open="transformer.h.0..transformer.h.2")
    assert "×3" not in linked.get("iframe")[0].proto.srcdoc   # the URL keeps what is open (a click sets it)
    at.selectbox(key="modules").set_value("all").run()   # every node, in nested frames
    no_exception(at)
    assert "SoftmaxBackward0" in at.get("iframe")[0].proto.srcdoc
    at = start(mode="model", model="resnet", depth="2", colour="saved", tab="Step through backward", step="5")
    no_exception(at)
    assert any("in module" in m.value for m in at.markdown)
    assert "share of the" in at.get("iframe")[0].proto.srcdoc
    table = start(mode="model", model="resnet", depth="1", tab="Node table")
    no_exception(table)
    assert "module" in table.dataframe[0].value.columns
