"""The explorer page: type a function, see the graph autograd builds and everything backward does.

Thin: the library computes, this page lays it out. What the page shows of a
run (the summary, then the open tab: a drawing, the node table, a step, the
vector-Jacobian product) comes from :func:`explorer.views.view`, computed in
the sandbox (a built-in model in the heavy lane) and cached for every
session by :mod:`explorer.ui.runner`, so a rerun that changed nothing does
no work.

The whole state lives in the URL: ``mode`` (function or model), the function
``f``, its inputs ``var_<name>``, ``seed``, ``dtype``, ``device``, the ``v`` of
backward(v) (``v``, ``v_index``, ``v_seed``, ``v_values``), the model
(``model``, ``depth``), the graph options (``attrs``, ``saved``,
``max_nodes``), the ``step`` and the open ``tab``.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
import streamlit as st
import torch
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.expression import ExpressionError, parse
from explorer.format import numbers
from explorer.hosting import BUDGETS
from explorer.presets import Preset, preset
from explorer.ui import history, runner
from explorer.ui.widgets import (
    Options, fitted_columns, function_editor, graph_view, inputs_panel, options_panel, row, show_error, text_block,
    within_bounds,
)
from explorer.views import DEFAULT_MAX_NODES, Request, view
from explorer.vjp import VECTOR_KINDS, VectorChoice

TABS = ("Annotated graph", "torchviz graph", "Node table", "Step through backward",
        "Vector-Jacobian product", "PyTorch code")
MODES = ("function", "model")
DEFAULT_PRESET = "poly"
INPUT_PREFIX = "var_"
MODEL_TIMEOUT = 120.0       # seconds a model's part may take in the heavy lane
PLAY_SECONDS = 1.0          # a step a second while the step-through plays: time to read its chain rule


# ---------------------------------------------------------------------------
# Presets: one click puts a worked example into the page's state (and so into the URL).

def preset_state(p: Preset) -> dict:
    """The session-state values that show preset ``p`` on this page."""
    if p.model:
        return {"mode": "model", "model": p.model, "depth": int(p.model_options.get("depth", 8)), "seed": 0,
                "step": 0, "max_nodes": int(p.model_options.get("max_nodes", DEFAULT_MAX_NODES))}
    state = {"mode": "function", "f": p.source, "seed": 0, "dtype": p.dtype, "device": "auto", "step": 0,
             "v": p.vector.kind, "v_index": 0, "v_seed": 0, "v_values": p.vector.values}
    state.update({f"{INPUT_PREFIX}{name}": spec for name, spec in p.inputs.items()})
    return state


def preset_query(p: Preset) -> dict[str, str]:
    """The query string that opens preset ``p`` on this page (for ``st.page_link``): the URL is the state.

    >>> preset_query(preset("partials"))["f"]
    '(x + y) * (y + 3)'
    """
    keep = ("mode", "f", "seed", "dtype", "device", "v", "model", "depth", "max_nodes")
    state = preset_state(p)
    query = {k: str(v) for k, v in state.items() if k in keep or k.startswith(INPUT_PREFIX)}
    if state.get("v") == "typed":
        query["v_values"] = state["v_values"]
    return query


def _view(request: Request, part: tuple = ("summary",)) -> dict | None:
    """``part`` of the request's view, from the sandbox (cached); None when the server could not compute it
    now (a busy notice is shown). A refusal raises ExpressionError."""
    return runner.result(view, request, part, lane=request.lane, affinity=request,
                         timeout=MODEL_TIMEOUT if request.model else None)


# ---------------------------------------------------------------------------
# The page.

def render() -> None:
    """The explorer page."""
    first_run = "explorer_started" not in st.session_state
    st.session_state["explorer_started"] = True
    ctx = get_script_run_ctx()
    bare = "f" not in st.query_params and "mode" not in st.query_params
    if bare and ctx is not None and ctx.is_history_navigation:
        # Back or forward to a bare URL: Streamlit resets the URL-bound widgets from it, over anything set
        # in this run, so the default preset goes into the URL and the page runs again.
        st.query_params.update(preset_query(preset(DEFAULT_PRESET)))
        st.rerun()
    if bare and first_run:
        # A bare visit shows the default preset, in this very run (a second run would cost a visitor
        # another round trip): its values go to the widgets and the address bar alike.
        st.session_state.update(preset_state(preset(DEFAULT_PRESET)))
        st.query_params.update(preset_query(preset(DEFAULT_PRESET)))
    st.session_state.setdefault("mode", "function")
    title, switch = st.columns([3, 2], vertical_alignment="bottom")
    title.header("Explorer")
    # Options are written into the URL as they are labelled, so the labels are the plain words.
    mode = switch.segmented_control("Explore a", MODES, key="mode", bind="query-params", required=True,
                                    help="a function you type, or a built-in model with a big graph") or "function"
    layout = _layout(mode)
    with layout.tabs[TABS.index(layout.tab)]:   # the fragment's own place; the form above it is reached through
        st.fragment(_body)(mode, layout)         # the layout's containers


@dataclass(frozen=True)
class Layout:
    """The places a whole run of the page makes, and the settings it reads, for the fragment to fill.

    What a new function does not change (the columns, the settings, the tab
    bar) is drawn by whole runs only, and the fragment itself stands in the
    open tab: a typed function's run then sends 15 messages, not 31, and
    each costs the server and the browser a part of a millisecond
    (``python bench/load.py``). Changing a setting or a tab runs the whole
    page.
    """

    form: DeltaGenerator               # the function's column, or the model form's place
    inputs: DeltaGenerator | None      # a typed function's inputs, in the right column
    options: Options | None            # seed, dtype and device of a typed function
    vector: VectorChoice | None
    share: DeltaGenerator              # the Share menu, filled when it is open
    tabs: Sequence[DeltaGenerator]
    tab: str                           # the open one


def _layout(mode: str) -> Layout:
    if mode == "model":
        form = st.container()
        inputs = options = vector = None
    else:
        form, right = st.columns([3, 2], gap="large")
        with right:
            st.markdown("**Inputs**")
            inputs = st.container()
            options = options_panel()
            vector = _vector_panel()
    share = st.popover("Share", icon=":material/share:", key="share", on_change="rerun")
    st.session_state.setdefault("tab", TABS[0])
    tabs = st.tabs(TABS, key="tab", bind="query-params")
    tab = next((name for name, t in zip(TABS, tabs) if t.open), TABS[0])
    return Layout(form, inputs, options, vector, share, tabs, tab)


def _body(mode: str, layout: Layout) -> None:
    """The form's changing parts and the results: a fragment, so that typing a function (or an input) reruns
    this part of the page only, not the app's header, sidebar, navigation, settings and tab bar: a good part
    of the server's work a request (``python bench/load.py --floor --ramp``, the README)."""
    st.session_state["module_controls_shown"] = False   # until the model form shows them in this run
    if mode == "model":
        with layout.form:
            shown = _model_form()
    else:
        shown = _function_form(layout)
    if shown is None:
        st.caption("Nothing to show yet: see the message above.")
    else:
        if layout.share.open:   # filled when opened: most runs are a new function, and nobody sharing it yet
            with layout.share:
                _share(shown[0])
        _tab(*shown, layout.tab)
    history.remember()   # a fragment's run changes the URL too; the app remembers only whole runs


