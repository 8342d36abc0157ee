"""The regression demo's charts in AppTest: log axes ticked at 1, 2, 5 x 10^k and labelled with their values,
the least-squares label on its own line, the path drawn from the first epoch (issue 20)."""
import json
import math

from streamlit.testing.v1 import AppTest

PAGE = "from explorer.ui.regression_page import render\nrender()"


def figures(at: AppTest) -> dict[str, dict]:
    """Each Plotly chart's figure, by its title."""
    shown = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {f["layout"]["title"]["text"]: f for f in shown}


def one_two_five(value: float) -> bool:
    mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
    return any(math.isclose(mantissa, m) for m in (1, 2, 5))


def test_the_loss_chart_reads_as_values_on_log_axes():
    at = AppTest.from_string(PAGE, default_timeout=120)
    at.run()
    next(n for n in at.number_input if n.label == "epochs").set_value(300)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    loss = figures(at)["loss"]
    for axis in (loss["layout"]["xaxis"], loss["layout"]["yaxis"]):
        assert axis["type"] == "log" and axis["tickmode"] == "array"
        assert len(axis["tickvals"]) >= 2 and all(one_two_five(v) for v in axis["tickvals"])
        assert [float(t) for t in axis["ticktext"]] == axis["tickvals"]  # every label is its value
    curve, ols = loss["data"]
    assert curve["x"][0] == 1 and curve["x"][-1] == 300       # epochs done, from the first
    assert ols["text"][-1] == "least squares" and ols["y"][0] == ols["y"][1]  # its label at its line's end


def test_the_path_starts_at_the_first_epoch():
    at = AppTest.from_string(PAGE, default_timeout=120)
    at.run()
    next(n for n in at.number_input if n.label == "epochs").set_value(1000)
    next(b for b in at.button if b.label == "Start").click().run()
    path = next(t for t in figures(at)["parameters on the loss contours"]["data"] if t.get("name") == "path")
    assert 400 <= len(path["x"]) <= 520
    first = at.session_state["regression_run"]["history"][0]
    assert math.isclose(path["x"][0], first.b0) and math.isclose(path["y"][0], first.b1)
