"""Figures for docs: a view of the app (a page path and its query string) to a PNG, the same pixels twice.

A *view* is what follows the app's address in its URLs, e.g.
``explore?mode=function&f=sin(x)&var_x=4`` or ``jacobian?jac_tab=Curl``:
the whole state of a page is in its URL. :class:`Camera` opens views in
headless Chromium against the app (started here on 127.0.0.1, or a server
of the user's own at ``url``), waits until each has settled and takes it:

- *settled*: Streamlit's script has finished and nothing is stale, every
  graph view has its drawing, every chart its marks, the fonts are loaded,
  and two captures in a row are the same pixels;
- *the same pixels twice*: a fixed viewport and device scale, light theme,
  reduced motion, animations and the text caret frozen by Playwright, no
  scrollbars, and what pages measure live (timings: see
  ``explorer.ui.widgets.measured``) blanked to a placeholder of the same
  size;
- Streamlit's chrome (header, toolbar, status) is hidden, and the sidebar
  unless :attr:`Shot.sidebar`.

Playwright is imported only when a camera opens: the app itself does not
need it (``pip install -r requirements-dev.txt`` installs it; Chromium is
Debian's ``/usr/bin/chromium``, or ``EXPLORER_CHROMIUM``).

>>> Shot.parse_view("/explore?mode=function&f=sin(x)&var_x=4")
'explore?mode=function&f=sin(x)&var_x=4'
>>> with Camera() as camera:                                            # doctest: +SKIP
...     png = camera.take(Shot("jacobian?jac_tab=Curl", width=1200))
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import struct
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from explorer import local_app

if TYPE_CHECKING:
    from explorer.views import Request

CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium, headless, with nothing that reaches the network on its own.
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
)
# For a shot: one raster thread and no runtime-chosen Skia paths (with several, the antialiasing of a rounded
# corner came out one level apart from one take to the next), sRGB and greyscale text on every machine.
SHOT_ARGS = (
    "--num-raster-threads=1", "--disable-skia-runtime-opts", "--force-color-profile=srgb", "--disable-lcd-text",
    "--disable-partial-raster", "--font-render-hinting=none",
)
INSTALL_HINT = ("shot needs Playwright's Python package and Chromium: pip install -r requirements-dev.txt "
                "(playwright) and apt-get install chromium (or set EXPLORER_CHROMIUM)")
# app.py serves its default page, the explorer, at the app's root ("/?mode=..."); its name in a view
# ("explore?mode=...", as the README and `shot --help` write views) is taken to mean the root.
ROOT_PAGE = "explore"
MEASURED_PREFIX = "measured_"  # keys of the containers of explorer.ui.widgets.measured
MEASURED_LABEL = "measured live"

_VIEW_PATH = re.compile(r"[A-Za-z0-9_\-/]*")
_MOST_PIXELS = 40_000_000  # width × height × scale²: a figure, not a poster (Chromium stops near 16k px a side)


class ShotError(Exception):
    """A view could not be taken: a missing browser, a server that did not start, a page that never settled."""


# ---------------------------------------------------------------------------
# What to take.

@dataclass(frozen=True)
class Shot:
    """A view and how to take it.

    ``view`` is a page path with its query string, as the app's URLs carry
    it; ``width`` × ``height`` the browser's window in CSS pixels; with
    ``full_page`` the window takes the height of the page's content; ``scale`` is
    the device scale factor (2 for a sharper, four-times-larger PNG);
    ``clicks`` are labels of buttons pressed in turn once the page has
    settled (a demo's *Start*), each followed by settling again.

    >>> Shot("jacobian?jac_tab=Curl", width=1200).url("http://127.0.0.1:8501")
    'http://127.0.0.1:8501/jacobian?jac_tab=Curl'
    """

    view: str
    width: int = 1400
    height: int = 1000
    full_page: bool = False
    sidebar: bool = False
    scale: float = 1.0
    clicks: tuple[str, ...] = ()
    animate: bool = False          # the backward pass as an animated GIF/WebP, drawn by the library, no browser
    export: bool = False           # the view as one offline HTML file (explorer.offline), no browser
    fps: float = 1.0               # steps a second of an animation (explorer.animation.DEFAULT_FPS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", self.parse_view(self.view))
        for name, value, least, most in (("width", self.width, 320, 4000), ("height", self.height, 200, 16000)):
            if not isinstance(value, int) or not least <= value <= most:
                raise ValueError(f"--{name} must be a whole number of pixels from {least} to {most}, got {value!r}")
        if not 0.5 <= self.scale <= 4:
            raise ValueError(f"--scale must be from 0.5 to 4, got {self.scale:g}")
        if self.width * self.height * self.scale ** 2 > _MOST_PIXELS:
            raise ValueError(f"{self.width} × {self.height} at scale {self.scale:g} is too many pixels for a figure")
        for label in self.clicks:
            if not label.strip() or len(label) > 200:
                raise ValueError(f"--click needs a button's label, got {label!r}")
        if not 0.05 <= self.fps <= 30:
            raise ValueError(f"--fps must be from 0.05 to 30 steps a second, got {self.fps:g}")
        if self.animate and self.export:
            raise ValueError("--animate or --export, not both")

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The files this shot can be written as: a PNG, an animation as GIF or WebP, or an offline HTML file."""
        return (".gif", ".webp") if self.animate else (".html",) if self.export else (".png",)

    @property
    def drawn_by_library(self) -> bool:
        """An animation or an offline file: made without a server or a browser."""
        return self.animate or self.export

    @staticmethod
    def parse_view(view: str) -> str:
        """``view`` checked and normalised: a page path (letters, digits, ``-``, ``_``, ``/``) and its
        query string, relative to the app; never a scheme, a host or a fragment.

        >>> Shot.parse_view("four-ways?cmp_h=1e-05")
        'four-ways?cmp_h=1e-05'
        >>> Shot.parse_view("http://evil.example/explore")
        Traceback (most recent call last):
        ...
        ValueError: a view is a page path and its query string (explore?f=sin(x)), not 'http://evil.example/explore'
        """
        text = view.strip()
        parts = urllib.parse.urlsplit(text)
        path = parts.path.lstrip("/") if not text.startswith("//") else None
        if (parts.scheme or parts.netloc or parts.fragment or path is None or not _VIEW_PATH.fullmatch(path)
                or any(c in text for c in "\\\r\n\t") or len(text) > 8000):
            raise ValueError(f"a view is a page path and its query string (explore?f=sin(x)), not {view!r}")
        return path + (f"?{parts.query}" if parts.query else "")

    def url(self, base: str) -> str:
        """The view's address on the server at ``base`` (the explorer's at the root).

        >>> Shot("explore?f=sin(x)").url("http://127.0.0.1:8501")
        'http://127.0.0.1:8501/?f=sin(x)'
        """
        path, sep, query = self.view.partition("?")
        return f"{base.rstrip('/')}/{'' if path.strip('/') == ROOT_PAGE else path}{sep}{query}"


def check_base_url(url: str) -> str:
    """``url`` as the address of a running app: http or https, a host, no query or fragment.

    >>> check_base_url("http://127.0.0.1:8501/")
    'http://127.0.0.1:8501'
    >>> check_base_url("file:///etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: --url must be the http:// or https:// address of a running app, not 'file:///etc/passwd'
    """
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise ValueError(f"--url must be the http:// or https:// address of a running app, not {url!r}")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def add_shot_options(parser: argparse.ArgumentParser) -> None:
    """The options of one shot, the same on the command line and on a line of a list of views."""
    parser.add_argument("--width", type=int, default=Shot.width,
                        help=f"the window's width in CSS pixels (default {Shot.width})")
    parser.add_argument("--height", type=int, default=Shot.height,
                        help=f"the window's height (default {Shot.height}); see --full-page")
    parser.add_argument("--full-page", action="store_true",
                        help="the page's whole content, however tall, instead of the window's height")
    parser.add_argument("--sidebar", action="store_true", help="keep the sidebar (hidden by default)")
    parser.add_argument("--scale", type=float, default=Shot.scale,
                        help="device pixels per CSS pixel (default 1; 2 for a sharper figure)")
    parser.add_argument("--click", action="append", default=[], metavar="LABEL",
                        help="press the button labelled LABEL once the page has settled, then let it settle "
                             "again (a demo's Start); repeat for several, in order")
    parser.add_argument("--animate", action="store_true",
                        help="an explorer view's backward pass as an animated .gif or .webp, one frame a step "
                             "(drawn by the library: no server, no browser)")
    parser.add_argument("--fps", type=float, default=Shot.fps,
                        help=f"with --animate: steps a second (default {Shot.fps:g}; the last frame stays 3 times "
                             "as long)")
    parser.add_argument("--export", action="store_true",
                        help="an explorer view as one offline .html file (python -m explorer export); in a list, "
                             "OUT_DIR/NAME.html")


def shot_from_args(view: str, args: argparse.Namespace) -> Shot:
    """A :class:`Shot` of ``view`` with the options of :func:`add_shot_options`."""
    return Shot(view, width=args.width, height=args.height, full_page=args.full_page, sidebar=args.sidebar,
                scale=args.scale, clicks=tuple(args.click), animate=args.animate, fps=args.fps,
                export=getattr(args, "export", False))


class _LineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


def read_list(path: str | os.PathLike) -> list[tuple[str, Shot]]:
    """The figures of a list of views: one ``NAME VIEW [OPTIONS]`` a line, words as a shell splits them
    (quote a view with spaces), ``#`` comments. NAME is the figure's file name without ``.png``.

    >>> import tempfile
    >>> listing = Path(tempfile.mkdtemp()) / "shots.txt"
    >>> _ = listing.write_text("# figures\\ncurl  'jacobian?jac_tab=Curl'  --width 1200\\n")
    >>> [(name, shot.view, shot.width) for name, shot in read_list(listing)]
    [('curl', 'jacobian?jac_tab=Curl', 1200)]
    """
    parser = _LineParser(prog="a line", add_help=False)
    parser.add_argument("name")
    parser.add_argument("view")
    add_shot_options(parser)
    figures: list[tuple[str, Shot]] = []
    names: set[str] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read it ({getattr(err, 'strerror', None) or err})") from None
    for number, line in enumerate(lines, 1):
        try:
            words = shlex.split(line, comments=True)
            if not words:
                continue
            args = parser.parse_args(words)
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", args.name) or args.name in names:
                raise ValueError(f"the name {args.name!r} is not a new plain file name")
            names.add(args.name)
            figures.append((args.name, shot_from_args(args.view, args)))
        except ValueError as err:
            raise ValueError(f"{path}, line {number}: {err}") from None
    return figures


# ---------------------------------------------------------------------------
# Taking it.

# One stylesheet in every document of the page (the graph views are iframes): what changes between two
# takes of the same view, or is not part of the figure, is hidden; a measured value keeps its box.
_STYLE = """
::-webkit-scrollbar { display: none !important; }
* { scrollbar-width: none !important; }
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stSkipToContent"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 2rem !important; padding-bottom: 2rem !important; }
[class*="st-key-%(prefix)s"] { position: relative !important; }
[class*="st-key-%(prefix)s"] > * { visibility: hidden !important; }
[class*="st-key-%(prefix)s"]::after {
  content: "%(label)s"; position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  background: #f0f2f6; border-radius: 0.5rem; color: #808495; font-size: 0.8rem; font-style: italic;
}
""" % {"prefix": MEASURED_PREFIX, "label": MEASURED_LABEL}
_NO_SIDEBAR = """
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] { display: none !important; }
"""
_INJECT = """(css) => {
  const add = () => { const s = document.createElement("style"); s.textContent = css;
                      (document.head || document.documentElement).appendChild(s); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", add); else add();
}"""

# True once Streamlit has run the page's script and drawn all of it, else what it waits for. "Drawn" matters:
# Streamlit loads a widget's code when it first shows one and draws a skeleton meanwhile, after the script has
# finished; a key pressed then reaches no shortcut (seen in tests: → lost in one fresh page of four).
RUN_DRAWN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return "the app to load";
  if (app.getAttribute("data-test-connection-state") !== "CONNECTED") return "the connection to the server";
  if (app.getAttribute("data-test-script-state") !== "notRunning") return "the page's script to finish";
  if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]'))
    return "stale elements and widgets still loading to go";
  return true;
}"""
# True once the page has settled, null on "Page not found", else what it waits for (the message if it never does).
_SETTLED = """() => {
  for (const dialog of document.querySelectorAll('[role="dialog"]'))
    if (dialog.innerText.includes("Page not found")) return null;
  const drawn = (%s)();
  if (drawn !== true) return drawn;
  if (document.querySelector('[data-testid="stSpinner"]')) return "spinners to go";
  const docs = [document];
  for (const frame of document.querySelectorAll("iframe")) {
    const doc = frame.contentDocument;
    if (!doc || doc.readyState !== "complete") return "a frame to load";
    if (doc.querySelector("#view") && !doc.querySelector("#view svg")) return "a graph to be drawn";
    docs.push(doc);
  }
  for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]'))
    if (!chart.querySelector(".marks")) return "a chart to be drawn";
  for (const plot of document.querySelectorAll(".js-plotly-plot"))
    if (!plot.querySelector(".main-svg")) return "a plot to be drawn";
  for (const img of document.images) if (!img.complete) return "an image to load";
  for (const doc of docs) if (doc.fonts.status !== "loaded") return "fonts to load";
  return true;
}""" % RUN_DRAWN
# Where the page's content ends, in CSS pixels from the top of the page (Streamlit scrolls inside its main
# element, which is never shorter than the window: its own height says nothing of the content's).
_CONTENT_HEIGHT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  if (!main || !block) return document.documentElement.scrollHeight;
  return Math.ceil(block.getBoundingClientRect().bottom + main.scrollTop);
}"""


