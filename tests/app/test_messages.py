"""What the pages say of a value they could not take as given: a number out of range from a link is clamped
and the page says so; a refusal is shown once (issue 20)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TSNE = "from explorer.ui.tsne_page import render\nrender()"


def run(at: AppTest, **query) -> AppTest:
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_depth_beyond_the_most_is_shown_at_the_most_and_said():
    at = run(AppTest.from_file(APP, default_timeout=180), mode="model", depth="1000000")
    assert [i.value for i in at.info] == ["depth 1000000 is more than the most, 5,000: showing 5,000"]
    assert at.number_input(key="depth").value == 5000


def test_a_seed_below_the_least_is_said():
    at = run(AppTest.from_file(APP, default_timeout=120), f="sin(x)", var_x="1", seed="-3")
    assert [i.value for i in at.info] == ["seed -3 is less than the least, 0: showing 0"]
    assert at.number_input(key="seed").value == 0


def test_a_value_in_range_says_nothing():
    at = run(AppTest.from_file(APP, default_timeout=120), f="sin(x)", var_x="1", seed="7")
    assert not at.info and at.number_input(key="seed").value == 7


def test_tsne_points_beyond_the_most_are_said():
    at = run(AppTest.from_string(TSNE, default_timeout=180), tsne_n="99999", tsne_dataset="blobs")
    assert [i.value for i in at.info] == ["points 99999 is more than the most, 5,000: showing 5,000"]
    assert at.number_input(key="tsne_n").value == 5000


def test_a_bad_function_is_refused_once():
    at = run(AppTest.from_file(APP, default_timeout=120), f="sin(x) +", var_x="1")
    assert len(at.error) == 1
