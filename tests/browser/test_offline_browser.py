"""The offline file of a view (``python -m explorer export``) opened from disk with every request blocked.

It must show the graph and ``x.grad = 72`` for the seed example, pan and zoom, and a node's local
derivative on click, with no server and no network: any request the page makes fails the test.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
SEED_VIEW = "?mode=function&f=x**3%20%2B%202*x**2%20%2B%208*x&var_x=4"


def test_the_offline_file_works_from_disk_with_the_network_blocked(page, tmp_path, screenshot):
    out = tmp_path / "seed.html"
    done = subprocess.run([sys.executable, "-m", "explorer", "export", SEED_VIEW, "-o", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size <= 2_000_000
    requested = []

    def block(route):
        requested.append(route.request.url)
        route.abort()

    page.context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else block(route))
    page.context.set_offline(True)
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(out.as_uri())
    expect(page.locator("#results")).to_contain_text("x.grad = 72")
    svg = page.locator("#view svg")
    expect(svg.locator("g.node")).to_have_count(10)   # 7 autograd nodes, 2 constants, the legend
    expect(svg).to_contain_text("grad 72")
    expect(page.locator("tbody tr")).to_have_count(7)

    before = svg.get_attribute("viewBox")
    page.get_by_role("button", name="+").click()
    zoomed = svg.get_attribute("viewBox")
    assert zoomed != before and float(zoomed.split()[2]) < float(before.split()[2])
    box = page.locator("#view").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 300, box["y"] + 250, steps=5)
    page.mouse.up()
    assert svg.get_attribute("viewBox").split()[:2] != zoomed.split()[:2]   # panned
    page.get_by_role("button", name="Fit").click()
    assert svg.get_attribute("viewBox") == before

    svg.locator("g.node").filter(has_text="PowBackward0").filter(has_text="value 64").click()
    details = page.locator("#details")
    expect(details).to_contain_text("local derivative")
    expect(details).to_contain_text("48")     # ∂(x²·x)/∂x at 4 = 3·4² = 48
    page.locator("tbody tr").last.click()      # the leaf x, last in engine order
    expect(details).to_contain_text("x: AccumulateGrad")
    screenshot("offline")
    assert requested == [] and errors == []
