"""The t-SNE page in AppTest: the gradient check panel, a short run, the checks along it, scikit-learn."""
import json

from streamlit.testing.v1 import AppTest

from tests.app.shown import tables

PAGE = "from explorer.ui.tsne_page import render\nrender()"


def short_run(dataset: str = "iris", iterations: int = 300) -> AppTest:
    at = AppTest.from_string(PAGE, default_timeout=180)
    at.run()
    assert not at.exception
    at.selectbox(key="tsne_dataset").set_value(dataset)
    at.number_input(key="tsne_iterations").set_value(iterations)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    return at


def test_gradient_panel_shows_agreement_and_the_factor_4():
    at = AppTest.from_string(PAGE, default_timeout=180)
    at.run()
    assert not at.exception
    assert not at.metric  # heavy work: done when asked for
    at.toggle(key="tsne_check").set_value(True).run()
    assert not at.exception
    errors = [m for m in at.metric if m.label.startswith("max |autograd")]
    assert len(errors) == 2 and all(float(m.value) < 1e-10 for m in errors)
    assert [m.value for m in at.metric if m.label.startswith("autograd / reference")] == ["4.000000"] * 2
    assert any("1797 points of 64 dimensions" in m.value for m in at.markdown)


def test_a_short_run_ends_with_the_replay_and_its_figures():
    at = short_run()
    summary = next(m.value for m in at.markdown if m.value.startswith("Ours"))
    assert "done" in summary and "300 iterations" in summary and "trustworthiness" in summary
    assert [p.proto.text for p in at.get("progress")] == ["done at iteration 300"]
    replay = json.loads(next(c.proto.spec for c in at.get("plotly_chart")
                             if "frames" in json.loads(c.proto.spec)))
    assert len(replay["frames"]) >= 30 and replay["frames"][-1]["name"] == "300"
    assert replay["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ replay"


def test_checks_along_the_run_and_scikit_learn_on_the_same_data():
    at = short_run()
    at.button(key="tsne_check_run").click().run()
    assert not at.exception
    checks = tables(at)[0]
    assert list(checks["at"]) == ["iteration 10", "iteration 250", "iteration 260", "iteration 300"]
    assert list(checks["α"]) == ["12", "12", "1", "1"]
    assert all(float(v) < 1e-10 for v in checks["max |autograd − paper| / max |paper|"])
    at.button(key="tsne_sk_run").click().run()
    assert not at.exception
    table = tables(at)[-1]
    assert list(table.iloc[:, 0]) == ["explorer (exact)", "scikit-learn (barnes_hut)"]
    assert all(0 < float(v) < 5 for v in table["KL on the same exact P"])


def test_bad_settings_are_refused_not_crashed():
    at = AppTest.from_string(PAGE, default_timeout=180)
    at.run()
    at.selectbox(key="tsne_dataset").set_value("iris")
    at.number_input(key="tsne_perplexity").set_value(100.0)
    at.number_input(key="tsne_n").set_value(50)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    assert "perplexity must be" in at.error[0].value