class Camera:
    """Headless Chromium on the app: ``take(shot)`` gives a PNG. A ``with`` block; one server and one
    browser for every view taken in it.

    ``url``: a running app of the user's own (validated by :func:`check_base_url`); by default the app
    is started here on a free port of 127.0.0.1 and stopped at the end. ``timeout``: seconds a view may
    take to settle (a demo's run after ``--click Start`` included).
    """

    def __init__(self, url: str | None = None, *, timeout: float = 180.0, log: Path | None = None):
        self.base = check_base_url(url) if url else None
        self.timeout = timeout
        self.log = log
        self._app: local_app.LocalApp | None = None
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> "Camera":
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise ShotError(INSTALL_HINT) from None
        if not Path(CHROMIUM).exists():
            raise ShotError(f"{CHROMIUM} is missing. {INSTALL_HINT}")
        try:
            if self.base is None:
                self._app = local_app.start(log=self.log)
                self.base = self._app.url
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM,
                                                             args=[*CHROMIUM_ARGS, *SHOT_ARGS])
        except local_app.AppDidNotStart as err:
            self.__exit__(None, None, None)
            raise ShotError(str(err).splitlines()[0]) from None
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
        if self._app is not None:
            self._app.stop()
            self._app = None

    @property
    def browser_version(self) -> str:
        """Chromium's version (it goes into each PNG: figures agree to the pixel within one version)."""
        return self._browser.version

    def take(self, shot: Shot) -> bytes:
        """The PNG of ``shot``, once its page has settled; ShotError if it does not within the timeout."""
        from playwright.sync_api import Error as PlaywrightError

        if self._browser is None:
            raise RuntimeError("Camera.take() outside its with block")
        try:
            return self._take(shot)
        except PlaywrightError as err:  # a server that does not answer, a page that crashed: one line
            raise ShotError(f"{shot.view}: {str(err).strip().splitlines()[0]}") from None

    def _take(self, shot: Shot) -> bytes:
        context = self._browser.new_context(
            viewport={"width": shot.width, "height": shot.height}, device_scale_factor=shot.scale,
            color_scheme="light", reduced_motion="reduce", locale="en-US", timezone_id="UTC")
        try:
            page = context.new_page()
            page.set_default_timeout(self.timeout * 1000)
            css = _STYLE + ("" if shot.sidebar else _NO_SIDEBAR)
            # An init script runs in every document the page opens, iframes included, before its own scripts.
            context.add_init_script(f"({_INJECT})({json.dumps(css)})")
            deadline = time.monotonic() + self.timeout
            page.goto(shot.url(self.base), wait_until="domcontentloaded")
            self._settle(page, deadline)
            for label in shot.clicks:
                self._click(page, label, deadline)
            if shot.full_page:
                self._fit(page, shot, deadline)
            png = self._steady_capture(page, deadline)
        finally:
            context.close()
        return png_with_text(png, {"Software": f"Autograd Explorer shot, Chromium {self.browser_version}",
                                   "Source": shot.view})

    # -- waiting ------------------------------------------------------------

    def _settle(self, page: Any, deadline: float) -> None:
        """Wait for :data:`_SETTLED`, twice a quarter-second apart (a finished script may start a rerun)."""
        waiting = "the page"
        while time.monotonic() < deadline:
            waiting = page.evaluate(_SETTLED)
            if waiting is None:
                raise ShotError(f"{page.url}: the app has no such page (its pages: the paths of app.py's PAGES)")
            if waiting is True:
                page.wait_for_timeout(250)
                waiting = page.evaluate(_SETTLED)
                if waiting is True:
                    return
            page.wait_for_timeout(100)
        raise ShotError(f"{page.url}: still waiting for {waiting} after {self.timeout:g} s")

    def _click(self, page: Any, label: str, deadline: float) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        button = page.get_by_role("button", name=label, exact=True)
        if button.count() == 0:
            raise ShotError(f"{page.url}: no button labelled {label!r} to click")
        button.first.click()
        try:  # the script starts within a moment of the click; a quick one may be over before we look
            page.wait_for_function("() => document.querySelector('[data-testid=\"stApp\"]')"
                                   ".getAttribute('data-test-script-state') !== 'notRunning'", timeout=3000)
        except PlaywrightTimeout:
            pass
        page.mouse.move(0, 0)  # no hover style left on the button, no focus ring
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        self._settle(page, deadline)

    def _fit(self, page: Any, shot: Shot, deadline: float) -> None:
        """Make the window exactly as tall as the page's content, taller or shorter (Streamlit scrolls inside
        its main element, so the browser's own full-page capture would stop at the window)."""
        for _ in range(4):  # charts that stretch may change the height once more
            height = max(200, page.evaluate(_CONTENT_HEIGHT))
            if height == page.viewport_size["height"]:
                return
            if shot.width * height * shot.scale ** 2 > _MOST_PIXELS:
                raise ShotError(f"{page.url}: the page is {height} px tall, too tall for a figure")
            page.set_viewport_size({"width": shot.width, "height": height})
            self._settle(page, deadline)

    def _steady_capture(self, page: Any, deadline: float) -> bytes:
        """Capture until two captures in a row are the same pixels (a chart may still redraw at its size)."""
        last = None
        while time.monotonic() < deadline:
            png = page.screenshot(animations="disabled", caret="hide", scale="device")
            if png == last:
                return png
            last = png
            page.wait_for_timeout(200)
            self._settle(page, deadline)
        raise ShotError(f"{page.url}: the picture kept changing for {self.timeout:g} s")


