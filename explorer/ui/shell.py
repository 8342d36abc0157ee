"""The HTML page Streamlit serves for each page of the app, naming the page's scripts up front.

Streamlit's frontend fetches an element's script (text area, iframe,
download button...) the first time it draws one. For the explorer that is
about thirty small files, asked for only once the server's first answer has
been drawn, from a server busy computing the rest of the page: measured cold
in Chromium (``bench/app_latency.py``), that wave of requests was a third of
the time to the explorer's graph. Here each page's HTML, Streamlit's own
``index.html``, lists them in ``<link rel="modulepreload">`` tags, so the
browser fetches and compiles them alongside Streamlit's main bundle, before
the websocket opens.

Which files each element needs, Vite wrote into the build: every lazy
``import()`` comes with the list of files it loads (``__vite__mapDeps``).
:func:`chunk_files` reads those lists from the installed Streamlit, so the
hints follow its version. Which elements a page draws on a bare visit is
:data:`PAGE_CHUNKS`; ``tests/browser/test_shell_browser.py`` visits every
page and names any script that arrived without a hint. A name the installed
Streamlit does not have is left out: the page works, only slower.

>>> files = chunk_files(("TextArea",))
>>> files[0].startswith("TextArea.") and all(f.endswith(".js") for f in files)
True
>>> '<link rel="modulepreload" crossorigin href="./static/js/TextArea.' in shell_html(("TextArea",))
True
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Sequence

# The elements each page draws when it is opened bare (Streamlit's chunk names, without their hash):
# what a cold visit fetched after Streamlit's main bundle, read from Chromium's resource timings.
_FORM = ("ButtonGroup", "TextArea", "TextInput")
_DRAWING = ("Html", "IFrame", "DownloadButton")
PAGE_CHUNKS: dict[str, tuple[str, ...]] = {
    "explore": _FORM + ("NumberInput",) + _DRAWING,
    "jacobian": _FORM + ("NumberInput", "Metric", "rehype-katex", "rehype-raw"),
    "higher-order": _FORM + ("Slider", "rehype-raw") + _DRAWING,
    "four-ways": _FORM + ("Slider", "Html", "rehype-katex", "rehype-raw"),
    "mechanics": _FORM + ("NumberInput", "Checkbox", "Slider", "StreamlitSyntaxHighlighter"),
    "regression": ("PageLink", "NumberInput", "Selectbox", "Checkbox", "Button", "Progress"),
    "tsne": ("PageLink", "NumberInput", "Selectbox", "Checkbox", "Button", "Progress"),
}

# What Streamlit's theme cannot set, for WCAG AA contrast (4.5:1 for text; axe-core checks it,
# tests/browser/test_audit_browser.py): captions (text at 60 % opacity, 3.9:1 on white; #6b6a69 is 5.4:1)
# and the code highlighter's colours (its greens #29b09d and #21c354 on #fcfcfb: 2.6 and 2.3; its blue,
# orange, grey and red: 2.8 to 3.8), each darkened to 4.5:1 or more on the code's background.
# A segmented control wraps its options onto a second line where its column is narrow: Streamlit's own
# scrolls them sideways, which cut "random" of v off beside the sidebar at 1024 px. A checkbox's or a
# toggle's name wraps too, where Streamlit ends it with an ellipsis in a narrow column.
# ``.stApp`` outranks Streamlit's own rules; a popover's body is drawn outside ``.stApp``, so the colours name it
# too (``:is()`` keeps the same weight).
STYLE = """<style>
:is(.stApp, [data-testid="stPopoverBody"]) [data-testid="stCaptionContainer"] { color: #6b6a69; opacity: 1; }
.stApp [data-testid="stButtonGroup"] [role="radiogroup"] { flex-wrap: wrap; }
.stApp label .stMarkdownEllipsis { white-space: normal; overflow: visible; text-overflow: clip; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.number, .token.regex) { color: #1a7f6f; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.string, .token.char, .token.attr-value, .token.boolean,
  .token.constant, .token.symbol, .token.inserted) { color: #158237; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.keyword, .token.tag, .token.function, .token.class-name,
  .token.selector) { color: #0b6bc4; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.attr-name, .token.property, .token.variable) { color: #0077a3; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.operator, .token.entity, .token.decorator, .token.atrule) {
  color: #b34d00; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.comment, .token.prolog, .token.punctuation,
  .token.unchanged) { color: #666a78; }
:is(.stApp, [data-testid="stPopoverBody"]) .stCode :is(.token.important, .token.deleted) { color: #c41e1e; }
</style>
"""

_FILES = re.compile(r"m\.f=\[([^\]]*)\]")
_LAZY = re.compile(r"import\(`\./([^`]+)`\)(?:,__vite__mapDeps\(\[([\d,]*)\]\))?")


def streamlit_static_dir() -> Path:
    """Where the installed Streamlit keeps its ``index.html`` and scripts."""
    from streamlit import file_util

    return Path(file_util.get_static_dir())


@functools.cache
def _chunk_table(static_dir: Path) -> dict[str, tuple[str, ...]]:
    """Each lazily imported chunk's name (``TextArea``) -> the files it loads, its own first."""
    table: dict[str, tuple[str, ...]] = {}
    for script in sorted((static_dir / "static" / "js").glob("*.js")):
        data = script.read_bytes()
        if b"__vite__mapDeps" not in data:  # most files import nothing lazily: no need to decode them
            continue
        text = data.decode("utf-8", errors="replace")
        files = _FILES.search(text)
        if files is None:
            continue
        names = [f.strip().strip("\"'`").removeprefix("./") for f in files.group(1).split(",")]
        for chunk, deps in _LAZY.findall(text):
            needed = [names[int(i)] for i in deps.split(",") if i and int(i) < len(names)]
            table.setdefault(chunk.split(".")[0], tuple(dict.fromkeys([chunk, *needed])))
    return table


def chunk_files(chunks: Sequence[str], static_dir: Path | None = None) -> list[str]:
    """The script files (under ``static/js``) that ``chunks`` load, each once, in order."""
    table = _chunk_table(static_dir or streamlit_static_dir())
    return list(dict.fromkeys(f for chunk in chunks for f in table.get(chunk, ())))


def shell_html(chunks: Sequence[str], static_dir: Path | None = None) -> str:
    """Streamlit's ``index.html`` with a ``modulepreload`` hint for each file ``chunks`` load, and :data:`STYLE`."""
    static_dir = static_dir or streamlit_static_dir()
    page = (static_dir / "index.html").read_text(encoding="utf-8")
    hints = "".join(f'<link rel="modulepreload" crossorigin href="./static/js/{f}">\n'
                    for f in chunk_files(chunks, static_dir) if f'/static/js/{f}"' not in page)
    return page.replace("</head>", hints + STYLE + "</head>", 1)


def routes(paths: Sequence[str], default: str) -> list:
    """Starlette routes that serve each page's shell: ``/`` for page ``default``, ``/{path}`` for each of ``paths``.

    They go before Streamlit's own routes (``st.App(routes=...)``); every
    other path, a script file or a page not listed, is Streamlit's as before.
    """
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    # Made now, while the server starts: reading Streamlit's scripts must not hold up a request's event loop.
    pages = {path: shell_html(PAGE_CHUNKS.get(path, ())) for path in {*paths, default}}

    def endpoint(path: str):
        async def serve(_request) -> HTMLResponse:
            # Like Streamlit's index.html, never cached: a new deployment's scripts are named at once.
            return HTMLResponse(pages[path], headers={"Cache-Control": "no-cache"})
        return serve

    return [Route("/", endpoint(default)), *(Route(f"/{path}", endpoint(path)) for path in paths)]


__all__ = ["PAGE_CHUNKS", "STYLE", "chunk_files", "routes", "shell_html"]
