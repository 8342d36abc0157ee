"""Browser tests: drive the real app (``app_url``, from tests/conftest.py) in Chromium.

Chromium is Debian's (``/usr/bin/chromium``); Playwright's own browser download
does not work on these machines. The tests' screenshots are artifacts of the
run, in ``build/screenshots/`` (git-ignored); the figures of the docs are
made by ``make docs`` (``python -m explorer shot``), never by a test.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from explorer.shots import CHROMIUM, CHROMIUM_ARGS, RUN_DRAWN

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the README's test command does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser page, 1400x1000, with a generous timeout for a 2-core machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


@pytest.fixture
def screenshot(page):
    """``screenshot("name")`` saves ``build/screenshots/name.png`` of the current page
    (``locator=`` an element of it instead; other keywords go to Playwright's ``screenshot``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, locator=None, **kwargs) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        (locator or page).screenshot(path=str(path), **kwargs)
        return path

    return take


def wait_for_app(page) -> None:
    """Wait until Streamlit has run the script and drawn every element of it (``explorer.shots.RUN_DRAWN``)."""
    page.wait_for_function(f"() => ({RUN_DRAWN})() === true", timeout=60_000)


def graph_frame(page, title: str = "Annotated autograd graph"):
    """The frame of a graph view (``explorer.ui.widgets.graph_view``), once its drawing is visible.

    Returns the Playwright ``Frame``: ``frame.locator("#view svg")`` is the drawing.
    """
    page.wait_for_selector(f'iframe[title="{title}"]', timeout=60_000)
    frame = page.frame_locator(f'iframe[title="{title}"]')
    frame.locator("#view svg").wait_for(timeout=60_000)
    return frame


def open_tab(page, label: str) -> None:
    """Click a tab of the explorer by its label and wait for the rerun it starts."""
    page.get_by_role("tab", name=label).click()
    wait_for_app(page)


@pytest.fixture
def ui():
    """The helpers above as one object (``ui.wait``, ``ui.graph_frame``, ``ui.open_tab``), so that
    test modules need not import this conftest by name."""
    from types import SimpleNamespace

    return SimpleNamespace(wait=wait_for_app, graph_frame=graph_frame, open_tab=open_tab)