def _summary(request: Request, source: str | None = None, panel=None) -> dict | None:
    """The summary of the request's run, or None with the refusal (or the busy notice) shown.

    For a typed function, with the annotated graph's tab open (a first
    visit's), the graph comes in the same trip to the sandbox: the page's
    parts then reach the browser together, and it draws them in one pass
    instead of two. A model's summary comes first (its drawing takes
    seconds), and so does any summary when the visitor asked for more nodes
    than the default drawing has.
    """
    together = (not request.model and st.session_state.get("tab", TABS[0]) == TABS[0]
                and _level_of_detail().get("max_nodes", DEFAULT_MAX_NODES) <= DEFAULT_MAX_NODES)
    part = _annotated() if together else ("summary",)
    try:
        answer = _view(request, part)
    except ExpressionError as err:
        show_error(err, source, panel=panel)
        return None
    return None if answer is None else answer["summary"]


def _function_form(layout: Layout) -> tuple[Request, dict] | None:
    left = layout.form
    with left:
        lines = str(st.session_state.get("f", "")).count("\n") + 1
        source = function_editor("f", default=preset(DEFAULT_PRESET).source, height=max(110, 28 + 24 * min(lines, 12)))
    try:
        program, parse_error = parse(source), None
    except ExpressionError as err:
        program, parse_error = None, err
    # While the text does not parse, keep the last inputs on screen: their values (and their place in
    # the URL) survive a typo.
    names = program.inputs if program else st.session_state.get("explorer_inputs", ())
    st.session_state["explorer_inputs"] = names
    panel = inputs_panel(names, key_prefix=INPUT_PREFIX, where=layout.inputs)
    with left:
        if parse_error is not None:
            show_error(parse_error, source)
            return None
        for note in program.notes:   # how the text was read: "`t` is an input here, not the function `t()`"
            st.caption(note)
        options, vector = layout.options, layout.vector
        request = Request(source, tuple(panel.specs.items()), options.seed, options.dtype, options.device,
                          (vector.kind, vector.index, vector.seed, vector.values))
        summary = _summary(request, source, panel)
        if summary is None:
            return None
        panel.show_shapes(summary["shapes"])
        _results(summary, request)
    return request, summary


