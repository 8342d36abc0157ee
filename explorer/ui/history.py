"""A page's state for the browser's Back and Forward buttons.

Streamlit's history entry of a page keeps no query string: going back to
the explorer from another page reset every URL-bound widget to its empty
default ("the function is empty"). So each run of a page (a fragment's run
too: typing a function reruns only the explorer's fragment) remembers the
page's state as its URL holds it, and a history navigation to an entry
without a query string brings that state back.
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

KEY = "explorer_history"


def _page() -> str:
    """The running page, as a whole run (after ``st.navigation``) and a fragment's run both know it."""
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def restore() -> None:
    """Back or forward to an entry that kept no query string: bring the page back as this session left it.

    The values this session last had on the page are set again, and the page
    reruns with them (the URL follows). Call it after ``st.navigation``.
    """
    ctx = get_script_run_ctx()
    saved = st.session_state.get(KEY, {}).get(_page())
    if ctx is not None and ctx.is_history_navigation and not st.query_params and saved:
        for key, value in saved.items():
            st.session_state[key] = value
        st.rerun()


def remember() -> None:
    """The page's state as its URL holds it, typed as the widgets hold it, for :func:`restore`."""
    st.session_state.setdefault(KEY, {})[_page()] = {
        key: st.session_state[key] for key in st.query_params if key in st.session_state}
