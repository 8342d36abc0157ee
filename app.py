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


def warm_server() -> None:
    """Import every page (torch, Plotly, pandas...) and start the sandbox's workers; wait for one to be ready."""
    import importlib

    from explorer.sandbox import pool

    for module_name, *_ in PAGES:
        importlib.import_module(module_name)
    pool().start(wait=120)


def _pages() -> dict:
    import importlib
    import importlib.util

    import streamlit as st

    pages = {}
    for module_name, url_path, title, icon in PAGES:
        if importlib.util.find_spec(module_name) is None:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a page whose own dependencies are missing: leave it out, keep the app up
            continue
        pages[url_path] = st.Page(module.render, title=title, icon=icon, url_path=url_path,
                                  default=url_path == "explore")
    return pages


def _sidebar_presets(pages: dict) -> None:
    """Every worked example as a link: the link's query string is the whole state of the view."""
    import importlib.util

    import streamlit as st

    from explorer.presets import MODEL_PRESETS, PRESETS, SEEDS
    from explorer.ui.explorer_page import preset_query

    explore = pages["explore"]
    with st.sidebar:
        st.subheader("Worked examples")
        st.caption("Every example of the seed documents, with the numbers they print.")
        for seed, about in SEEDS.items():
            with st.expander(f"Seed {seed}", expanded=seed == "001"):
                st.caption(about)
                for preset in (p for p in PRESETS if p.seed == seed):
                    if preset.explorable:
                        st.page_link(explore, label=preset.title, query_params=preset_query(preset),
                                     help=preset.description, icon=":material/function:")
                    if preset.page != "explore" and preset.page in pages:
                        target = pages[preset.page]
                        st.page_link(target, label=target.title, help=f"{preset.title}: {preset.description}",
                                     icon=":material/arrow_forward:")
        if importlib.util.find_spec("explorer.models") is not None:
            with st.expander("Big graphs"):
                for preset in MODEL_PRESETS:
                    st.page_link(explore, label=preset.title, query_params=preset_query(preset),
                                 help=preset.description, icon=":material/hub:")


def main() -> None:
    import streamlit as st

    from explorer.device import best_device, describe_device

    st.set_page_config(page_title="Autograd Explorer", page_icon=":material/account_tree:", layout="wide")
    pages = _pages()
    navigation = st.navigation(list(pages.values()))
    st.markdown(f"**Autograd Explorer** · see what PyTorch's autograd builds and computes · "
                f"computing on **{describe_device(best_device())}**")
    _sidebar_presets(pages)
    navigation.run()


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

    app = st.App(__file__, lifespan=_lifespan)