def _vector_panel() -> VectorChoice:
    for name, default in (("v", "ones"), ("v_index", 0), ("v_seed", 0), ("v_values", "")):
        st.session_state.setdefault(name, default)
    kind = st.segmented_control(
        "v of backward(v)", VECTOR_KINDS, key="v", bind="query-params", required=True,
        help="For an output with several elements backward needs a vector v and computes vᵀJ. "
             "Ones sums the rows of the Jacobian J; a one-hot v picks one row.") or "ones"
    if kind == "one-hot":
        index = st.number_input("index of the 1 (over all output elements)", min_value=0, step=1, key="v_index",
                                bind="query-params")
        return VectorChoice("one-hot", index=int(index or 0))
    if kind == "random":
        seed = st.number_input("seed of v", min_value=0, max_value=2**31 - 1, step=1, key="v_seed",
                               bind="query-params")
        return VectorChoice("random", seed=int(seed or 0))
    if kind == "typed":
        values = st.text_input("v =", key="v_values", bind="query-params", placeholder="[1, 0, 2]")
        return VectorChoice("typed", values=values or "")
    return VectorChoice()


def _model_form() -> tuple[Request, dict] | None:
    from explorer.models import ARCHITECTURES, MODELS

    # mlp first: a selectbox's first option is its default, which its URL parameter leaves out.
    choices = {"mlp": (MODELS["mlp"].description, BUDGETS.model_depth),
               **{k: (a.description, a.max_depth) for k, a in ARCHITECTURES.items()},
               **{k: (m.description, BUDGETS.model_depth) for k, m in MODELS.items()}}
    for name, default in (("model", "mlp"), ("depth", 8), ("seed", 0)):
        st.session_state.setdefault(name, default)
    if st.session_state["model"] not in choices:
        st.session_state["model"] = "mlp"
    a, b, c = st.columns(3)
    name = a.selectbox("model", list(choices), key="model", bind="query-params",
                       help="; ".join(f"{m}: {about}" for m, (about, _) in choices.items())) or "mlp"
    most = choices[name][1]
    within_bounds("depth", 1, most)   # a URL's depth beyond this model's: said, and shown at the bound
    if int(st.session_state.get("depth") or 1) > most:   # another model's depth, beyond this one's
        st.session_state["depth"] = most
    depth = b.number_input("layers / blocks / time steps", min_value=1, max_value=most, step=1, key="depth",
                           bind="query-params", help="the transformer's blocks, the ResNet's bottlenecks per "
                                                     "stage, the MLP's layers or the RNN's steps")
    seed = c.number_input("seed", min_value=0, max_value=2**31 - 1, step=1, key="seed", bind="query-params")
    request = Request(seed=int(seed or 0), model=name, depth=int(depth or 1))
    summary = _summary(request)
    if summary is None:
        return None
    text_block("\n".join(summary["lines"]))
    if summary.get("modules"):
        _module_controls(summary["modules"])
        st.caption(f"{summary['nodes']:,} autograd nodes, computed on {summary['device']}, drawn by module: "
                   "modules down to the module depth are frames holding their nodes, deeper ones one box each, "
                   "runs of identical blocks one box (first … last ×N). Click a box, or choose it under "
                   "“open”, to open it.")
    else:
        st.caption(f"{summary['nodes']:,} autograd nodes, computed on {summary['device']}. "
                   f"Large graphs are drawn with level of detail: chains collapse and only the nodes nearest the "
                   f"output are drawn.")
    return request, summary


