"""Shared Streamlit widgets: the function editor, the inputs panel, errors, and the graph view.

Other pages import these; their signatures are kept stable:

- :func:`function_editor` ``(key="f", *, label, height, help) -> str``
- :func:`show_error` ``(err, source=None, *, panel=None) -> None``
- :func:`text_block` ``(text) -> None``: monospace text in a box, like ``st.code`` without its highlighter
- :func:`inputs_panel` ``(names, *, key_prefix="var_", default="1", where=None) -> InputsPanel``
- :func:`options_panel` ``(*, key_prefix="") -> Options``
- :func:`row` ``(vertical_alignment="top") -> container``: controls side by side, wrapping where the page is narrow
- :func:`within_bounds` ``(key, least, most, *, name=None, where=None)``: a URL's number out of range, clamped, said
- :func:`fitted_columns` ``(rows) -> column_config``: ``st.dataframe`` columns as wide as their text
- :func:`choice` ``(label, options, *, key, default=None, where=None, help=None) -> str``
- :func:`graph_view` ``(drawing, *, key, file_stem="graph", height=560, focus=None, alt=..., desc=None) -> None``
- :func:`pan_zoom_html` ``(svg, *, focus=None, title=None, desc=None) -> str`` (plain text, from :mod:`explorer.pan_zoom`)
- :func:`measured` ``(key, where=None) -> container`` for a timing (a figure blanks it)

Every widget keeps its value under a fixed session-state key that is bound to
the URL's query string (``bind="query-params"``), so that a link reproduces
what is on screen. Defaults are set through session state (never both a
``value=`` and session state, which Streamlit warns about).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import streamlit as st

from explorer.device import device_choices
from explorer.expression import ExpressionError
from explorer.inputs import DTYPES
from explorer.pan_zoom import pan_zoom_html
from explorer.shots import MEASURED_PREFIX
from explorer.views import DRAWING_TIMEOUT


# ---------------------------------------------------------------------------
# The function and its inputs.

def function_editor(key: str = "f", *, label: str = "Function", height: int = 130,
                    default: str = "x**3 + 2*x**2 + 8*x",
                    help: str | None = None) -> str:
    """A text area for the function, bound to the URL as ``?{key}=...``; returns its text.

    Several lines (or ``;``) name intermediate results; the last line is the output.
    """
    st.session_state.setdefault(key, default)
    return st.text_area(
        label, key=key, height=height, bind="query-params",
        help=help or ("Python-style math: + - * / ** @, sin, exp, log, tanh, relu, sum, dot, mv, "
                      "x[0], XY[:, 1]... Name intermediate results on their own lines "
                      "(w1 = x**2); the last line is the output, a tuple for several outputs."),
        placeholder="e.g. sin(x) * y",
    ) or ""


def error_marker(source: str, line: int | None, column: int | None) -> str | None:
    """The source line an error points at, with a caret under the column (``None`` without a place).

    >>> print(error_marker("x +* 2", 1, 4))
    x +* 2
       ^
    """
    lines = source.splitlines()
    if not line or not column or not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    column = max(1, min(column, len(text) + 1))
    return f"{text}\n{' ' * (column - 1)}^"


@dataclass
class InputsPanel:
    """The inputs panel's specs (name -> text) and the places under each input for its shape or error."""

    specs: dict[str, str]
    _notes: dict = field(default_factory=dict, repr=False)

    def show_shapes(self, shapes: Mapping[str, Sequence[int]]) -> None:
        """Write each input's shape under it, e.g. ``shape (10, 2)``."""
        for name, shape in shapes.items():
            if name in self._notes:
                self._notes[name].caption(f"shape {tuple(shape)}")

    def show_error(self, name: str, message: str) -> bool:
        """Show ``message`` under input ``name``; False when there is no such input."""
        if name not in self._notes:
            return False
        self._notes[name].error(message, icon=":material/error:")
        return True


