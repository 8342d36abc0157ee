"""The demo pages in a real browser: runs start, charts move, Stop stops (the lab pages: test_derivative_pages_browser)."""
from __future__ import annotations

SLOW = 90_000


def plot_count(page) -> int:
    return page.locator(".js-plotly-plot").count()


def test_regression_runs_charts_update_and_stop(ui, page, app_url, screenshot):
    page.goto(f"{app_url}/regression")
    ui.wait(page)
    # Enough work that the run is still going when we look twice and press Stop (a form keeps a value once focus
    # leaves it): about 30 s here, estimated at 50 s, within what the server runs for one visitor (60 s,
    # explorer.budgets.Budgets). 30,000 points for 25,000 epochs was done in 12 s on a quiet machine, sometimes
    # before the test had looked once.
    page.get_by_label("points", exact=True).fill("5000")
    page.get_by_label("points", exact=True).press("Tab")
    page.get_by_label("epochs", exact=True).fill("100000")
    page.get_by_label("epochs", exact=True).press("Tab")
    page.get_by_role("button", name="Start").click()
    page.get_by_text("epoch ").first.wait_for(timeout=SLOW)
    first = page.locator(".stProgress").inner_text()
    # the progress moves on while the run goes on (waited for, not timed: CI machines are busy)
    page.wait_for_function("(first) => { const p = document.querySelector('.stProgress');"
                           " return p && p.innerText.startsWith('epoch ') && p.innerText !== first; }",
                           arg=first, timeout=SLOW)
    page.wait_for_selector(".js-plotly-plot", timeout=SLOW)
    screenshot("regression", full_page=True)
    page.locator(".st-key-regression_stop button").click()  # the page's Stop, not Streamlit's header one
    page.get_by_text("stopped").wait_for(timeout=SLOW)
    assert plot_count(page) >= 3


def test_tsne_scatter_moves_and_stops(ui, page, app_url, screenshot):
    # The settings come from the link (the page binds them to the URL): 2,000 blobs, every one of
    # 20,000 iterations (25 s of work at the least, minutes with a browser drawing on the same two
    # cores), so the run is still going when we look twice and press Stop.
    page.goto(f"{app_url}/tsne?tsne_dataset=blobs&tsne_n=2000&tsne_iterations=20000&tsne_all=true")
    ui.wait(page)
    page.get_by_text("2000 points of 10 dimensions").wait_for(timeout=SLOW)
    assert page.get_by_role("checkbox", name="run every iteration").is_checked()
    assert page.get_by_label("iterations (at most)").input_value() == "20000"
    page.get_by_text("check the gradient three ways at a random Y").click()  # heavy work: asked for
    page.get_by_text("max |autograd − paper|").nth(1).wait_for(timeout=SLOW)  # both checks are in
    ui.wait(page)
    page.get_by_role("button", name="Start").click()
    page.get_by_text("· early exaggeration (α = 12, momentum 0.5)").or_(
        page.get_by_text("· main (α = 1, momentum 0.8)")).first.wait_for(timeout=SLOW)
    titles = "[data-testid=stVegaLiteChart] .role-title-text text"  # the live charts are Vega-Lite SVG
    scatter = page.locator(titles, has_text="iteration ")
    scatter.first.wait_for(timeout=SLOW)
    before = scatter.first.text_content()
    # the embedding moves on while the run goes on (waited for, not timed: CI machines are busy)
    page.wait_for_function("([sel, before]) => [...document.querySelectorAll(sel)]"
                           ".some(t => t.textContent.startsWith('iteration ') && t.textContent !== before)",
                           arg=[titles, before], timeout=SLOW)
    page.get_by_text("· main (α = 1, momentum 0.8)").wait_for(timeout=SLOW)  # spread out, for the picture
    page.get_by_role("heading", name="The embedding").evaluate("h => h.scrollIntoView({block: 'start'})")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')].some(c =>"
                           " c.querySelectorAll('.mark-symbol path').length === 2000)", timeout=SLOW)
    screenshot("tsne")
    page.locator(".st-key-tsne_stop button").click()
    page.get_by_text("stopped at iteration").wait_for(timeout=SLOW)
    stopped = int(page.get_by_text("stopped at iteration").inner_text().split()[-1])
    assert 0 < stopped < 20000


def test_tsne_run_ends_with_a_replay_that_plays(ui, page, app_url, screenshot):
    page.goto(f"{app_url}/tsne?tsne_dataset=iris")
    ui.wait(page)
    page.get_by_text("150 points of 4 dimensions").wait_for(timeout=SLOW)
    page.get_by_label("iterations (at most)").fill("400")
    page.get_by_label("iterations (at most)").press("Tab")  # a form keeps a value once focus leaves it
    page.get_by_role("button", name="Start").click()
    page.get_by_text("done at iteration 400").wait_for(timeout=SLOW)
    ui.wait(page)
    replay = page.locator(".js-plotly-plot").filter(has=page.locator(".updatemenu-button"))
    replay.wait_for(timeout=SLOW)
    where = replay.locator(".slider-group > .slider-label")  # the slider's current value
    assert where.text_content() == "iteration 400"
    replay.locator(".updatemenu-button").first.click()  # ▶ replay: from the first snapshot, in the browser
    page.wait_for_function("() => /^iteration [1-3]?[0-9]0$/.test("
                           "document.querySelector('.js-plotly-plot .slider-group > .slider-label').textContent)",
                           timeout=SLOW)
    page.get_by_role("heading", name="The embedding").evaluate("h => h.scrollIntoView({block: 'start'})")
    screenshot("tsne_replay")
    where.filter(has_text="iteration 400").wait_for(timeout=SLOW)  # and it plays to the end
    assert "tsne_dataset=iris" in page.url and "tsne_iterations=400" in page.url  # the link reproduces the run
