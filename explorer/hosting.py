"""Serving strangers: one cache of results for every session (the budgets of heavy runs: :mod:`explorer.budgets`).

Every page computes through :func:`call`: the work runs in the sandbox
(:mod:`explorer.sandbox`) and its outcome is kept in :data:`CACHE`, shared by
every session, under a key made of the function and its arguments. What is
kept is what will be the same on a retry: a result, or a refusal of the
input (:class:`~explorer.ExpressionError`). What may pass on a retry (an
overrun under load, a lost worker, a busy server:
:class:`~explorer.sandbox.Unavailable`) and a fault of ours
(:class:`~explorer.sandbox.Failure`, logged with its traceback) are never
kept, so no visitor ever inherits another's bad luck or our bug.

Entries are kept pickled, as the worker sent them: storing costs nothing,
and each read unpickles a fresh copy that no other session shares.

>>> cache = ResultCache(max_bytes=2**20)
>>> call(pow, 2, 10, cache=cache), len(cache)
(1024, 1)
"""
from __future__ import annotations

import collections
import hashlib
import pickle
import threading
import time
from typing import Any, Callable

from explorer.budgets import BUDGETS, Budgets  # noqa: F401 - where the explorer page reads them
from explorer.sandbox import DONE, ITEM, REFUSED, Job, Pool, pool, value


class ResultCache:
    """Pickled outcomes by key, least recently used dropped first past ``max_bytes``, none older than
    ``max_age`` seconds. Thread-safe."""

    def __init__(self, max_bytes: int = 128 * 2**20, max_age: float = 3600.0):
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.entries: collections.OrderedDict[bytes, tuple[float, bytes, bytes]] = collections.OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: bytes) -> tuple[bytes, bytes] | None:
        """``(kind, payload)`` kept under ``key``, or None."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            stored, kind, payload = entry
            if time.monotonic() - stored > self.max_age:
                self._drop(key)
                return None
            self.entries.move_to_end(key)
            return kind, payload

    def put(self, key: bytes, kind: bytes, payload: bytes) -> None:
        """Keep a result (DONE) or a refusal (REFUSED); anything else is refused here, by rule."""
        if kind not in (DONE, REFUSED):
            raise ValueError("only results and refusals of the input are cached")
        if len(payload) > self.max_bytes // 4:  # one huge result would flush everything else
            return
        with self.lock:
            if key in self.entries:
                self._drop(key)
            self.entries[key] = (time.monotonic(), kind, payload)
            self.bytes += len(payload)
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self.entries)))

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes = 0

    def _drop(self, key: bytes) -> None:
        _, _, payload = self.entries.pop(key)
        self.bytes -= len(payload)


CACHE = ResultCache()


def key_of(fn: Callable, args: tuple, kwargs: dict) -> bytes:
    """The cache key of a call: its function's full name and its arguments, pickled and hashed."""
    data = pickle.dumps((fn.__module__, fn.__qualname__, args, sorted(kwargs.items())), protocol=5)
    return hashlib.sha256(data).digest()


def call(fn: Callable[..., Any], /, *args: Any, lane: str = "light", timeout: float | None = None,
         owner: str | None = None, cache: ResultCache | None = CACHE, on_wait: Callable[[Job], None] | None = None,
         sandbox: Pool | None = None, affinity: Any = None, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` computed in the sandbox, or its outcome from ``cache``.

    Returns the result; raises the :class:`~explorer.ExpressionError` that
    refused the input (cached like a result),
    :class:`~explorer.sandbox.Unavailable` or :class:`~explorer.sandbox.Failure`
    (never cached). ``on_wait(job)``
    is called about ten times a second while the job is queued or running:
    a page shows the queue position there, and Streamlit stops a script
    whose visitor has gone, at which point the job is cancelled. ``cache=None``
    computes without the cache; ``affinity`` is passed to
    :meth:`~explorer.sandbox.Pool.submit`.
    """
    key = key_of(fn, args, kwargs) if cache is not None else b""
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        return value(*hit)
    job = (sandbox or pool()).submit(fn, *args, lane=lane, timeout=timeout, owner=owner, affinity=affinity, **kwargs)
    try:
        while True:
            message = job.next(0.1)
            if message is None:
                if on_wait is not None:
                    on_wait(job)
                continue
            kind, payload = message
            if kind == ITEM:   # a mistake in the caller's code, not a refusal of anyone's input
                raise TypeError(f"{fn.__name__} streams its results: use explorer.sandbox.stream")
            if cache is not None and kind in (DONE, REFUSED):
                cache.put(key, kind, payload)
            return value(kind, payload)
    finally:
        job.cancel("nobody waits for it any more")


__all__ = ["CACHE", "ResultCache", "call", "key_of"]
