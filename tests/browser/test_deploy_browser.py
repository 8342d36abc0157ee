"""The app behind nginx with two replicas (deploy/serve.py), in a real browser.

Each visitor is pinned to one replica by the proxy's cookie: its page, its
websocket and every later request reach the same server process, and two
visitors with different cookies are served by different replicas. A visitor
types a function and steps through backward: reruns over the proxied
websocket.
"""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.load import free_port

ROOT = Path(__file__).resolve().parents[2]
SLOW = 60_000


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """``python deploy/serve.py --replicas 2`` on free ports; yields nginx's URL."""
    run = tmp_path_factory.mktemp("deploy")
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", "2", "--port", str(port),
                             "--first-port", "0", "--run-dir", str(run)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()  # "serving on ..." once nginx and both replicas answer
    if not line.startswith("serving on"):
        proc.kill()
        logs = "\n".join(p.read_text()[-1500:] for p in run.glob("*.log"))
        pytest.fail(f"deploy/serve.py did not start: {line}{proc.stdout.read()}\n{logs}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(30)


def replica(url: str, route: str) -> int:
    """The process id of the replica that the proxy sends cookie ``route`` to."""
    request = urllib.request.Request(f"{url}/sandbox-status", headers={"Cookie": f"explorer_route={route}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())["pid"]


def test_two_visitors_two_replicas_each_pinned_to_its_own(browser, ui, proxied):
    routes: dict[int, str] = {}
    for candidate in (f"visitor{i}" for i in range(64)):  # a cookie value for each replica
        routes.setdefault(replica(proxied, candidate), candidate)
        if len(routes) == 2:
            break
    assert len(routes) == 2, "nginx sent every visitor to one replica"
    for pid, route in routes.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([{"name": "explorer_route", "value": route, "url": proxied}])
        page = context.new_page()
        page.set_default_timeout(SLOW)
        try:
            page.goto(f"{proxied}/?f=x**3&var_x=2")
            ui.wait(page)
            expect(page.locator(".explorer-text").first).to_contain_text("x.grad = tensor([12.])",
                                                                                 timeout=SLOW)
            ui.open_tab(page, "Step through backward")
            page.get_by_role("button", name="Next ▶").click()
            ui.wait(page)
            expect(page.get_by_text("Step 1 of")).to_be_visible(timeout=SLOW)
            status = page.request.get(f"{proxied}/sandbox-status").json()  # with the page's own cookies
            assert status["pid"] == pid  # page, websocket and this request: one replica
        finally:
            context.close()


def test_a_first_visit_gets_its_routing_cookie(proxied):
    with urllib.request.urlopen(f"{proxied}/", timeout=30) as r:
        cookie = r.headers.get("Set-Cookie", "")
    assert cookie.startswith("explorer_route=") and "HttpOnly" in cookie
    route = cookie.split(";")[0].split("=", 1)[1]
    assert len({replica(proxied, route) for _ in range(5)}) == 1  # the same replica every time