MODULE_DEPTHS = ("auto", "all", "flat")   # besides the depths themselves


def _module_controls(modules: dict) -> None:
    """The module view's choices, above the tabs (so that every tab's drawing and the URL keep them)."""
    st.session_state["module_controls_shown"] = True
    depths = [MODULE_DEPTHS[0], *map(str, range(modules["depth"] + 1)), *MODULE_DEPTHS[1:]]
    st.session_state.setdefault("modules", "auto")
    if st.session_state["modules"] not in depths:
        st.session_state["modules"] = "auto"
    st.session_state.setdefault("colour", "gradient")
    a, b = st.columns([1, 1])
    a.selectbox("module depth", depths, key="modules", bind="query-params",
                help="auto: the deepest depth whose drawing fits the nodes to draw; all: every node, in nested "
                     "frames; flat: the graph without modules")
    b.segmented_control("colour boxes by", ("gradient", "saved"), key="colour", bind="query-params", required=True,
                        help="the largest gradient a module received, or its share of the bytes saved for "
                             "backward (activation memory)")
    st.multiselect("open", modules["boxes"], key="open", bind="query-params",
                   placeholder="modules or runs of blocks",
                   help="modules and runs of identical blocks to draw opened; a click on a box in the drawing "
                        "adds it here")


def _module_options() -> dict:
    """The module view's options for a drawing, as the controls above the tabs set them in this run."""
    if not st.session_state.get("module_controls_shown"):
        return {}
    depth = st.session_state.get("modules") or "auto"
    return {"modules": None if depth == "all" else depth if depth in MODULE_DEPTHS else int(depth),
            "opened": tuple(st.session_state.get("open") or ()),
            "colour": st.session_state.get("colour") or "gradient"}


def _results(summary: dict, request: Request) -> None:
    text_block("\n".join(summary["lines"]))
    how = ("backward() of the output." if summary["scalar"] and request.choice == VectorChoice() else
           f"backward(v) with {request.choice.describe()}.")
    st.caption(f"Computed on {summary['device']} in {summary['dtype']}; {how} "
               f"{summary['nodes']} autograd nodes.")
    if summary["preset"] is not None:
        key, (agree, lines) = summary["preset"]
        p = preset(key)
        verdict = f"ours agree to within {p.expected.atol:g}" if agree else "ours DIFFER"
        with st.container(border=True, key="seed_note"):
            st.markdown(f"**{p.title}** · {p.reference} · the seed prints ({verdict}):")
            text_block("\n".join(lines))
            st.caption(p.description)


# ---------------------------------------------------------------------------
# The tabs.

def _level_of_detail() -> dict:
    """How many nodes a drawing shows before chains collapse (only large graphs offer the choice), and for a
    model, how its modules are drawn."""
    chosen = int(st.session_state.get("max_nodes") or DEFAULT_MAX_NODES)
    modules = _module_options()
    if modules and chosen == DEFAULT_MAX_NODES:   # the module view's own default: a readable number of boxes
        return modules
    return {"max_nodes": chosen, **modules}


