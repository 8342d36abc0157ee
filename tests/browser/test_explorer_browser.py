"""The explorer in a real browser: Chromium against ``streamlit run app.py``.

Load, type a function, see the graph, step through backward, an error, a URL
round trip, a download, pan and zoom. The screenshots land in
build/screenshots/ (explorer, graph, node_table, step, vjp, error).
"""
from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import expect

SLOW = 60_000  # ms: a 2-core machine, and the first run starts a sandbox worker


def results(page):
    """The code block with the outputs and gradients (the first one on the page)."""
    return page.locator(".explorer-text").first


def function_box(page):
    return page.get_by_role("textbox", name="Function")


def open_default(ui, page, url: str) -> None:
    """Open the app on its default view (seed 001's polynomial at 4) and wait for its numbers."""
    page.goto(url)
    ui.wait(page)
    expect(results(page)).to_contain_text("x.grad = tensor([72.])", timeout=SLOW)


def click_preset(ui, page, title: str) -> None:
    """Click a preset's link in the sidebar and wait for its page run to finish."""
    link = page.get_by_role("link", name=title)
    expect(link).to_be_visible(timeout=SLOW)
    ui.wait(page)  # not while a run is going on: the link's navigation would queue behind it
    link.click()
    ui.wait(page)


def to_top(locator) -> None:
    """Scroll so that ``locator`` is at the top of the window (for screenshots)."""
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")
    locator.page.wait_for_timeout(300)


def type_function(page, source: str) -> None:
    box = function_box(page)
    box.fill(source)
    box.press("Control+Enter")  # a text area commits on Ctrl+Enter (or when it loses focus)


def test_load_shows_the_seed_polynomial_and_its_graph(ui, page, app_url, screenshot):
    open_default(ui, page, app_url)
    frame = ui.graph_frame(page)
    expect(frame.locator("#view")).to_contain_text("grad 72", timeout=SLOW)
    titles = frame.locator("g.node > title").all_text_contents()
    assert len([t for t in titles if t.isdigit()]) == 7  # the autograd nodes: 6 operations and the leaf x
    expect(page.get_by_text("computing on")).to_contain_text("CPU")
    screenshot("explorer")
    screenshot("graph", locator=page.locator('iframe[title="Annotated autograd graph"]'))


def test_typing_a_function_shows_new_inputs_results_and_graph(ui, page, app_url):
    open_default(ui, page, app_url)
    type_function(page, "sin(x) * y")
    expect(page.get_by_role("textbox", name="y =")).to_be_visible(timeout=SLOW)
    page.get_by_role("textbox", name="x =").fill("[0.0, 1.0]")
    page.get_by_role("textbox", name="x =").press("Enter")
    page.get_by_role("textbox", name="y =").fill("2")
    page.get_by_role("textbox", name="y =").press("Enter")
    # d/dy = sin(0) + sin(1) = 0.8415 (v = ones over the two outputs); d/dx = y cos(x) = [2, 1.0806]
    expect(results(page)).to_contain_text("y.grad = tensor([0.8415])", timeout=SLOW)
    expect(results(page)).to_contain_text("x.grad = tensor([2.0000, 1.0806])")
    frame = ui.graph_frame(page)
    expect(frame.locator("#view")).to_contain_text("SinBackward0", timeout=SLOW)


def test_a_function_name_used_as_a_value_is_an_input_and_the_page_says_so(ui, page, app_url):
    open_default(ui, page, app_url)
    type_function(page, "F.binary_cross_entropy_with_logits(x, t)")
    expect(page.get_by_role("textbox", name="t =")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("is an input here, not the function")).to_be_visible(timeout=SLOW)


def test_a_syntax_error_is_shown_with_its_place(ui, page, app_url, screenshot):
    open_default(ui, page, app_url)
    type_function(page, "x**3 +* 2")
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("syntax error at line 1, column", timeout=SLOW)
    marker = page.locator(".explorer-text").first
    expect(marker).to_contain_text("x**3 +* 2")
    expect(marker).to_contain_text("^")
    screenshot("error")


def test_step_through_backward_highlights_each_node(ui, page, app_url, screenshot):
    open_default(ui, page, app_url)
    ui.open_tab(page, "Step through backward")
    expect(page.get_by_text("Step 0 of 6")).to_be_visible(timeout=SLOW)
    for step in (1, 2):
        page.get_by_role("button", name="Next ▶").click()
        expect(page.get_by_text(f"Step {step} of 6")).to_be_visible(timeout=SLOW)
    frame = ui.graph_frame(page, "Autograd graph at this step")
    highlighted = frame.locator('g.node polygon[stroke="red"]')
    expect(highlighted).to_have_count(1, timeout=SLOW)
    expect(page.locator(".explorer-text").nth(2)).to_contain_text("∂L/∂")  # the chain-rule product
    assert "step=2" in page.url
    to_top(page.get_by_role("tab", name="Step through backward"))
    screenshot("step")