def inputs_panel(names: Sequence[str], *, key_prefix: str = "var_", default: str = "1", where=None) -> InputsPanel:
    """One text box per free name of the function (bound to ``?{key_prefix}{name}=...``), in ``where`` (a
    container; by default where the page writes).

    A value is a number (``4``), a nested list (``[0.5, 0.75]``) or a
    constructor (``rand(10, 2)``, ``randn(3)``, ``linspace(0, 1, 101)``,
    ``eye(3)``, ``ones(3)``, ``2*pi*rand(10)``). Each box but the last keeps
    a place under it for its shape or error; the last box's goes at the end
    of ``where`` when it is written, which saves a message a run (so nothing
    else may be written to ``where`` after the panel).
    """
    where = where or st
    panel = InputsPanel({})
    if not names:
        where.caption("The function has no inputs.")
    for i, name in enumerate(names):
        key = f"{key_prefix}{name}"
        st.session_state.setdefault(key, default)
        panel.specs[name] = where.text_input(
            f"{name} =", key=key, bind="query-params",
            help="a number (4), a list ([0.5, 0.75]) or a constructor: rand(10, 2), randn(3), "
                 "linspace(0, 1, 101), eye(3), ones(3), 2*pi*rand(10)",
        ) or ""
        panel._notes[name] = where if i == len(names) - 1 else where.empty()
    return panel


@dataclass(frozen=True)
class Options:
    """Seed, dtype and device, as chosen in :func:`options_panel`."""

    seed: int = 0
    dtype: str = "float32"
    device: str = "auto"


def choice(label: str, options: Sequence[str], *, key: str, default: str | None = None, where=None,
           help: str | None = None) -> str:
    """One of a few ``options`` as a row of buttons, bound to ``?{key}=...``; returns the one chosen.

    For two to four short options (dtype, device) a segmented control reads at
    a glance, and it keeps the select box off a page's first load: that one
    brings eight script files (130 kB) that Streamlit fetches when it first
    draws one, on the way to everything else the page shows.
    """
    default = options[0] if default is None else default
    st.session_state.setdefault(key, default)
    if st.session_state[key] not in options:  # e.g. a link made on a machine with a GPU
        st.session_state[key] = default
    return (where or st).segmented_control(label, options, key=key, bind="query-params", required=True,
                                           help=help) or default


def row(vertical_alignment: str = "top"):
    """A row of controls, each as wide as its content, that wraps onto more lines where the page is narrow.

    Columns of fixed shares cut a control off (an ellipsis, or a segmented control's last option) where
    their share is narrower than the control; a row never does (tests/browser/test_audit_browser.py).
    """
    return st.container(horizontal=True, gap="medium", vertical_alignment=vertical_alignment)


def within_bounds(key: str, least: float, most: float, *, name: str | None = None, where=None) -> None:
    """Before the number widget bound to ``?{key}=``: a value in the URL beyond ``[least, most]`` is shown
    at the nearest bound, with a notice that says so ("depth 1000000 is more than the most, 5,000:
    showing 5,000"). Streamlit itself drops such a value without a word and shows the default."""
    raw = st.query_params.get(key)
    try:
        asked = float(raw)
    except (TypeError, ValueError):
        return
    if least <= asked <= most:
        return
    bound, side = (most, "more than the most") if asked > most else (least, "less than the least")
    shown = int(bound) if float(bound).is_integer() else bound
    st.session_state[key] = shown
    (where or st).info(f"{name or key} {raw} is {side}, {shown:,}: showing {shown:,}", icon=":material/info:")


def options_panel(*, key_prefix: str = "") -> Options:
    """Seed, dtype and device widgets in one row (bound to ``?seed=``, ``?dtype=``, ``?device=``)."""
    st.session_state.setdefault(key_prefix + "seed", 0)
    within_bounds(key_prefix + "seed", 0, 2**31 - 1, name="seed")
    line = row()
    seed = line.number_input("seed", min_value=0, max_value=2**31 - 1, step=1, key=key_prefix + "seed",
                            bind="query-params", help="seed of the random constructors (rand, randn)", width=130)
    dtype = choice("dtype", tuple(DTYPES), key=key_prefix + "dtype", where=line)
    device = choice("device", device_choices(), key=key_prefix + "device", where=line,
                    help="auto: CUDA, then Apple MPS, then the CPU")
    return Options(int(seed or 0), dtype, device)