def _annotated() -> tuple:
    """The part of the view that holds the annotated graph."""
    return ("graph", "annotated", tuple(_level_of_detail().items()))


def _graph_options(nodes: int) -> dict:
    """Level-of-detail options, with the choice of how many nodes to draw for large graphs."""
    if nodes > DEFAULT_MAX_NODES:
        st.session_state.setdefault("max_nodes", DEFAULT_MAX_NODES)
        within_bounds("max_nodes", 20, 2000, name="nodes to draw")
        st.number_input(f"nodes to draw (of {nodes:,}; chains are collapsed)", min_value=20, max_value=2000,
                        step=50, key="max_nodes", bind="query-params",
                        help="Graphviz lays out a few hundred nodes in a second or two; thousands take long")
    return _level_of_detail()


def _start(summary: dict) -> str | None:
    """Where a large drawing opens: at the output, readable (Fit shows the whole of it)."""
    if summary["nodes"] <= DEFAULT_MAX_NODES or not summary["outputs"]:
        return None
    return str(summary["outputs"][0])


def _part(request: Request, part: tuple) -> dict | None:
    """One tab's part of the view; None (with the refusal or the busy notice shown) when there is none."""
    try:
        answer = _view(request, part)
    except ExpressionError as err:
        show_error(err, request.source or None)
        return None
    return None if answer is None else answer[part[0]]


def _describe(request: Request, summary: dict) -> str:
    """What a drawing shows, for a screen reader: the function (or model) and what it computed."""
    what = f"f = {request.source}" if not request.model else f"{request.model} of depth {request.depth}"
    return f"{what}; " + "; ".join(summary["lines"])


def _tab(request: Request, summary: dict, tab: str) -> None:
    """The open tab's contents (the others are drawn when opened: a tab is a whole run of the page)."""
    desc = _describe(request, summary)
    if tab == TABS[0]:
        _graph_options(summary["nodes"])
        drawing = _part(request, _annotated())
        if drawing is not None:
            graph_view(drawing, key="annotated", file_stem="autograd_annotated", alt="Annotated autograd graph",
                       focus=_start(summary), desc=desc)
        st.caption("Each box: the user's name and operation, the forward value and the gradient received in "
                   "backward; the fill shows the size of that gradient. Leaves are blue ellipses, outputs "
                   "have a double border; each edge says what flowed back along it.")
    elif tab == TABS[1]:
        for name in ("attrs", "saved"):
            st.session_state.setdefault(name, False)
        line = row()  # columns cut the toggles' names off beside the sidebar
        show_attrs = line.toggle("show_attrs", key="attrs", bind="query-params",
                                 help="the attributes each backward node keeps (exponents, dims, ...)")
        show_saved = line.toggle("show_saved", key="saved", bind="query-params",
                                 help="the tensors saved for backward")
        with line:
            options = _graph_options(summary["nodes"])
        options.update(show_attrs=bool(show_attrs), show_saved=bool(show_saved))
        drawing = _part(request, ("graph", "torchviz", tuple(options.items())))
        if drawing is not None:
            graph_view(drawing, key="torchviz", file_stem="autograd_torchviz", alt="torchviz graph",
                       focus=_start(summary), desc=desc)
        st.caption("torchviz.make_dot of the outputs, as PyTorch users know it: blue leaves, grey backward "
                   "operations, the green output; orange saved tensors with show_saved.")
    elif tab == TABS[2]:
        table = _part(request, ("table",))
        if table is not None:
            st.dataframe(table["rows"], hide_index=True, width="stretch", key="node_table",
                         column_config=fitted_columns(table["rows"]))
            if table["adds_up"]:
                st.caption("The numbers add up: every gradient received is the sum of what the node's "
                           "consumers sent it, and each send is the gradient received times the local "
                           "derivative.")
            else:
                st.warning("A gradient received differs from the sum of what its consumers sent.")
    elif tab == TABS[3]:
        _step_through(request, summary)
    elif tab == TABS[4]:
        if request.model:
            st.info("The model's loss is a scalar: backward() needs no v. Type a function with a vector "
                    "output to see vector-Jacobian products.")
        else:
            _vjp(request)
    elif request.model:
        st.info("Copy as PyTorch code writes typed functions; the models' code is explorer/models.py.")
    else:
        _code(request, summary)


