"""Serving strangers: one cache of results for every session, and the budgets of heavy runs.

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
from dataclasses import dataclass
from typing import Any, Callable

from explorer.expression import ExpressionError
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


# ---------------------------------------------------------------------------
# How big a heavy run a stranger may start.

@dataclass(frozen=True)
class Budgets:
    """The largest heavy runs a hosted server starts, each about a minute of one worker on a small CPU.

    Checked where the work runs, in the sandboxed entry points (:func:`explorer.demos.regression.live`,
    :func:`explorer.demos.tsne.prepared` and ``live``, :func:`explorer.presets.model_exploration`), whatever a
    page or a URL asks. The sizes follow the speeds that ``bench/tsne.py`` and ``bench/regression.py`` print
    (the README keeps their figures).
    """

    tsne_pair_iterations: float = 2e11   # N² × iterations: 5,000 points for 8,000 iterations, digits for 60,000
    tsne_points: int = 5000              # points of any t-SNE work, ours or scikit-learn's (P alone is N² float64)
    sklearn_exact_points: int = 2000     # scikit-learn's exact TSNE: about a minute on digits, growing as N²
    regression_seconds: float = 60.0     # estimated from points, batch size and epochs:
    regression_step: float = 2.5e-4      #   seconds of one optimiser step, plus
    regression_point: float = 5e-8       #   seconds per point of its batch (bench/regression.py)
    model_depth: int = 5000              # layers or steps of a built-in model (about 25,000 graph nodes)

    def check_tsne(self, n: int, iterations: int = 0) -> None:
        """Refuse t-SNE work on more than ``tsne_points`` points, or a run of ``iterations`` iterations beyond
        the budget, saying what fits."""
        if n > self.tsne_points:
            raise ExpressionError(f"t-SNE on {n:,} points is more than this server computes for one visitor: "
                                  f"at most {self.tsne_points:,} points")
        cost = float(n) * n * iterations
        if cost > self.tsne_pair_iterations:
            most = int(self.tsne_pair_iterations / (float(n) * n))
            raise ExpressionError(f"{iterations:,} iterations on {n:,} points is more than this server runs for "
                                  f"one visitor: at most {most:,} iterations for {n:,} points")

    def check_sklearn(self, n: int, method: str) -> None:
        """Refuse scikit-learn's exact TSNE on more than ``sklearn_exact_points`` points (Barnes-Hut goes on)."""
        self.check_tsne(n)
        if method == "exact" and n > self.sklearn_exact_points:
            raise ExpressionError(f"scikit-learn's exact TSNE on {n:,} points takes minutes: this server runs it on "
                                  f"at most {self.sklearn_exact_points:,} points (Barnes-Hut has no such limit)")

    def check_regression(self, n: int, epochs: int, batch: int | None) -> None:
        """Refuse a regression run estimated over ``regression_seconds``."""
        per_epoch = 1 if not batch or batch >= n else -(-n // batch)
        points = n if per_epoch == 1 else batch
        seconds = epochs * per_epoch * (self.regression_step + points * self.regression_point)
        if seconds > self.regression_seconds:
            raise ExpressionError(f"{epochs:,} epochs of {per_epoch:,} steps on {n:,} points would take about "
                                  f"{seconds:,.0f} s; this server runs at most about {self.regression_seconds:g} s "
                                  f"for one visitor: fewer epochs, fewer points or bigger batches")

    def check_model(self, depth: int) -> None:
        """Refuse a built-in model deeper than ``model_depth``."""
        if depth > self.model_depth:
            raise ExpressionError(f"a model of depth {depth:,} is more than this server builds for one visitor "
                                  f"(at most {self.model_depth:,})")


BUDGETS = Budgets()

__all__ = ["BUDGETS", "Budgets", "CACHE", "ResultCache", "call", "key_of"]