def test_the_url_reproduces_the_view(ui, page, app_url, browser):
    open_default(ui, page, app_url)
    type_function(page, "tanh(x) * 3")
    expect(results(page)).to_contain_text("x.grad = tensor([0.0040])", timeout=SLOW)  # 3 (1 - tanh²(4))
    ui.open_tab(page, "Node table")
    page.wait_for_url(re.compile(r"tab=Node"), timeout=SLOW)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["f"] == ["tanh(x) * 3"] and query["tab"] == ["Node table"]
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        other.goto(page.url)
        ui.wait(other)
        expect(results(other)).to_contain_text("x.grad = tensor([0.0040])", timeout=SLOW)
        expect(function_box(other)).to_have_value("tanh(x) * 3")
        expect(other.get_by_role("tab", name="Node table")).to_have_attribute("aria-selected", "true")
    finally:
        other.context.close()


def test_a_preset_link_opens_its_example_and_the_node_table(ui, page, app_url, screenshot):
    open_default(ui, page, app_url)
    page.get_by_test_id("stSidebarUserContent").get_by_text("Seed 001").click()  # seeds start closed
    click_preset(ui, page, "The w1 … w6 graph")
    expect(function_box(page)).to_have_value(re.compile(r"^w1 = x\nw2 = w1\*\*3"), timeout=SLOW)
    expect(results(page)).to_contain_text("w6 = tensor([128.])", timeout=SLOW)
    ui.open_tab(page, "Node table")
    table = page.locator('[data-testid="stDataFrame"]')
    expect(table).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("The numbers add up")).to_be_visible()
    page.wait_for_timeout(500)  # the grid paints its canvas after it appears
    to_top(page.get_by_role("tab", name="Node table"))
    screenshot("node_table")


def test_vector_jacobian_product_of_seed_003(ui, page, app_url, screenshot):
    open_default(ui, page, app_url)
    page.get_by_text("Seed 003").click()
    click_preset(ui, page, "sin(Ax + b), v = ones")
    expect(results(page)).to_contain_text("x.grad = tensor([-0.57", timeout=SLOW)
    expect(page.get_by_text("ours agree to within 0.0005")).to_be_visible()  # the seed prints -3.6513 ...
    ui.open_tab(page, "Vector-Jacobian product")
    expect(page.get_by_text("RuntimeError: grad can be implicitly created only for scalar outputs")).to_be_visible(
        timeout=SLOW)
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=SLOW)  # J
    page.wait_for_timeout(500)
    to_top(page.get_by_role("tab", name="Vector-Jacobian product"))
    screenshot("vjp")


def test_downloads_of_the_graph(ui, page, app_url, tmp_path):
    open_default(ui, page, app_url)
    ui.graph_frame(page)
    page.get_by_role("button", name="Download").first.click()   # the menu's buttons are made as it opens
    for label, check in (("SVG", lambda b: b"<svg" in b[:400]), ("DOT", lambda b: b.startswith(b"digraph")),
                         ("PNG", lambda b: b.startswith(b"\x89PNG"))):
        with page.expect_download(timeout=SLOW) as info:
            page.get_by_role("button", name=label).first.click(timeout=SLOW)
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.name.startswith("autograd_annotated.") and check(path.read_bytes()), label


def test_pan_and_zoom(ui, page, app_url):
    open_default(ui, page, app_url)
    frame = ui.graph_frame(page)
    svg = frame.locator("#view svg")
    before = svg.get_attribute("viewBox")
    frame.locator("#zoom-in").click()
    zoomed = svg.get_attribute("viewBox")
    assert zoomed != before and float(zoomed.split()[2]) < float(before.split()[2])  # a narrower window
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 30, steps=5)
    page.mouse.up()
    panned = svg.get_attribute("viewBox")
    assert panned.split()[:2] != zoomed.split()[:2] and panned.split()[2:] == zoomed.split()[2:]
    frame.locator("#fit").click()
    assert svg.get_attribute("viewBox") == before
    frame.locator("#fullscreen").click()
    expect(frame.locator("html")).to_have_js_property("clientWidth", 1400, timeout=SLOW)  # the whole window
    assert frame.locator("html").evaluate("e => document.fullscreenElement === e")
    frame.locator("#fullscreen").click()
    expect(frame.locator("html")).not_to_have_js_property("clientWidth", 1400, timeout=SLOW)


def test_back_from_another_page_brings_the_function_back(ui, page, app_url):
    # Streamlit's history entry of a page keeps no query string: without the shell's memory of the page,
    # going back reset every URL-bound widget to empty ("the function is empty").
    page.goto(f"{app_url}/?f=x**2&var_x=2")
    ui.wait(page)
    expect(results(page)).to_contain_text("x.grad = tensor([4.])", timeout=SLOW)
    # Typed, not loaded: only the page's fragment reruns, and it must be remembered all the same.
    type_function(page, "x**3")
    expect(results(page)).to_contain_text("x.grad = tensor([12.])", timeout=SLOW)
    page.get_by_role("link", name="Jacobians & VJP lab").click()
    ui.wait(page)
    expect(page.get_by_role("textbox", name="Function")).to_have_value("sin(A @ x + b)", timeout=SLOW)
    page.go_back()
    ui.wait(page)
    expect(function_box(page)).to_have_value("x**3", timeout=SLOW)
    expect(results(page)).to_contain_text("x.grad = tensor([12.])", timeout=SLOW)
    expect(page.get_by_text("the function is empty")).to_have_count(0)
