"""The derivative-lab pages in a real browser: each draws its plots with the seeds' numbers.

Screenshots (build/screenshots/): jacobian, higher_order, four_ways, mechanics.
"""
from __future__ import annotations

from playwright.sync_api import expect

SLOW = 90_000  # ms: a 2-core machine, and the first run starts a sandbox worker


def plots(page):
    """The page's charts (SVG drawn by the server), once shown."""
    return page.locator("svg.explorer-chart")


def open_page(ui, page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}")
    ui.wait(page)


def tall(ui, page, height: int) -> None:
    """A taller window, so that the screenshot holds the page's plots (Streamlit scrolls inside, not the page)."""
    page.set_viewport_size({"width": 1400, "height": height})
    ui.wait(page)
    page.wait_for_timeout(800)


def test_jacobian_page_draws_heat_maps_and_the_divergence_two_ways(ui, page, app_url, screenshot):
    open_page(ui, page, app_url, "jacobian")
    expect(plots(page).first).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Reverse mode is cheaper here")).to_be_visible(timeout=SLOW)
    cell = plots(page).first.locator("rect.cell").first                           # hovering a cell names its value
    expect(cell.locator("title")).to_contain_text("output element 0, input element 0: ", timeout=SLOW)
    assert cell.bounding_box()["width"] > 4                                       # drawn, not stripped as markup
    tall(ui, page, 1500)
    screenshot("jacobian")
    ui.open_tab(page, "Divergence & Laplacian")
    expect(page.get_by_text("J is not diagonal").first).to_be_visible(timeout=SLOW)
    page.get_by_text("time both ways as n grows").click()  # heavy work: asked for, not done on load
    ui.wait(page)
    expect(page.get_by_text("time as n grows (x = rand(n))")).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="seed 002: ∇²(x·x) at x = ones(3) (J diagonal)").click()
    ui.wait(page)
    expect(page.get_by_text("both ways give ∇²f = 6")).to_be_visible(timeout=SLOW)
    ui.open_tab(page, "Curl")
    along_z = page.get_by_test_id("stMetric").filter(has_text="(∇×F) along z").filter(visible=True)
    expect(along_z.get_by_test_id("stMetricValue")).to_have_text("2", timeout=SLOW)   # ∇×(−y, x, 0) = (0, 0, 2)


def test_higher_order_page_draws_the_derivatives_and_both_graphs(ui, page, app_url, screenshot):
    open_page(ui, page, app_url, "higher-order")
    expect(plots(page).first).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("sin''(x) == -sin(x)")).to_be_visible(timeout=SLOW)
    original = ui.graph_frame(page, "Graph of f")
    derivative = ui.graph_frame(page, "Graph of the derivative")
    expect(original.locator("#view")).to_contain_text("SinBackward0", timeout=SLOW)
    expect(derivative.locator("#view")).to_contain_text("CosBackward0", timeout=SLOW)
    tall(ui, page, 1650)
    screenshot("higher_order")


def test_four_ways_page_draws_the_v(ui, page, app_url, screenshot):
    open_page(ui, page, app_url, "four-ways")
    expect(plots(page).first).to_be_visible(timeout=SLOW)
    legend = plots(page).first.locator("text.legend")
    expect(legend).to_have_count(4, timeout=SLOW)                            # forward/central × float32/float64
    expect(page.locator("table.explorer-table")).to_contain_text("central difference", timeout=SLOW)
    expect(page.locator(".katex").first).to_be_visible(timeout=SLOW)        # the symbolic formulas
    tall(ui, page, 1900)
    screenshot("four_ways")


def test_mechanics_page_plays_the_lessons(ui, page, app_url, screenshot):
    open_page(ui, page, app_url, "mechanics")
    expect(page.get_by_text("tensor([216.])").first).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Trying to backward through the graph a second time").first).to_be_visible(timeout=SLOW)
    page.get_by_text("retain_graph=True on the first call").click()
    ui.wait(page)
    expect(page.get_by_text("Trying to backward through the graph a second time")).to_have_count(0, timeout=SLOW)
    expect(page.get_by_text("tensor([144.])").first).to_be_visible(timeout=SLOW)
    tall(ui, page, 1500)
    screenshot("mechanics")