# ---------------------------------------------------------------------------
# The file.

def png_with_text(png: bytes, text: dict[str, str]) -> bytes:
    """``png`` with ``text`` as tEXt chunks after its header (where a figure came from); the pixels are
    untouched. Latin-1 only, as PNG's tEXt is; other characters become ``?``.

    >>> header = b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + b"IHDR" + bytes(17)
    >>> png_with_text(header, {"Source": "explore"})[33:45]
    b'\\x00\\x00\\x00\\x0etEXtSour'
    """
    signature, header_end = 8, 8 + 4 + 4 + 13 + 4  # the signature, then IHDR: length, type, 13 bytes, CRC
    chunks = b""
    for key, value in text.items():
        data = key.encode("latin-1") + b"\0" + value.encode("latin-1", "replace")
        chunks += struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:header_end] + chunks + png[header_end:] if png[:signature] == b"\x89PNG\r\n\x1a\n" else png


def png_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (see :func:`png_with_text`).

    >>> header = b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + b"IHDR" + bytes(17)
    >>> png_text(png_with_text(header, {"Source": "explore"}))
    {'Source': 'explore'}
    """
    found, at = {}, 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"tEXt":
            key, _, value = png[at + 8:at + 8 + length].partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        at += 12 + length
    return found


def figure_text(data: bytes) -> dict[str, str]:
    """Where a figure came from: a PNG's tEXt chunks, or an animation's comment (``Key: value`` lines).

    >>> figure_text(b"GIF89a")
    {}
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return png_text(data)
    found = re.search(rb'<meta name="source" content="([^"]*)">', data[:4096])
    if found:   # an offline file (explorer.offline): the view's address in the app
        import html

        parts = urllib.parse.urlsplit(html.unescape(found[1].decode("utf-8")))
        return {"Source": Shot.parse_view(parts.path + (f"?{parts.query}" if parts.query else "")),
                "Software": "Autograd Explorer export (explorer.offline)"}
    import io

    from PIL import Image

    try:
        info = Image.open(io.BytesIO(data)).info
    except Exception:   # not an image Pillow reads: it says nothing
        return {}
    comment = info.get("comment") or info.get("xmp") or b""
    text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def request_from_view(view: str) -> "Request":
    """The :class:`explorer.views.Request` an explorer view shows: ``view`` is its page path and query string, as the app's
    URL carries it (``explore?mode=function&f=sin(x)&var_x=4``, or ``?f=...`` for the root page).

    >>> request_from_view("?mode=function&f=x**3%20%2B%202*x**2%20%2B%208*x&var_x=4").inputs
    (('x', '4'),)
    >>> request_from_view("jacobian?jac_tab=Curl")
    Traceback (most recent call last):
    ...
    explorer.expression.ExpressionError: only a view of the explorer page has a backward pass, not 'jacobian'
    """
    from urllib.parse import parse_qsl

    from explorer.expression import ExpressionError
    from explorer.views import INPUT_PREFIX, Request

    path, _, query = Shot.parse_view(view).partition("?")
    if path.strip("/") not in ("", ROOT_PAGE):
        raise ExpressionError(f"only a view of the explorer page has a backward pass, not {path.strip('/')!r}")
    state = dict(parse_qsl(query, keep_blank_values=True))

    def whole(name: str, default: int) -> int:
        text = state.get(name, str(default)).strip()
        if not text.isdigit() or len(text) > 12:
            raise ExpressionError(f"{name} must be a whole number, not {text!r}")
        return int(text)

    if state.get("mode") == "model":
        return Request(seed=whole("seed", 0), model=state.get("model", "mlp"), depth=whole("depth", 8))
    if not state.get("f", "").strip():
        raise ExpressionError("the view names no function: give f=... in its query string")
    inputs = tuple((k[len(INPUT_PREFIX):], v) for k, v in state.items() if k.startswith(INPUT_PREFIX))
    vector = (state.get("v", "ones"), whole("v_index", 0), whole("v_seed", 0), state.get("v_values", ""))
    return Request(state["f"], inputs, whole("seed", 0), state.get("dtype", "float32"), state.get("device", "auto"),
                   vector)


