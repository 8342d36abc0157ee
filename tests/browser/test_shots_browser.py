"""``python -m explorer shot`` against the real app: the same pixels twice, and the docs' figures current.

The figures of docs/screenshots/ are made by ``make docs`` (docs/shots.txt); here one of them is taken
again, by the command line with a server and a browser of its own (so its timings are measured anew),
and compared with the committed one. Two shots of a view in one browser are the same bytes. Between two
browser processes of the same Chromium (its version is in the PNG), we have seen the antialiased edge
of a rounded corner come out a few levels of grey apart, in 2 pixels of one figure out of thirty; so
with the same Chromium no pixel may differ by more than a faint shade (16 levels) and at most 0.01 % may
differ at all: a changed digit alone changes dozens of pixels by far more. With another Chromium, text
and edges may be antialiased differently throughout, so the figure must have the same size (the same
layout) and at most 0.2 % of its pixels may differ by more than 32 levels: a page that changed moves
whole blocks and differs in far more. Run ``make docs`` when it fails.
"""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.shots import png_text

ROOT = Path(__file__).resolve().parents[2]
FIGURE = "jacobian"  # measured timings and a heat map: what could change between two servers


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def shot(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", "shot", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_the_same_view_gives_the_same_pixels_twice(app_url, tmp_path):
    # Through the command line, as an author runs it (and in a process of its own: Playwright's sync API
    # runs one per thread, and the browser tests' own is open). Each view twice, in one call.
    views = ("higher-order", "jacobian?jac_tab=Divergence%20%26%20Laplacian&div_timing=true")  # graphs, timings
    args = [arg for i, view in enumerate(views) for k in "ab" for arg in (view, "-o", str(tmp_path / f"{i}{k}.png"))]
    result = shot(*args, "--url", app_url, "--full-page", "--width", "1200")
    assert result.returncode == 0, result.stderr
    for i, view in enumerate(views):
        first, second = ((tmp_path / f"{i}{k}.png").read_bytes() for k in "ab")
        assert first == second, f"{view}: two shots differ"
        assert png_text(first)["Source"] == view and pixels(first).shape[1] == 1200


def test_a_figure_of_the_docs_is_what_make_docs_takes_today(tmp_path):
    result = shot("--list", "docs/shots.txt", "--out-dir", str(tmp_path), "--only", FIGURE)
    assert result.returncode == 0, result.stderr
    committed = (ROOT / "docs" / "screenshots" / f"{FIGURE}.png").read_bytes()
    taken = (tmp_path / f"{FIGURE}.png").read_bytes()
    ours, theirs = pixels(taken), pixels(committed)
    assert ours.shape == theirs.shape, "the page's layout changed: run make docs"
    difference = np.abs(ours - theirs).max(axis=2)
    if png_text(taken)["Software"] == png_text(committed)["Software"]:  # the same Chromium
        assert difference.max() <= 16 and (difference > 0).mean() <= 0.0001, \
            f"{(difference > 0).sum()} pixels changed, by up to {difference.max()}: run make docs"
    else:
        changed = (difference > 32).mean()
        assert changed <= 0.002, f"{changed:.2%} of the pixels changed: run make docs"


def test_a_view_of_no_page_fails_with_one_line(app_url, tmp_path):
    result = shot("no-such-page", "-o", str(tmp_path / "x.png"), "--url", app_url, "--timeout", "60", timeout=200)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "the app has no such page" in result.stderr, result.stderr
    assert not (tmp_path / "x.png").exists()
