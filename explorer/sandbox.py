"""A hard wall-clock limit for evaluations of untrusted text.

A Streamlit script runs in a thread: a signal cannot interrupt it and a
thread cannot be killed. So untrusted work runs in a separate worker process
that is killed when it overruns. Workers are started ahead of time and kept
warm (each has already imported torch), so the common path pays only for
sending the job and the result through a pipe.

>>> from explorer.sandbox import run_isolated
>>> run_isolated(pow, 2, 10, timeout=30)
1024
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
from typing import Any, Callable

from explorer.expression import ExpressionError

# Spawned, not forked: forking a process that runs threads (Streamlit's) and
# holds torch's thread pools can deadlock the child.
_CONTEXT = mp.get_context("spawn")
_MAX_WORKERS = max(1, min(4, os.cpu_count() or 1))
_MEMORY_LIMIT = 8 * 2**30  # bytes of data a worker may allocate (RLIMIT_DATA)


def _serve(conn) -> None:
    """The worker's loop: receive (fn, args, kwargs), send back ("ok", result) or ("error", exception)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (_MEMORY_LIMIT, _MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass
    import explorer  # noqa: F401  (warm: torch and the library are imported before the first job)

    conn.send(("ready", None))
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", fn(*args, **kwargs))
        except ExpressionError as err:
            reply = ("error", err)
        except MemoryError:
            reply = ("error", ExpressionError("the evaluation needed more memory than a session may use"))
        except Exception as err:  # noqa: BLE001 - reported to the caller, the worker lives on
            reply = ("error", RuntimeError(f"{type(err).__name__}: {err}"))
        try:
            conn.send(reply)
        except Exception as err:  # noqa: BLE001 - an unpicklable result
            conn.send(("error", RuntimeError(f"the result could not be sent back: {err}")))


class _Worker:
    def __init__(self) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child,), daemon=True, name="explorer-worker")
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait for the worker to finish importing torch (not counted in a job's time limit)."""
        if not self.ready:
            if not self.conn.poll(timeout):
                raise ExpressionError("the evaluation service did not start; try again")
            self.conn.recv()
            self.ready = True

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class _Pool:
    """Warm workers, each used by one call at a time; a worker that overruns is killed and replaced."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.idle: list[_Worker] = []
        self.started = 0
        self.lock = threading.Condition()

    def acquire(self) -> _Worker:
        with self.lock:
            while True:
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive():
                        return worker
                    self.started -= 1
                if self.started < self.size:
                    self.started += 1
                    break
                self.lock.wait()
        try:
            return _Worker()
        except BaseException:
            with self.lock:
                self.started -= 1
                self.lock.notify()
            raise

    def release(self, worker: _Worker | None) -> None:
        with self.lock:
            if worker is not None and worker.alive():
                self.idle.append(worker)
            else:
                self.started -= 1
            self.lock.notify()

    def warm(self) -> None:
        with self.lock:
            if self.idle or self.started >= self.size:
                return
            self.started += 1
        worker = _Worker()
        try:
            worker.wait_ready()
        finally:
            self.release(worker)


_POOL = _Pool(_MAX_WORKERS)


def warm_up() -> None:
    """Start one worker in the background, so that the first user does not wait for torch to import."""
    threading.Thread(target=_POOL.warm, daemon=True, name="explorer-warm-up").start()


def run_isolated(fn: Callable[..., Any], /, *args: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a warm worker process, killed if it runs longer than ``timeout`` s.

    ``fn``, its arguments and its result must be picklable (``fn`` a top-level
    function). An :class:`ExpressionError` raised by ``fn`` is raised here; an
    overrun raises an ``ExpressionError`` that says the evaluation was stopped.
    """
    worker = _POOL.acquire()
    try:
        worker.wait_ready()
        worker.conn.send((fn, args, kwargs))
        if not worker.conn.poll(timeout):
            worker.kill()
            worker = None
            raise ExpressionError(f"the evaluation took longer than {timeout:g} s and was stopped")
        kind, value = worker.conn.recv()
    except (EOFError, OSError, BrokenPipeError):
        if worker is not None:
            worker.kill()
        worker = None
        raise ExpressionError("the evaluation was stopped: it used more memory or time than allowed") from None
    finally:
        _POOL.release(worker)
    if kind == "error":
        raise value
    return value
