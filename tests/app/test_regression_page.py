"""The regression page in Streamlit's AppTest: it renders, runs, and compares with least squares."""
from streamlit.testing.v1 import AppTest

from tests.app.shown import tables

PAGE = "from explorer.ui.regression_page import render\nrender()"


def test_page_renders_and_a_run_ends_at_least_squares():
    at = AppTest.from_string(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    assert "stable for learning rates below" in at.markdown[0].value
    next(n for n in at.number_input if n.label == "epochs").set_value(150)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    table = tables(at)[0]
    assert abs(table["b0"][0] - table["b0"][1]) < 1e-4
    assert "Epoch 0: Loss =" in at.code[0].value


def test_a_learning_rate_above_the_limit_is_flagged_and_diverges():
    at = AppTest.from_string(PAGE, default_timeout=120)
    at.run()
    next(n for n in at.number_input if n.label == "learning rate").set_value(3.0)
    next(b for b in at.button if b.label == "Start").click().run()
    assert any("above the stability limit" in w.value for w in at.warning)
    assert any("Diverged" in e.value for e in at.error)


def test_the_loss_graph_is_drawn_when_asked_for():
    at = AppTest.from_string(PAGE, default_timeout=120)
    at.run()
    assert not at.get("iframe")  # nothing drawn on load
    at.toggle(key="regression_graph_on").set_value(True).run()
    assert not at.exception
    assert len(at.get("iframe")) == 1 and "MseLoss" not in at.get("iframe")[0].proto.srcdoc  # the loss written out:
    assert "MeanBackward0" in at.get("iframe")[0].proto.srcdoc  # mean((y - (b0 + b1 x))**2), drawn as autograd built it
