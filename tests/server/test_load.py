"""A short load through Streamlit's own protocol (bench/load.py's client): every answer right, no error.

No timing is asserted here (bench/load.py prints the figures); what is asserted is what must hold under any
load: each visitor gets its own function's value and derivative, abusive input gets refusals, and a
visitor who leaves mid-run leaves no work behind.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import urllib.parse

import pytest

from bench import load


def run(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright (sync API) keeps an event loop
    running in this one for the whole session."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_five_visitors_for_ten_seconds_get_only_right_answers(app_url):
    calm, _ = run(load.load(app_url, 5, 0, 10.0, 2.0))
    assert len(calm.seconds) >= 20  # about 5 visitors x 5 requests
    assert calm.errors == [] and calm.wrong == []


def test_no_request_asks_a_function_an_earlier_run_asked(app_url, monkeypatch):
    """A ramp's steps and a run after its warm-up are separate loads: a function asked again would be answered
    from the server's cache of results, and the figures would not be a new function's."""
    asked = []
    original = load.ordinary_function
    monkeypatch.setattr(load, "ordinary_function", lambda k, i: asked.append((k, i)) or original(k, i))
    for fresh in (False, False, True):
        calm, _ = run(load.load(app_url, 3, 0, 5.0, 2.0, fresh=fresh))
        assert calm.errors == [] and calm.wrong == []
    assert len(asked) >= 12
    assert len(set(asked)) == len(asked), sorted(ki for ki in asked if asked.count(ki) > 1)


def test_new_visitors_each_in_a_new_session_get_right_answers(app_url):
    calm, _ = run(load.load(app_url, 3, 0, 6.0, 2.0, fresh=True))
    assert calm.seconds and calm.errors == [] and calm.wrong == []


def test_abusive_input_is_refused_and_ordinary_visitors_are_served(app_url):
    calm, rough = run(load.load(app_url, 3, 1, 12.0, 2.0))
    assert calm.errors == [] and calm.wrong == []
    assert rough.refusals >= 1 and rough.errors == []


def test_each_blow_up_is_refused_with_a_message(app_url):
    async def visit(source: str):
        async with load.Visitor(app_url) as v:
            query = urllib.parse.urlencode({"mode": "function", "f": source, "var_x": "rand(10**7)"})
            return await v.run(query=query, page="")

    for source in load.ABUSIVE_FUNCTIONS:
        page = run(visit(source))
        assert page.status == "finished", source
        assert page.errors(), source  # a refusal on the page, never a crash or a hang
        assert not any("Traceback" in e or "Exception" in e for e in page.errors()), (source, page.errors())


def test_a_typed_function_redraws_only_what_it_changes(app_url):
    """The settings and the tab bar are drawn by whole runs of the page; a new function's run (a fragment's)
    redraws the editor, the inputs, the answer and the open tab: 15 messages, where it was 31."""
    async def visit():
        async with load.Visitor(app_url) as v:
            first = await v.run(query=load.explorer_query(load.ordinary_function(3, 5)), page="")
            editor = first.widget("text_area", "Function")
            typed = await v.run(widgets={editor: load.ordinary_function(4, 7)}, fragment=first.fragments[editor])
            return first, typed

    first, typed = run(visit())
    kinds = [e.WhichOneof("type") for e in typed.elements]
    assert typed.status == "finished" and load.is_right(load.answer(typed), load.expected(4, 7))
    assert {"button_group", "number_input"} <= {e.WhichOneof("type") for e in first.elements}  # settings: whole runs
    assert "button_group" not in kinds and "number_input" not in kinds, kinds
    assert set(kinds) <= {"text_area", "text_input", "empty", "markdown", "html", "iframe"}, kinds
    assert typed.messages <= 17, (typed.messages, kinds)


def _sandbox(app_url: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{app_url}/sandbox-status", timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("leaving", ["closes the tab", "presses Stop", "opens another page"])
def test_a_visitor_who_leaves_mid_run_leaves_no_work_behind(app_url, leaving):
    import time

    def heavy_busy() -> int:
        return _sandbox(app_url)["heavy"]["busy"]

    async def start_and_leave():
        async with load.Visitor(app_url) as v:
            # about a minute of work: far longer than the 20 s the test then waits
            query = urllib.parse.urlencode({"tsne_dataset": "blobs", "tsne_n": "3000", "tsne_iterations": "20000",
                                            "tsne_all": "true"})
            run = await v.run(query=query, page="tsne", timeout=120)
            await v.run(widgets={run.widget("button", "Start"): "trigger"}, wait=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not heavy_busy():
                await asyncio.sleep(0.2)
            assert heavy_busy() == 1  # the run is computing
            if leaving == "presses Stop":
                await v.run(widgets={run.widget("button", "Stop"): "trigger"}, wait=False)
            elif leaving == "opens another page":
                await v.run(query=load.explorer_query("x**2"), page="", wait=False)
            await asyncio.sleep(0.5)

    run(start_and_leave())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and heavy_busy():
        time.sleep(0.2)
    status = _sandbox(app_url)
    assert status["heavy"]["busy"] == 0 and status["heavy"]["queued"] == 0, status