def show_error(err: BaseException, source: str | None = None, *, panel: InputsPanel | None = None) -> None:
    """Show a refusal once: under the input it concerns, or with a caret at its place in the function."""
    message = err.message if isinstance(err, ExpressionError) else str(err)
    if panel is not None:
        name, sep, rest = message.partition(": ")
        if sep and name in panel.specs and panel.show_error(name, f"{name} is not valid: {rest}"):
            return
    st.error(message, icon=":material/error:")
    marker = (error_marker(source, err.line, err.column)
              if source and isinstance(err, ExpressionError) else None)
    if marker:
        text_block(marker)


_TEXT_STYLE = ("font-family:'Source Code Pro',monospace;font-size:14px;line-height:1.6;background:#f6f6f9;"
               "padding:0.75rem 1rem;border-radius:0.5rem;margin:0;white-space:pre-wrap;overflow-wrap:anywhere")


def text_block(text: str) -> None:
    """Monospace text in a box that looks like ``st.code``'s.

    ``st.code`` loads Streamlit's syntax highlighter (1.5 MB of script) with
    the first code block a page shows; numbers and tensors need no
    highlighting, so pages keep ``st.code`` for code only.
    """
    st.html(f'<pre class="explorer-text" style="{_TEXT_STYLE}">{html.escape(text)}</pre>')


_TABLE = "border-collapse:collapse;font-size:14px;margin:0 0 1rem 0;font-variant-numeric:tabular-nums"
_HEAD = "text-align:left;font-weight:600;padding:0.3rem 0.75rem;border-bottom:2px solid #e6e6eb;color:#555"
_CELL = "padding:0.3rem 0.75rem;border-bottom:1px solid #f0f0f3"


def table(rows: Sequence[Mapping[str, object]], where=None) -> None:
    """A small table, one dict a row (the first row's keys are the columns), numbers to six figures.

    ``st.dataframe`` and ``st.table`` load 1 to 1.7 MB of script with a
    page's first table (measured with Chromium on a cold visit); a lab's
    tables have a handful of rows and need neither sorting nor scrolling.
    The node table of the explorer, long and sortable, stays a dataframe.
    """
    columns = list(rows[0]) if rows else []

    def cell(value: object) -> str:
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        align = "right" if isinstance(value, (int, float)) else "left"
        return f'<td style="{_CELL};text-align:{align}">{html.escape(text)}</td>'

    head = "".join(f'<th style="{_HEAD}">{html.escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(cell(row.get(c, "")) for c in columns) + "</tr>" for row in rows)
    # A table wider than a phone scrolls in its own box (focusable, so a keyboard scrolls it too), not the page.
    (where or st).html(f'<div class="explorer-table-box" style="overflow-x:auto" tabindex="0" role="region" '
                       f'aria-label="table"><table class="explorer-table" style="{_TABLE}"><thead><tr>{head}</tr>'
                       f"</thead><tbody>{body}</tbody></table></div>")


def fitted_columns(rows: Sequence[Mapping[str, object]], most: int = 360) -> dict:
    """An ``st.dataframe`` ``column_config`` that makes each column as wide as its longest text (at most
    ``most`` px): the table widget's own widths cut the chain-rule columns of the node table off while
    short columns kept room they did not need.

    >>> fitted_columns([{"op": "MulBackward0", "sent to inputs": "→ x: 8"}])["op"]["width"]
    114
    """
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in (rows[0] if rows else ())}
    return {c: st.column_config.Column(c, width=min(most, 18 + 8 * n)) for c, n in widths.items()}


def chart(svg: str, where=None) -> None:
    """A chart of :mod:`explorer.ui.charts` (SVG drawn by the server, every text in it escaped there).

    Through Markdown's raw HTML, not ``st.html``: that one keeps HTML only
    and drops the SVG. In a ``<div>`` on lines of its own, the chart is an
    HTML block that Markdown passes through unread (no emphasis, no math).
    """
    assert "\n\n" not in svg  # a blank line would end the HTML block
    (where or st).markdown(f'<div class="explorer-chart-box">\n{svg}\n</div>', unsafe_allow_html=True)


