"""AppTest of the derivative-lab pages: each runs, shows its plot or table, and shows errors for bad input."""
import pytest
from streamlit.testing.v1 import AppTest


def page(name: str) -> AppTest:
    at = AppTest.from_string(f"from explorer.ui.{name} import render\nrender()", default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_jacobian_page():
    at = page("jacobian_page")
    assert not at.error
    assert any("cheaper" in m.value for m in at.markdown)
    assert any("not diagonal" in w.value for w in at.warning)
    assert any("[0.0, 0.0, 2.0]" in m.value for m in at.markdown)


def test_higher_order_page_shows_the_exact_check():
    at = page("higher_order_page")
    assert at.metric[0].value == "yes"


def test_compare_page_table():
    at = page("compare_page")
    assert len(at.dataframe) == 1 and at.dataframe[0].value.shape[0] == 5


def test_mechanics_page_numbers():
    at = page("mechanics_page")
    text = "\n".join(c.value for c in at.code)
    assert "tensor([144.])" in text and "tensor([216.])" in text and "second time" in text


@pytest.mark.parametrize("name, key", [("jacobian_page", "jac_f"), ("compare_page", "cmp_f")])
def test_bad_input_is_shown_not_raised(name, key):
    at = page(name)
    at.text_area(key=key).set_value("__import__('os')").run()
    assert not at.exception and at.error
