"""The docs' figures and their views: docs/shots.txt, docs/screenshots/, README.md and docs/tutorials/.

Every picture in the docs is a figure of docs/shots.txt (``make docs`` takes it) and links to the very
view it shows; every figure of the list is shown somewhere, and nothing else lies in
docs/screenshots/. Every link to the app opens one of its pages. (That a figure is current, the same
pixels as ``shot`` takes today, is tests/browser/test_shots_browser.py.)
"""
from __future__ import annotations

import ast
import re
import urllib.parse
from pathlib import Path

import pytest

from explorer.shots import ROOT_PAGE, Shot, figure_text, read_list

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "docs" / "shots.txt"
FIGURES = ROOT / "docs" / "screenshots"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "tutorials").glob("*.md"))]
APP = "http://localhost:8501/"
IMAGE = re.compile(r"!\[[^\]]*\]\((?P<src>[^)\s]+)\)")
LINKED_IMAGE = re.compile(r"\[!\[[^\]]*\]\((?P<src>[^)\s]+)\)\]\((?P<href>\S+?)\)(?=[\s.,;:!?|]|$)", re.M)
APP_LINK = re.compile(r"\((?P<href>http://localhost:8501/\S*?)\)(?=[\s.,;:!?|]|$)", re.M)

LISTED = dict(read_list(LIST))


def same_view(a: str, b: str) -> bool:
    """Two views open the same state: the same page and the same query, however it is encoded."""
    def parts(view: str):
        path, _, query = Shot.parse_view(view).partition("?")
        return path.strip("/") or ROOT_PAGE, sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    return parts(a) == parts(b)


def app_pages() -> set[str]:
    """The url paths of app.py's pages, read from its PAGES without importing it (that would start an app)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")
    return {path for _, path, _, _ in ast.literal_eval(node.value)}


def shown(doc: Path) -> list[tuple[str, str | None]]:
    """``(figure name, the view its picture links to, or None)`` for every picture of ``doc``."""
    text = doc.read_text()
    linked = {m.start(): (m["src"], m["href"]) for m in LINKED_IMAGE.finditer(text)}
    found = []
    for m in IMAGE.finditer(text):
        src, href = linked.get(m.start() - 1, (m["src"], None))
        path = (doc.parent / src).resolve()
        assert path.parent == FIGURES.resolve() and path.suffix in (".png", ".gif"), f"{doc.name}: {src} is not a figure"
        found.append((path.stem, href))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_picture_is_a_listed_figure_linked_to_its_view(doc: Path):
    for name, href in shown(doc):
        assert name in LISTED, f"{doc.name}: {name}.png is not in docs/shots.txt (make docs would not take it)"
        assert href is not None, f"{doc.name}: the picture {name}.png links to no view; link it to {APP}..."
        assert href.startswith(APP), f"{doc.name}: {name}.png links to {href}, not to the app"
        assert same_view(href[len(APP):], LISTED[name].view), \
            f"{doc.name}: {name}.png links to {href}, but docs/shots.txt takes {LISTED[name].view}"


def test_every_listed_figure_is_shown_and_nothing_else_is_kept():
    used = {name for doc in DOCS for name, _ in shown(doc)} | {name for doc in DOCS for name in offline_files(doc)}
    assert set(LISTED) - used == set(), "figures of docs/shots.txt that no page shows"
    kept = {p.stem for p in FIGURES.glob("*")}
    assert kept - set(LISTED) == set(), "files in docs/screenshots/ that docs/shots.txt does not make"
    assert set(LISTED) - kept == set(), "figures of docs/shots.txt not made yet: run make docs"


def offline_files(doc: Path) -> list[str]:
    """The offline views (``make docs``: ``--export``) that ``doc`` links to, by figure name."""
    found = []
    for m in re.finditer(r"\]\((?P<href>[^)\s]+\.html)\)", doc.read_text()):
        path = (doc.parent / m["href"]).resolve()
        assert path.parent == FIGURES.resolve(), f"{doc.name}: {m['href']} is not a file of make docs"
        found.append(path.stem)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_linked_offline_view_is_a_listed_export(doc: Path):
    for name in offline_files(doc):
        assert name in LISTED and LISTED[name].export, f"{doc.name}: {name}.html is not an --export of docs/shots.txt"


def figure_file(name: str) -> Path:
    """The file ``make docs`` writes for figure ``name``: a PNG, an animation (.gif) or an offline view (.html)."""
    return FIGURES / f"{name}{LISTED[name].suffixes[0]}"


@pytest.mark.parametrize("name", sorted(LISTED))
def test_a_figure_says_which_view_it_is(name: str):
    text = figure_text(figure_file(name).read_bytes())
    assert same_view(text["Source"], LISTED[name].view), "docs/shots.txt changed since make docs: run it again"
    assert text["Software"].startswith("Autograd Explorer")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_link_to_the_app_opens_one_of_its_pages(doc: Path):
    pages = app_pages() | {""}  # the root serves the default page, the explorer
    for m in APP_LINK.finditer(doc.read_text()):
        view = Shot.parse_view(m["href"][len(APP):])
        page = view.partition("?")[0].strip("/")
        assert page in pages, f"{doc.name}: {m['href']} opens no page of the app (its pages: {sorted(pages)})"
        assert page != ROOT_PAGE, f"{doc.name}: the explorer is the app's root, /?..., not /{ROOT_PAGE}"
