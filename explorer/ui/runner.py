"""Every page computes through here: in the sandbox, cached for every session, its wait shown.

:func:`result` is one call (:func:`explorer.hosting.call`), :func:`stream`
one live run. While they wait, the page shows the queue position, and each
tenth of a second gives Streamlit a chance to stop the script: a visitor who
reruns, opens another page, presses Stop or closes the tab stops the script
there, and that cancels the job. A server too busy to take the work now says
so and retries a few times; an overrun offers a Retry button. Neither is
remembered: the next try computes afresh. A fault of ours
(:class:`~explorer.sandbox.Failure`, its traceback in the server's log) is
shown as a short apology, with no details.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.expression import ExpressionError
from explorer.hosting import call, key_of
from explorer.sandbox import Failure, Job, Unavailable, pool
from explorer.sandbox import stream as job_stream

RETRIES = 3           # automatic retries when the server is busy (a full queue, an owner's budget)
RETRY_WITHIN = 5.0    # seconds: a busy server that asks for a longer wait is not retried automatically
SHOW_AFTER = 0.4      # seconds of computing before "computing…" appears (most answers come sooner)


def owner() -> str | None:
    """This session's id: each session has one job per lane and its own budget of computing."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def checkpoint() -> None:
    """Let Streamlit stop or rerun this script here if the visitor has moved on (it raises if so)."""
    _ = "explorer_checkpoint" in st.session_state


def _waiting(status, computing: bool = True) -> Callable[[Job], None]:
    """What a waiting call does ten times a second: a checkpoint, and the queue position when it changes
    (and, with ``computing``, that it computes, once that takes a while)."""
    shown: list[str | None] = [None]
    since = time.monotonic()

    def on_wait(job: Job) -> None:
        checkpoint()
        position = job.position
        if position:
            text = f"Waiting for a free worker: number {position} in the queue"
        elif computing and time.monotonic() - since > SHOW_AFTER:
            text = "Computing…"
        elif shown[0] is not None and not computing:
            shown[0] = None
            status.empty()
            return
        else:
            return
        if text != shown[0]:
            shown[0] = text
            status.caption(f":material/hourglass_top: {text}")

    return on_wait


class _Status:
    """A placeholder made where the page stands when something is first shown in it: most answers come before
    anything is, and an element that is never used is still one more message for every run to send."""

    def __init__(self):
        self.slot = None

    def __getattr__(self, name: str):   # caption, warning...: made on first use
        if self.slot is None:
            self.slot = st.empty()
        return getattr(self.slot, name)

    def empty(self) -> None:
        if self.slot is not None:
            self.slot.empty()


def _pause(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        checkpoint()
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def busy_notice(err: Unavailable, key: str) -> None:
    """Say that the work could not be done now, and offer to try again (nothing was remembered)."""
    st.warning(f"Not computed now: {err.message}. This is not remembered: try again.", icon=":material/schedule:")
    st.button("Retry", key=key, icon=":material/refresh:")


def apology(err: Failure) -> None:
    """Say that something went wrong on our side: its details are in the server's log, not on the page."""
    st.error(err.message, icon=":material/sentiment_dissatisfied:")


@contextlib.contextmanager
def reported(retry_key: str) -> Iterator[None]:
    """Show why a live run ended without a result, where the page stands: the refusal of its settings, a busy
    notice with Retry (``retry_key``), or the apology; the page's code after the run inside is then skipped::

        with reported("demo_retry"):
            for item in stream(live, ...):
                draw(item)
            state["done"] = True
    """
    try:
        yield
    except ExpressionError as err:
        st.error(err.message, icon=":material/error:")
    except Unavailable as err:
        busy_notice(err, key=retry_key)
    except Failure as err:
        apology(err)


def result(fn: Callable[..., Any], /, *args: Any, lane: str = "light", timeout: float | None = None,
           affinity: Any = None, **kwargs: Any) -> Any | None:
    """``fn(*args, **kwargs)`` computed in the sandbox for every session (cached), with the wait shown.

    Returns the result, or None when the server could not compute it now
    (the page then shows a busy notice with a Retry button) or our code
    failed (the page then shows an apology). A refusal of the input raises
    :class:`~explorer.ExpressionError`, for the page to show where it belongs.
    """
    status = _Status()
    try:
        for attempt in range(RETRIES + 1):
            try:
                return call(fn, *args, lane=lane, timeout=timeout, owner=owner(), on_wait=_waiting(status),
                            affinity=affinity, **kwargs)
            except Unavailable as err:
                patient = err.retry_after is not None and err.retry_after <= RETRY_WITHIN
                if not patient or attempt == RETRIES:
                    status.empty()
                    busy_notice(err, key=f"retry_{key_of(fn, args, kwargs).hex()[:16]}")
                    return None
                status.warning(f"The server is busy: retrying ({attempt + 1} of {RETRIES})…",
                               icon=":material/schedule:")
                _pause(err.retry_after * (attempt + 1))
            except Failure as err:
                status.empty()
                apology(err)
                return None
    finally:
        status.empty()
    return None


def stream(fn: Callable[..., Any], /, *args: Any, timeout: float, status=None, **kwargs: Any) -> Iterator[Any]:
    """The items of ``fn(*args, **kwargs)``'s generator, run in the heavy lane, as they come.

    While the run waits for a worker, ``status`` (a placeholder) shows its
    place in the queue. Raises :class:`~explorer.sandbox.Unavailable` when
    the server will not take the run now, the refusal of the run's settings
    (its budget included) as an :class:`~explorer.ExpressionError`, and a
    fault of ours as a :class:`~explorer.sandbox.Failure`: :func:`reported`
    shows each. Stopping the iteration (the script stopped, a Stop button)
    cancels the run.
    """
    job = pool().submit(fn, *args, lane="heavy", timeout=timeout, owner=owner(), **kwargs)
    on_wait = _waiting(status if status is not None else st.empty(), computing=False)
    try:
        for item in job_stream(job):
            if item is None:
                on_wait(job)
                continue
            yield item
    finally:
        job.cancel("nobody watches it any more")


__all__ = ["apology", "busy_notice", "checkpoint", "owner", "reported", "result", "stream"]
