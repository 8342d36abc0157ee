"""The demo and lab pages in a real browser: runs start, charts move, Stop stops, plots appear."""
from __future__ import annotations

import time

SLOW = 90_000


def plot_count(page) -> int:
    return page.locator(".js-plotly-plot").count()


def test_regression_runs_charts_update_and_stop(ui, page, app_url, screenshot):
    page.goto(f"{app_url}/regression")
    ui.wait(page)
    # Enough work that the run is still going when we look twice (a form keeps a value once focus leaves it).
    page.get_by_label("points", exact=True).fill("200000")
    page.get_by_label("points", exact=True).press("Tab")
    page.get_by_label("epochs", exact=True).fill("100000")
    page.get_by_label("epochs", exact=True).press("Tab")
    page.get_by_role("button", name="Start").click()
    page.get_by_text("epoch ").first.wait_for(timeout=SLOW)
    page.wait_for_selector(".js-plotly-plot", timeout=SLOW)
    first = page.locator(".stProgress").inner_text()
    time.sleep(1.5)
    second = page.locator(".stProgress").inner_text()
    assert first != second, "the progress did not move"
    screenshot("regression", full_page=True)
    page.locator(".st-key-regression_stop button").click()  # the page's Stop, not Streamlit's header one
    page.get_by_text("stopped").wait_for(timeout=SLOW)
    assert plot_count(page) >= 3


def test_tsne_scatter_moves_and_stops(ui, page, app_url, screenshot):
    page.goto(f"{app_url}/tsne")
    ui.wait(page)
    page.get_by_text("max |autograd − paper|").first.wait_for(timeout=SLOW)
    page.get_by_role("button", name="Start").click()
    page.wait_for_selector(".js-plotly-plot", timeout=SLOW)
    title = page.locator(".js-plotly-plot .gtitle").first
    before = title.text_content()
    time.sleep(2.0)
    after = title.text_content()
    assert before != after, "the embedding did not move"
    screenshot("tsne", full_page=True)
    page.locator(".st-key-tsne_stop button").click()
    page.get_by_text("stopped at iteration").wait_for(timeout=SLOW)


def test_each_lab_page_draws_its_plot(ui, page, app_url, screenshot):
    for path, name in (("jacobian", "jacobian"), ("higher-order", "higher_order"), ("four-ways", "four_ways")):
        page.goto(f"{app_url}/{path}")
        ui.wait(page)
        page.wait_for_selector(".js-plotly-plot", timeout=SLOW)
        assert plot_count(page) >= 1
        screenshot(name)
    page.goto(f"{app_url}/mechanics")
    ui.wait(page)
    page.get_by_text("tensor([216.])").first.wait_for(timeout=SLOW)
    screenshot("mechanics")
