"""The t-SNE page in AppTest: the gradient check panel, and a short run."""
from streamlit.testing.v1 import AppTest

PAGE = "from explorer.ui.tsne_page import render\nrender()"


def test_gradient_panel_and_a_short_run():
    at = AppTest.from_string(PAGE, default_timeout=180)
    at.run()
    assert not at.exception
    errors = [m for m in at.metric if m.label.startswith("max |autograd")]
    assert len(errors) == 2 and all(float(m.value) < 1e-10 for m in errors)
    assert all(m.value == "4.000000" for m in at.metric if m.label.startswith("autograd / reference"))
    at.selectbox[0].set_value("iris")
    next(n for n in at.number_input if n.label.startswith("iterations")).set_value(300)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    assert any("trustworthiness" in m.value for m in at.markdown)
    assert at.slider[0].max >= 29
