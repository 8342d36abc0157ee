"""Autograd Explorer: ``streamlit run app.py``.

The shell: page navigation, the header that says which device computes, and
the worked examples of the seeds in the sidebar. Each page is a module of
``explorer/ui`` with a ``render()`` function; a page whose module is not
there (yet) is left out rather than breaking the app.

This file is read twice. ``streamlit run app.py`` finds the ``app`` below (an
``st.App``) and serves it, so that the server starts its sandbox workers and
imports the pages before it accepts its first visitor: the first visit does
not wait for torch to import. Each visitor's session then runs this file as
its script (``__name__ == "__main__"``), which draws the page.
"""
from __future__ import annotations

import functools

# (module, url_path, title, icon): fixed names only, never names taken from a request.
PAGES = (
    ("explorer.ui.explorer_page", "explore", "Explorer", ":material/account_tree:"),
    ("explorer.ui.jacobian_page", "jacobian", "Jacobians & VJP lab", ":material/grid_on:"),
    ("explorer.ui.higher_order_page", "higher-order", "Higher order", ":material/functions:"),
    ("explorer.ui.compare_page", "four-ways", "Four ways to a derivative", ":material/compare:"),
    ("explorer.ui.mechanics_page", "mechanics", "Autograd mechanics", ":material/settings:"),
    ("explorer.ui.regression_page", "regression", "SGD regression", ":material/show_chart:"),
    ("explorer.ui.tsne_page", "tsne", "t-SNE", ":material/scatter_plot:"),
)
LIVE_PAGES = ("regression", "tsne")  # pages whose runs stream: nothing in the shell reruns them


def warm_server() -> None:
    """Import every page (torch, Plotly, pandas...) and start the sandbox's workers; wait for one to be ready."""
    import importlib

    from explorer.sandbox import pool

    for module_name, *_ in PAGES:
        importlib.import_module(module_name)
    pool().start(wait=120)


def pages() -> dict:
    """The app's pages by URL path, as ``st.Page`` s: every page of ``PAGES`` whose module imports here."""
    import importlib
    import importlib.util

    import streamlit as st

    found = {}
    for module_name, url_path, title, icon in PAGES:
        if importlib.util.find_spec(module_name) is None:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a page whose own dependencies are missing: leave it out, keep the app up
            continue
        found[url_path] = st.Page(module.render, title=title, icon=icon, url_path=url_path,
                                  default=url_path == "explore")
    return found


def sidebar_presets(pages: dict, current: str) -> None:
    """Every worked example as a link: the link's query string is the whole state of the view.

    Bare links: a help tooltip on each of the ~30 links made a cold visit
    slower in the browser; the explorer shows a preset's description once it
    is open. Every seed starts closed, and a closed seed's links are not sent
    at all (Streamlit draws a closed expander's content too): opening one
    reruns the page, which then lists them. Seed 001's six links are open on
    arrival; its default example is on the page anyway. (What each choice
    cost a cold visit: the README, measured with ``bench/app_latency.py``.)
    Not on the live demos' pages: a rerun would stop a run that is streaming.
    The groups and their links are worked out once (:func:`preset_links`):
    this runs on every rerun of every page.
    """
    import streamlit as st

    with st.sidebar:
        st.markdown("**Worked examples** of the seed documents")
        lazy = current not in LIVE_PAGES
        for label, key, links in preset_links():
            group = st.expander(label, **(dict(key=key, on_change="rerun") if lazy else {}))
            if lazy and not group.open:
                continue
            for title, page, query in links:
                if page in pages:   # a demo's example opens the demo
                    group.page_link(pages[page], label=title, **({"query_params": query} if query else {}))


@functools.cache
def preset_links() -> tuple[tuple[str, str, tuple[tuple[str, str, dict | None], ...]], ...]:
    """The sidebar's groups, as ``(label, expander key, links)``, each link ``(title, page's url path, query
    or None)``: the same for every run, so made once."""
    from explorer.presets import MODEL_PRESETS, PRESETS, SEEDS
    from explorer.ui.explorer_page import preset_query

    groups = [(f"Seed {seed}", f"seed_{seed}", tuple(
        (p.title, "explore", preset_query(p)) if p.explorable else (p.title, p.page, None)
        for p in PRESETS if p.seed == seed)) for seed in SEEDS]
    groups.append(("Big graphs", "seed_models", tuple((p.title, "explore", preset_query(p)) for p in MODEL_PRESETS)))
    return tuple(groups)


def main() -> None:
    import streamlit as st

    from explorer.device import best_device, describe_device
    from explorer.ui import history

    # Embedded in another page (?embed=true, the share control's <iframe>): the sidebar starts closed, so that
    # the view has the frame's whole width.
    st.set_page_config(page_title="Autograd Explorer", page_icon=":material/account_tree:", layout="wide",
                       initial_sidebar_state="collapsed" if st.context.is_embedded else "auto")
    found = pages()
    navigation = st.navigation(list(found.values()))
    st.markdown(f"**Autograd Explorer** · see what PyTorch's autograd builds and computes · "
                f"computing on **{describe_device(best_device())}**")
    sidebar_presets(found, navigation.url_path)
    history.restore()
    navigation.run()
    history.remember()


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run app.py` to be served
    from contextlib import asynccontextmanager

    import streamlit as st

    @asynccontextmanager
    async def _lifespan(_app):
        import anyio

        await anyio.to_thread.run_sync(warm_server)  # before the server takes its first visitor
        yield
        from explorer.sandbox import pool

        pool().close()

    async def _sandbox_status(_request):
        """Workers ready and busy, and jobs queued, per lane, and which server process answers: for monitoring,
        for tests of cancellation, and to see which replica a proxy chose."""
        import os

        from starlette.responses import JSONResponse

        from explorer.sandbox import pool

        return JSONResponse({**pool().status(), "pid": os.getpid()})

    from starlette.routing import Route

    from explorer.ui import shell

    # Each page's HTML names the scripts its elements need, so that the browser fetches them at once.
    routes = [Route("/sandbox-status", _sandbox_status), *shell.routes([path for _, path, *_ in PAGES], "explore")]
    app = st.App(__file__, lifespan=_lifespan, routes=routes)
