"""AppTest of the derivative-lab pages: each runs, shows its plots and tables with the seeds' numbers, reacts to its
controls, and shows an error (never an exception) for bad input."""
from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from tests.app.shown import blocks, charts, monospace, tables

TIMEOUT = 180  # the first run starts a sandbox worker (it imports torch)


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_string(f"from explorer.ui.{name} import render\nrender()", default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    no_exception(at)
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def plots(at: AppTest) -> int:
    return len(charts(at))


def codes(at: AppTest) -> str:
    return monospace(at)


def test_jacobian_page():
    at = page("jacobian_page")
    assert not at.error
    assert any("Reverse mode is cheaper" in i.value for i in at.info)   # sin(A @ x + b): 10 outputs, 65 inputs
    assert {m.label: m.value for m in at.metric}["outputs m"] == "10"
    assert plots(at) == 1   # only the open tab computes: J, in blocks for A, x, b
    j = charts(at)[0]
    assert j.x_labels == ["A", "x", "b"]                     # each block of columns named at its middle, in order
    assert len(j.cells) == 10 * 65 and j.block_lines == 2    # J's cells; the lines between the blocks
    row = j.cells[j.cells["row"] == 3].sort_values("col")["value"]
    assert row.iloc[50:55].abs().sum() > 0 and (row.iloc[:30] == 0).sum() == 25   # ∂y₃/∂A: only A's row 3


def test_jacobian_page_divergence_two_ways_and_its_timing_on_request():
    at = page("jacobian_page", jac_tab="Divergence & Laplacian")
    two_ways = tables(at)[0]
    assert two_ways["∇·g"].tolist() == [36.0, 24.0]   # x * sum(x) at [1, 2, 3]: all entries 36, trace 24
    assert any("not diagonal" in w.value for w in at.warning)
    assert plots(at) == 1                             # the field's J; no timing until asked for
    at.toggle(key="div_timing").set_value(True).run()
    no_exception(at)
    timing = charts(at)[1]
    assert timing.title == "time as n grows (x = rand(n))" and sorted(set(timing.points["x"])) == [10, 30, 100, 300, 1000]
    assert set(timing.points["series"]) == {"v = ones (1 pass)", "identity (n passes, batched)"}


def test_jacobian_page_curl():
    at = page("jacobian_page", jac_tab="Curl")
    assert [m.value for m in at.metric][-3:] == ["0", "0", "2"]     # ∇×(−y, x, 0) = (0, 0, 2)


def test_jacobian_page_loads_seed_002s_laplacian_and_limits_the_inputs():
    at = page("jacobian_page", jac_tab="Divergence & Laplacian")
    at.button(key="div_example_0").click().run()
    no_exception(at)
    assert tables(at)[0]["∇²f"].tolist() == [6.0, 6.0]     # div(grad(x·x)) = 6, both ways
    assert any("diagonal here" in s.value for s in at.success)
    at = page("jacobian_page")
    at.text_area(key="jac_f").set_value("sin(x)").run()
    at.text_input(key="jac_var_x").set_value("ones(2000)").run()
    no_exception(at)
    assert any("Jacobian would have 2,000 × 2,000" in e.value for e in at.error)


def test_jacobian_page_draws_the_hessian_of_every_pair_of_inputs():
    at = page("jacobian_page")
    at.text_area(key="jac_f").set_value("sum(x**2) * y[0] + sum(y)").run()
    at.text_input(key="jac_var_x").set_value("[1.0, 2.0]").run()
    at.text_input(key="jac_var_y").set_value("[3.0, 4.0, 5.0]").run()
    at.pills(key="jac_wrt").set_value(["x", "y"]).run()
    no_exception(at)
    assert not at.error
    hessian = charts(at)[1]
    assert hessian.y_labels == ["x", "y"] and "pair of inputs" in hessian.title
    cells = hessian.cells
    first_row = cells[cells["row"] == 0].sort_values("col")["value"].tolist()
    assert len(cells) == 25 and first_row == [6.0, 0.0, 2.0, 0.0, 0.0]   # ∂²f/∂x₀² = 2·y₀, mixed ∂²f/∂x₀∂y₀ = 2·x₀


def test_higher_order_page_shows_the_exact_check_and_both_graphs():
    at = page("higher_order_page")
    assert not at.error
    assert any("bit for bit" in s.value and "sin''(x) == -sin(x)" in s.value for s in at.success)
    assert tables(at)[0]["bit for bit"].tolist() == ["yes", "yes"]
    assert plots(at) == 1 and len(at.get("iframe")) == 2          # f and its derivatives; the two graphs
    assert not at.latex                                            # the formulas are drawn once asked for
    at.session_state["ho_formulas"] = True
    at.run()
    assert r"f''(x) = - \sin{\left(x \right)}" in "\n".join(l.value for l in at.latex)
    at.slider(key="ho_order").set_value(4).run()
    no_exception(at)
    assert len(tables(at)[0]) == 4
    assert [len(set(charts(at)[0].points["series"]))] == [5]   # f and its four derivatives


def test_compare_page_table_formulas_and_plot():
    at = page("compare_page")
    assert not at.error
    table = tables(at)[0]
    assert table["method"].tolist() == ["symbolic", "forward difference", "central difference", "reverse mode",
                                        "forward mode"]
    assert table["gradient"][1] == "1.36191, 0.191867"        # seed 004: tensor([1.3619, 0.1919])
    assert plots(at) == 1
    assert any(r"\frac{\sin{\left(x_{1} \right)}}{x_{0}}" in l.value for l in at.latex)
    at.segmented_control(key="cmp_dtype").set_value("float64").run()
    no_exception(at)
    assert float(tables(at)[0]["error vs symbolic"][3]) < 1e-12


def test_mechanics_page_plays_seed_001():
    at = page("mechanics_page")
    text = codes(at)
    assert "tensor([72.])" in text and "tensor([144.])" in text and "tensor([216.])" in text
    assert any("backward through the graph a second time" in e.value for e in at.error)   # the lesson's error
    assert any("not a leaf" in w.value for w in at.warning)
    at.toggle(key="mech_retain").set_value(True).run()
    no_exception(at)
    assert not at.error
    shown = len(blocks(at))
    at.slider(key="mech_accumulation_step").set_value(3).run()
    assert len(blocks(at)) == shown - 5                          # 8 steps of the accumulation lesson, 3 shown


@pytest.mark.parametrize("name, key", [
    ("jacobian_page", "jac_f"), ("higher_order_page", "ho_f"), ("compare_page", "cmp_f"), ("mechanics_page", "mech_f"),
])
def test_bad_input_is_shown_not_raised(name, key):
    at = page(name)
    at.text_area(key=key).set_value("__import__('os')").run()
    no_exception(at)
    assert any("not allowed" in e.value for e in at.error)
    at.text_area(key=key).set_value("x * sum(x) +").run()
    no_exception(at)
    assert any("syntax error" in e.value for e in at.error)


@pytest.mark.parametrize("name, key, source, message", [
    ("higher_order_page", "ho_f", "x * sum(x)", "know your Jacobian"),
    ("compare_page", "cmp_f", "x * x", "scalar function"),
])
def test_what_the_library_refuses_is_shown(name, key, source, message):
    at = page(name)
    at.text_area(key=key).set_value(source).run()
    no_exception(at)
    assert any(message in e.value for e in at.error)
