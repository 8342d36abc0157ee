"""The demo pages in a real browser: runs start, charts move, Stop stops (the lab pages: test_derivative_pages_browser)."""
from __future__ import annotations

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
    # the progress moves on while the run goes on (waited for, not timed: CI machines are busy)
    page.wait_for_function("(first) => { const p = document.querySelector('.stProgress');"
                           " return p && p.innerText !== first; }", arg=first, timeout=SLOW)
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
    before = page.locator(".js-plotly-plot .gtitle").first.text_content()
    page.wait_for_function("(before) => { const t = document.querySelector('.js-plotly-plot .gtitle');"
                           " return t && t.textContent !== before; }", arg=before, timeout=SLOW)
    screenshot("tsne", full_page=True)
    page.locator(".st-key-tsne_stop button").click()
    page.get_by_text("stopped at iteration").wait_for(timeout=SLOW)