# ---------------------------------------------------------------------------
# The graph view: server-side SVG in a pan/zoom frame, with downloads.

@st.cache_data(max_entries=64, ttl=3600, show_spinner="Graphviz is drawing the graph…")
def _drawn(dot: str, fmt: str) -> bytes:
    """The drawing in ``fmt`` (cached); a failure raises, and raising is never cached: it may pass next time."""
    from explorer.export import render

    return render(dot, fmt, timeout=DRAWING_TIMEOUT)


def _png(dot: str) -> bytes:
    return _drawn(dot, "png")


def graph_view(drawing: dict | str, *, key: str, file_stem: str = "graph", height: int = 560,
               focus: str | None = None, alt: str = "Autograd graph", desc: str | None = None) -> None:
    """Show a graph as an SVG drawn by Graphviz, with pan, zoom, fullscreen and downloads.

    ``drawing`` is what :func:`explorer.views.drawing` returns (DOT and its
    SVG, drawn in the sandbox with the rest of the page's answer), or DOT
    alone, then drawn here. The browser never lays out the graph itself (its
    Graphviz stalls at a few thousand nodes); the page only pans and zooms
    the drawing. Downloads, in a menu: SVG, PNG (drawn when asked for) and the DOT source. ``alt`` titles the
    frame and the drawing; ``desc`` describes the drawing (the function and its output).
    """
    if isinstance(drawing, str):
        try:
            drawing = {"dot": drawing, "svg": _drawn(drawing, "svg").decode("utf-8"), "error": None}
        except ValueError as err:
            drawing = {"dot": drawing, "svg": None, "error": str(err)}
    dot = drawing["dot"]
    try:
        if drawing["error"]:
            raise ValueError(drawing["error"])
        svg = drawing["svg"]
        page = pan_zoom_html(svg, focus=focus, title=alt, desc=desc)
    except ValueError as err:
        st.error(f"The graph could not be drawn: {err}", icon=":material/error:")
        st.download_button("DOT", dot, file_name=f"{file_stem}.dot", mime="text/vnd.graphviz", key=f"{key}_dot",
                           on_click="ignore")
        return
    st.iframe(page, height=height, alt=alt)
    # The buttons are made when the menu opens: each is a message, a widget and a stored file on every run
    # of the page, and most runs are a new function that nobody downloads.
    menu = st.popover("Download", icon=":material/download:", key=f"{key}_downloads", on_change="rerun",
                      help="the drawing as SVG or PNG, or its Graphviz source (DOT)")
    if not menu.open:
        return
    menu.download_button("SVG", svg, file_name=f"{file_stem}.svg", mime="image/svg+xml",
                         icon=":material/download:", key=f"{key}_svg", on_click="ignore")
    menu.download_button("PNG", lambda: _png(dot), file_name=f"{file_stem}.png", mime="image/png",
                         icon=":material/download:", key=f"{key}_png", on_click="ignore")
    menu.download_button("DOT", dot, file_name=f"{file_stem}.dot", mime="text/vnd.graphviz",
                         icon=":material/download:", key=f"{key}_dot", on_click="ignore")


# ---------------------------------------------------------------------------
# What a page measures live.

def measured(key: str, where=None):
    """A container for what changes from one run to the next though nothing was asked differently: a
    timing. ``measured("jac_reverse", cols[2]).metric("reverse mode", "0.412 ms")``.

    Its key starts with ``measured_``, which Streamlit writes into the container's class
    (``st-key-measured_jac_reverse``): a figure made by ``python -m explorer shot`` shows a placeholder of
    the same size in its place, so the same view gives the same picture. Keep timings out of tables
    (``st.dataframe`` draws on a canvas, which no stylesheet reaches) and put them in one of these.
    """
    return (where or st).container(key=f"{MEASURED_PREFIX}{key}")
