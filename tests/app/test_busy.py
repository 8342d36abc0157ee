"""A busy server, as a visitor sees it: retried, then said, with a Retry that works; nothing remembered."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import explorer.sandbox as sandbox
from explorer.hosting import CACHE
from explorer.sandbox import Pool
from tests.app.shown import monospace

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def real_pool():
    real = sandbox.pool()
    yield real
    sandbox.replace_pool(real)


def test_a_busy_server_says_so_and_the_retry_computes(monkeypatch, real_pool):
    real = real_pool
    full = Pool(real.sizing, queue={"light": 0, "heavy": 0})  # refuses every job as busy
    full.started = True
    sandbox.replace_pool(full)
    monkeypatch.setattr("explorer.ui.runner.RETRIES", 1)  # one automatic retry (a second's pause), then the notice
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"f": "x**7 + 12345*x", "var_x": "3"})  # asked by no other test: not cached
    at.run()
    assert not at.exception
    assert any("Not computed now: the server is busy" in w.value for w in at.warning)
    assert "x.grad" not in monospace(at)
    assert len([b for b in at.button if b.label == "Retry"]) == 1
    sandbox.replace_pool(real)  # the server has room again
    next(b for b in at.button if b.label == "Retry").click().run()
    assert not at.exception and not at.warning
    assert "x.grad = tensor([17448.])" in monospace(at)  # 7·3⁶ + 12345
    assert len(CACHE) > 0
