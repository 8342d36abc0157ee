"""Autograd Explorer: ``streamlit run app.py``.

The shell: page navigation, the header that says which device computes, and
the worked examples of the seeds in the sidebar. Each page is a module of
``explorer/ui`` with a ``render()`` function; a page whose module is not
there (yet) is left out rather than breaking the app.

Imports live inside the functions: the sandbox's worker processes are
spawned, and spawning imports this file again (as ``__mp_main__``); there it
must cost nothing and start nothing.
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


def _warm_sandbox() -> None:
    """Start a sandbox worker once per server, so that the first visitor does not wait for torch."""
    import streamlit as st

    @st.cache_resource(show_spinner=False)
    def warm() -> bool:
        from explorer.sandbox import warm_up

        warm_up()
        return True

    warm()


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
    _warm_sandbox()
    pages = _pages()
    navigation = st.navigation(list(pages.values()))
    st.markdown(f"**Autograd Explorer** · see what PyTorch's autograd builds and computes · "
                f"computing on **{describe_device(best_device())}**")
    _sidebar_presets(pages)
    navigation.run()


if __name__ == "__main__":
    main()
