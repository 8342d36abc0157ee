"""A real architecture in the browser: the module view, and a box opened by a click on it.

The click lands inside the graph's frame; the frame adds ``open=<key>`` to the page's own URL and loads it,
so the opened view is a link like any other state of the page. Screenshot: build/screenshots/modules.png.
"""
from __future__ import annotations

import urllib.parse

from playwright.sync_api import expect

SLOW = 90_000  # ms: the first model run starts a heavy-lane worker on a 2-core machine

RUN = "transformer.h.0..transformer.h.2"


def test_a_click_on_a_folded_run_opens_it_and_the_url_keeps_it(ui, page, app_url, screenshot):
    page.goto(f"{app_url}/?mode=model&model=transformer&depth=3")
    ui.wait(page)
    frame = ui.graph_frame(page)
    folded = frame.locator(f'g.node[id="open:{RUN}"]')
    expect(folded).to_contain_text("×3", timeout=SLOW)
    screenshot("modules", locator=page.locator('iframe[title="Annotated autograd graph"]'))
    folded.locator("path, polygon").first.click()   # a click, not a drag: the view pans on a drag
    page.wait_for_url(lambda url: "open=" in url, timeout=SLOW)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["open"] == [RUN] and query["model"] == ["transformer"]
    ui.wait(page)
    frame = ui.graph_frame(page)
    expect(frame.locator("#view")).to_contain_text("transformer.h.1", timeout=SLOW)   # the blocks, one by one
    assert frame.locator(f'g.node[id="open:{RUN}"]').count() == 0 and "×3" not in frame.locator("#view").inner_text()
    screenshot("modules_opened", locator=page.locator('iframe[title="Annotated autograd graph"]'))
    expect(page.get_by_text(RUN).first).to_be_visible()   # the "open" choice above the tabs shows it too