def _step_through(request: Request, summary: dict) -> None:
    last = summary["nodes"] - 1
    st.session_state.setdefault("step", 0)
    within_bounds("step", 0, last)
    if not 0 <= int(st.session_state["step"] or 0) <= last:
        st.session_state["step"] = 0
    # Stepping and playing rerun this fragment only, never the whole page; while playing it reruns itself
    # every PLAY_SECONDS (a timer Streamlit sets when a whole run declares it: Play and the end of the
    # play each cost one run of the page, the steps none).
    playing = bool(st.session_state.get("step_playing"))
    st.fragment(_stepper, run_every=PLAY_SECONDS if playing else None)(request, last, _describe(request, summary))


def _stepper(request: Request, last: int, desc: str) -> None:
    """The step-through: ◀/▶ (and the ←/→ keys), Play/Pause (K), the step, its chain rule and graph."""
    step = int(st.session_state.get("step") or 0)
    playing = bool(st.session_state.get("step_playing"))
    if playing and time.monotonic() - st.session_state.get("step_played_at", 0.0) >= PLAY_SECONDS * 0.8:
        step = st.session_state["step"] = min(last, step + 1)   # a timer's rerun, not a click's: move on
        st.session_state["step_played_at"] = time.monotonic()

    def move(delta: int) -> None:
        st.session_state["step"] = min(last, max(0, int(st.session_state.get("step") or 0) + delta))

    def play() -> None:
        if not playing and int(st.session_state.get("step") or 0) >= last:
            st.session_state["step"] = 0      # Play at the end plays again from the start
        st.session_state["step_playing"] = not playing
        st.session_state["step_played_at"] = time.monotonic()

    line = row(vertical_alignment="bottom")  # columns cut "◀ Previous" off beside the sidebar
    line.button("◀ Previous", on_click=move, args=(-1,), disabled=step <= 0, width="stretch", key="step_prev",
                shortcut="Left")
    if line.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                     on_click=play, width="stretch", key="step_play", shortcut="K",
                     help=f"one step every {PLAY_SECONDS:g} s; ← and → step by hand"):
        st.rerun()   # the whole page once, so that the play timer starts (or stops)
    line.button("Next ▶", on_click=move, args=(1,), disabled=step >= last, width="stretch", key="step_next",
               shortcut="Right")
    step = int(line.number_input(f"step (0 to {last}, in the order PyTorch's engine runs the nodes)",
                                  min_value=0, max_value=last, step=1, key="step", bind="query-params") or 0)
    if playing and step >= last:
        st.session_state["step_playing"] = False
    shown = _part(request, ("steps", step, tuple(_level_of_detail().items())))
    if shown is not None:
        st.markdown(f"**Step {step} of {last}: {shown['heading']}**")
        text_block(shown["text"])
        graph_view(shown["graph"], key="step", file_stem=f"autograd_step_{step}", focus=str(shown["node"]),
                   alt="Autograd graph at this step", desc=desc)
    if playing and not st.session_state["step_playing"]:
        st.rerun()   # the last step is shown: the whole page once more, without the play timer


def view_url() -> str:
    """This view's address: the page's URL and its query string (the page's whole state)."""
    from urllib.parse import quote, urlencode

    query = urlencode(st.query_params.to_dict(), quote_via=quote, safe="*()[],")
    return f"{st.context.url or ''}" + (f"?{query}" if query else "")


def embed_snippet(url: str) -> str:
    """The ``<iframe>`` that shows the view at ``url`` in another page: sidebar closed, app chrome hidden."""
    sep = "&" if "?" in url else "?"
    return (f'<iframe src="{url}{sep}embed=true" width="100%" height="900" style="border: 0" '
            f'title="Autograd Explorer" loading="lazy"></iframe>')