def animation(shot: Shot, fmt: str = "gif") -> bytes:
    """The backward pass of an explorer view as an animated ``fmt`` (:mod:`explorer.animation`), its view in
    its comment. Drawn by the library in this process: no server, no browser."""
    from explorer.animation import Animation
    from explorer.views import exploration

    import PIL

    comment = f"Source: {shot.view}\nSoftware: Autograd Explorer shot --animate, Graphviz and Pillow {PIL.__version__}"
    movie = Animation(exploration(request_from_view(shot.view)), fps=shot.fps, comment=comment)
    return movie.encoded(fmt)


def offline_file(shot: Shot, app: str = "http://localhost:8501") -> bytes:
    """An explorer view as one offline HTML file (:mod:`explorer.offline`), linking to the view on ``app``."""
    from explorer.offline import offline_html
    from explorer.views import exploration

    return offline_html(exploration(request_from_view(shot.view)), link=shot.url(app)).encode("utf-8")


def take_all(figures: Sequence[tuple[Shot, Path]], *, url: str | None = None, timeout: float = 180.0,
             log: Path | None = None, progress=None) -> list[Path]:
    """Take every ``(shot, path)`` with one server and one browser (animations need neither); write each
    file; return the paths.

    ``progress(path, seconds)`` is called after each file is written.
    """
    written = []

    def write(path: Path, data: bytes, start: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
        if progress is not None:
            progress(path, time.monotonic() - start)

    for shot, path in figures:
        if shot.drawn_by_library:
            start = time.monotonic()
            write(path, offline_file(shot) if shot.export else animation(shot, path.suffix.lower().lstrip(".")), start)
    stills = [(shot, path) for shot, path in figures if not shot.drawn_by_library]
    if stills:
        with Camera(url, timeout=timeout, log=log) as camera:
            for shot, path in stills:
                start = time.monotonic()
                write(path, camera.take(shot), start)
    return written
