"""Playing the step-through, and sharing a view: its link, its <iframe> in another page, its offline file.

The embedding page is served from a port of its own (another origin, as a blog is), and shows the app's
view in an iframe as the share control's snippet writes it: the graph and the gradient must be there,
the sidebar closed, nothing wider than the frame.
"""
from __future__ import annotations

import html
import http.server
import re
import threading

import pytest
from playwright.sync_api import expect

from explorer.local_app import free_port

SLOW = 60_000
SEED_QUERY = "?mode=function&f=x**3%20%2B%202*x**2%20%2B%208*x&var_x=4"


def step_heading(page, step: int):
    return page.get_by_text(re.compile(rf"^Step {step} of 6:"))


def test_play_and_the_arrow_keys_step_through_backward(ui, page, app_url, screenshot):
    page.goto(f"{app_url}/{SEED_QUERY}&tab=Step%20through%20backward")
    ui.wait(page)
    expect(step_heading(page, 0)).to_be_visible(timeout=SLOW)
    page.get_by_role("heading", name="Explorer").click()     # the keys go to the page, not to an input
    # Each key once the last one's run has finished and been drawn (ui.wait): a key pressed while Streamlit
    # still draws the buttons (a skeleton, as their code loads) reaches no shortcut.
    for key, step in (("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1)):
        page.keyboard.press(key)
        expect(step_heading(page, step)).to_be_visible(timeout=SLOW)
        ui.wait(page)
    assert "step=1" in page.url

    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=SLOW)
    for step in range(2, 7):   # one step a second, each shown in turn, then it stops at the last
        expect(step_heading(page, step)).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=SLOW)
    frame = ui.graph_frame(page, "Autograd graph at this step")
    expect(frame.locator("#view")).to_contain_text("grad 72")    # x's gradient, all of it arrived
    page.wait_for_timeout(2500)
    expect(step_heading(page, 6)).to_be_visible()                 # stopped: no timer runs on
    assert "step=6" in page.url

    page.get_by_role("button", name="Play").click()              # from the end: plays again from the start
    expect(step_heading(page, 1)).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=SLOW)
    ui.wait(page)
    shown = page.get_by_text(re.compile(r"^Step \d of 6:")).inner_text()
    page.wait_for_timeout(2500)
    assert page.get_by_text(re.compile(r"^Step \d of 6:")).inner_text() == shown   # paused
    screenshot("play")


@pytest.fixture
def embedding_page(tmp_path):
    """A server of static files on another port of 127.0.0.1: ``(folder, url)``."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_view_shared_into_another_page_shows_graph_and_gradient_with_the_sidebar_closed(
        ui, page, app_url, embedding_page, screenshot):
    page.goto(f"{app_url}/{SEED_QUERY}")
    ui.wait(page)
    expect(page.locator(".explorer-text").first).to_contain_text("x.grad = tensor([72.])", timeout=SLOW)
    page.get_by_role("button", name="Share").click()
    codes = page.locator('[data-testid="stPopoverBody"] code')
    expect(codes.nth(1)).to_contain_text("embed=true", timeout=SLOW)
    link, snippet = codes.nth(0).inner_text().strip(), codes.nth(1).inner_text().strip()
    assert link.startswith(app_url) and "f=x**3" in link and "var_x=4" in link
    assert snippet.startswith("<iframe") and f'src="{link}&embed=true"' in snippet
    with page.expect_download(timeout=SLOW) as download:
        page.get_by_role("button", name="Offline view (.html)").click()
    offline = download.value.path().read_text()
    assert "x.grad = 72" in offline and f'<meta name="source" content="{html.escape(link)}">' in offline

    folder, url = embedding_page
    page.set_viewport_size({"width": 1100, "height": 1100})
    for width in (700, 1000):   # a blog's column, narrow and wide
        framed = snippet.replace('width="100%"', f'width="{width}"')
        (folder / "post.html").write_text(f"<!doctype html><html><body><h1>A post</h1>\n{framed}\n</body></html>")
        page.goto(f"{url}/post.html")
        app = page.frame_locator('iframe[title="Autograd Explorer"]')
        expect(app.locator(".explorer-text").first).to_contain_text("x.grad = tensor([72.])", timeout=SLOW)
        graph = app.frame_locator('iframe[title="Annotated autograd graph"]')
        expect(graph.locator("#view svg")).to_contain_text("grad 72", timeout=SLOW)
        expect(app.locator('[data-testid="stSidebar"]')).to_have_attribute("data-collapsed", "true")
        inner = next(f for f in page.frames if f.url.startswith(app_url))
        assert inner.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), width
    screenshot("embedded")
    # The same view, not embedded, in a window as wide as the frame: the sidebar is open there.
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(link)
    ui.wait(page)
    expect(page.locator('[data-testid="stSidebar"]')).to_have_attribute("data-collapsed", "false", timeout=SLOW)