def _share(request: Request) -> None:
    """The Share menu: the view's URL, its <iframe> snippet, and the view as one offline HTML file."""
    url = view_url()
    st.caption("The link opens this very view (the URL holds the page's whole state):")
    st.code(url, language=None, wrap_lines=True)
    st.caption("Embed it in a page (the sidebar starts closed; fits a frame 700 to 1000 px wide):")
    st.code(embed_snippet(url), language="html", wrap_lines=True)

    def offline() -> str:   # made when the button is pressed, in the sandbox like every part
        answer = _view(request, ("offline", url))
        return answer["offline"] if answer else "The server is busy: try again in a moment."

    st.download_button("Offline view (.html)", offline, file_name="autograd_view.html", mime="text/html",
                       icon=":material/download:", key="download_offline", on_click="ignore",
                       help="one file: the graph (pan, zoom), the node table, derivatives on click; it opens "
                            "from disk with no server and no network")


def _vjp(request: Request) -> None:
    answer = _part(request, ("vjp",))
    if answer is None:
        return
    vj, grads, same = answer["vj"], answer["grads"], answer["same"]
    total = vj.v.numel()
    shapes = ", ".join(str(s) for s in vj.output_shapes)
    st.markdown(f"The output{'s have shapes' if len(vj.output_shapes) > 1 else ' has shape'} {shapes}: "
                f"{total} element{'s' if total != 1 else ''} in all. `backward(v)` computes **vᵀJ** without "
                f"ever building J; here {request.choice.describe()} (choose v on the right).")
    st.markdown("**What PyTorch says when v is missing** (`backward()` with no argument):")
    if vj.implicit_error:
        text_block(f"RuntimeError: {vj.implicit_error}")
    else:
        text_block("(nothing: every output has one element, so PyTorch takes v = 1 itself)")
    # the smallest Jacobians first: they are the readable ones
    for name, shape in sorted(vj.input_shapes.items(), key=lambda item: torch.Size(item[1]).numel()):
        jac = vj.jacobians.get(name)
        st.markdown(f"**Input {name}**, shape {shape}")
        if jac is None:
            st.caption(f"J is too large to show ({total} x {torch.Size(shape).numel()}); backward(v) gives vᵀJ "
                       f"all the same:")
            text_block(f"{name}.grad = {grads[name]!s}")
            continue
        j_col, v_col = st.columns([5, 1])
        with j_col:
            st.caption(f"J = ∂(outputs)/∂{name}: {jac.shape[0]} x {jac.shape[1]}")
            st.dataframe(_matrix_frame(jac, rows="y", cols=name), width="stretch", key=f"jacobian_{name}")
        with v_col:
            st.caption("v")
            st.dataframe(_matrix_frame(vj.v.reshape(-1, 1), rows="y", cols="v"), width="stretch",
                         key=f"v_{name}")
        text_block(f"vᵀJ         = {numbers(vj.products[name], None, ', ')}\n"
                   f"backward(v) = {numbers(grads[name], None, ', ')}   "
                   f"({'the same' if same[name] else 'NOT the same'})")


def _matrix_frame(matrix: torch.Tensor, *, rows: str, cols: str):
    import pandas as pd

    data = matrix.detach().double().numpy()
    columns = [cols] if cols == "v" else [f"{cols}[{j}]" for j in range(data.shape[1])]
    return pd.DataFrame(data, index=[f"{rows}[{i}]" for i in range(data.shape[0])], columns=columns)


def _code(request: Request, summary: dict) -> None:
    from explorer.codegen import pytorch_script

    v = summary["v"]
    script = pytorch_script(request.source, dict(request.inputs), seed=request.seed, dtype=request.dtype,
                            device=summary["device"].split(":")[0], v=None if v is None else v[0] if len(v) == 1 else v)
    st.caption("The plain PyTorch script that reproduces the numbers above (copy button at its top right).")
    st.code(script, language="python")
    st.download_button("Download the script", script, file_name="autograd_explorer.py", mime="text/x-python",
                       icon=":material/download:", key="download_script", on_click="ignore")


__all__ = ["preset_query", "preset_state", "render"]
