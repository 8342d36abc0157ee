"""The backward pass as an animation, a view as one offline HTML file, and the views they start from."""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import explorer
from explorer.animation import MAX_STEPS, Animation, animate, frames, received_so_far
from explorer.offline import offline_html
from explorer.shots import Shot, figure_text
from explorer.shots import request_from_view
from explorer.views import Request

ROOT = Path(__file__).resolve().parents[2]
SEED_VIEW = "?mode=function&f=x**3%20%2B%202*x**2%20%2B%208*x&var_x=4"
CHAIN = "w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw6 = w2 + w4 + w5\nw6"


def seed():
    return explorer.explore("x**3 + 2*x**2 + 8*x", x=4)


def frame_count(data: bytes) -> int:
    return Image.open(io.BytesIO(data)).n_frames


def test_two_animations_of_the_same_view_are_the_same_bytes_one_frame_a_step():
    first, second = animate(seed()).gif, animate(seed()).gif
    assert first == second
    ex = seed()
    # the engine's steps, then one frame per leaf where its .grad is complete (the step-through's steps)
    leaves = [n for n in ex.nodes if n.kind == "leaf"]
    assert frame_count(first) == len(ex.graph.steps) + len(leaves) == len(ex.nodes) == 7
    assert [f.node for f in frames(ex)][:len(ex.graph.steps)] == [s.node for s in ex.graph.steps]
    assert len(first) < 2_000_000


def test_webp_is_the_same_animation_and_reproducible(tmp_path):
    a, b = animate(seed()).save(tmp_path / "a.webp"), animate(seed()).save(tmp_path / "b.webp")
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()[8:12] == b"WEBP"
    assert frame_count(a.read_bytes()) == 7


def test_each_frame_shows_its_step_and_what_has_arrived():
    ex = seed()
    made = frames(ex)
    assert [f.index for f in made] == list(range(7))
    assert made[0].caption.startswith("Step 0 of 6: AddBackward0 (output)\noutput received 1\n∂L/∂")
    assert made[-1].text == "x.grad = 72: the sum of what its consumers sent"
    x = next(n.id for n in ex.nodes if n.name == "x")
    assert f'\t{x} [label="x = 4\\ngrad ··"' in made[0].dot        # nothing has reached x yet
    assert f'\t{x} [label="x = 4\\ngrad 72"' in made[-1].dot       # every consumer has sent its share
    assert "grad ·" not in made[-1].dot and "color=red" in made[3].dot  # the running node is highlighted


def test_a_node_waits_for_all_its_consumers():
    ex = explorer.explore(CHAIN, x=4)
    by_id = {n.id: n for n in ex.nodes}
    w1 = next(n for n in ex.nodes if n.name == "x")   # w1 = x: three consumers (w2, w3, w5)
    assert len(w1.consumers) == 3
    last_consumer = max(by_id[c].step for c in w1.consumers)
    dot = ex.to_dot("annotated")
    assert "grad ·" in received_so_far(dot, ex.graph, last_consumer - 1).split(f"\t{w1.id} [")[1].split("\n")[0]
    assert "grad 72" in received_so_far(dot, ex.graph, last_consumer).split(f"\t{w1.id} [")[1].split("\n")[0]


def test_frames_have_one_size_and_the_durations_follow_fps():
    movie = animate(seed(), fps=4)
    assert len({im.size for im in movie.images}) == 1
    gif = Image.open(io.BytesIO(movie.gif))
    durations = []
    for k in range(gif.n_frames):
        gif.seek(k)
        durations.append(gif.info["duration"])
    assert durations == [250] * 6 + [750]


def test_the_notebook_shows_the_animation_inline(tmp_path):
    movie = explorer.animation.animate(seed())
    bundle = movie._repr_mimebundle_()
    data = bundle["text/html"].split("base64,")[1].split('"')[0]
    assert base64.b64decode(data) == movie.gif
    assert "7 steps" in bundle["text/plain"]
    with pytest.raises(ValueError, match="gif or .webp"):
        movie.save(tmp_path / "a.png")


@pytest.mark.parametrize("fps", [0, -1, 100, True, "2"])
def test_a_bad_fps_is_refused(fps):
    with pytest.raises(ValueError, match="fps"):
        animate(seed(), fps=fps)


def test_a_big_graph_is_refused_with_a_pointer_to_the_step_through():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(MAX_STEPS):
        y = y.sin()
    ex = explorer.trace(y, {"x": x})
    with pytest.raises(ValueError, match="step through it in the app"):
        Animation(ex).frames


def test_a_view_gives_the_request_the_page_shows():
    request = request_from_view(SEED_VIEW + "&tab=Step%20through%20backward&step=2")
    assert request == Request("x**3 + 2*x**2 + 8*x", (("x", "4"),))
    assert request_from_view("explore?mode=model&model=rnn&depth=5").model == "rnn"
    for bad, words in (("jacobian?jac_tab=Curl", "explorer page"), ("?mode=function", "no function"),
                       ("?f=x&var_x=1&seed=-1", "seed must be a whole number"), ("http://e.example/?f=x", "view")):
        with pytest.raises(ValueError, match=words):
            request_from_view(bad)


def test_the_offline_file_carries_everything_and_fetches_nothing():
    page = offline_html(seed(), link="http://localhost:8501/" + SEED_VIEW)
    assert "x.grad = 72" in page and "f = 128" in page and page.count("<tr data-node=") == 7
    assert "default-src 'none'" in page and "<script src" not in page and "<link" not in page
    assert len(page.encode()) < 2_000_000
    assert '"local": "∂/∂x: 48"' in page    # x**3's local derivative at 4, shown on click


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)


def test_the_command_line_animates_and_exports_a_view(tmp_path):
    gif, webp, page = tmp_path / "a.gif", tmp_path / "a.webp", tmp_path / "a.html"
    done = cli("shot", SEED_VIEW, "--animate", "-o", str(gif), SEED_VIEW, "-o", str(webp), "--fps", "2")
    assert done.returncode == 0, done.stderr
    assert Image.open(gif).n_frames == 7 and frame_count(webp.read_bytes()) == 7
    assert cli("export", SEED_VIEW, "-o", str(page)).returncode == 0
    assert "x.grad = 72" in page.read_text()
    assert figure_text(gif.read_bytes())["Source"] == Shot.parse_view(SEED_VIEW)
    assert figure_text(page.read_bytes())["Source"] == Shot.parse_view(SEED_VIEW)


@pytest.mark.parametrize("args, words", [
    (("shot", SEED_VIEW, "--animate", "-o", "a.png"), "an animation is a .gif or .webp file"),
    (("shot", "jacobian", "--animate", "-o", "a.gif"), "only a view of the explorer page"),
    (("shot", SEED_VIEW, "--animate", "--fps", "0", "-o", "a.gif"), "--fps"),
    (("export", SEED_VIEW, "-o", "a.svg"), "an .html file"),
    (("export", "?f=x%2B%2A", "-o", "a.html"), "error"),
])
def test_bad_input_exits_2_with_one_line(args, words, tmp_path):
    done = subprocess.run([sys.executable, "-m", "explorer", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and words in done.stderr, done.stderr


def test_the_page_gets_the_offline_file_as_a_part_of_its_view():
    from explorer.views import view

    answer = view(request_from_view(SEED_VIEW), ("offline", "http://127.0.0.1:8501/" + SEED_VIEW))
    assert "x.grad = 72" in answer["offline"] and answer["summary"]["nodes"] == 7
    assert '<meta name="source" content="http://127.0.0.1:8501/?mode=function&amp;' in answer["offline"]
