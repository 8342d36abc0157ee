"""Worker processes for strangers' text and for heavy work: hard time limits, queues, cancellation.

A Streamlit script runs in a thread: a signal cannot interrupt it and a
thread cannot be killed. So every evaluation of user text, and every heavy
run (the demos, big models, timing runs), happens in a worker process that
is killed when it overruns, or when nobody waits for it any more. Nothing
heavy holds the server's interpreter.

Workers are forked from a fork server that has imported torch and the
library once: starting or replacing a worker costs tens of milliseconds, not
the seconds of an import. (The fork server is a fresh single-threaded
process, so forking it is safe where forking Streamlit's threads would not
be.)

Work goes through two *lanes*. "light" is one typed function: tens of
milliseconds, at most ``Limits.timeout``. "heavy" is a demo run, a model
build, a timing run: fewer workers, at a lower CPU priority, so that light
work keeps its share of the cores. Each lane has a fixed number of workers
and a first-come first-served queue whose positions a page can show; a full
queue is refused at once. Each *owner* (a session) has one job per lane at
a time (a new one replaces the last) and a budget of worker-seconds per
minute.

A job is a call ``fn(*args, **kwargs)`` of a top-level function. When ``fn``
returns a generator its items come back one by one as they are made (the
live demos); otherwise one result. Results travel pickled, and
:meth:`Job.next` hands back the pickled bytes, so that a cache can keep them
as they came.

>>> from explorer.sandbox import run_isolated
>>> run_isolated(pow, 2, 10, timeout=30)
1024
"""
from __future__ import annotations

import atexit
import collections
import functools
import hashlib
import inspect
import io
import logging
import multiprocessing as mp
import os
import pickle
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from multiprocessing import context, forkserver, popen_forkserver, spawn, util
from typing import Any, Callable, Iterator

from explorer.expression import DEFAULT_LIMITS, ExpressionError, blowup_refusal

LANES = ("light", "heavy")
BUDGET_WINDOW = 60.0  # seconds over which an owner's worker-seconds are counted

# One byte says what a message from a worker is; the rest is the pickled value. How a job ends: DONE with
# its result, REFUSED with the ExpressionError that refused its input, UNAVAILABLE (not now: Unavailable),
# FAILED (a fault of ours: Failure).
READY, ITEM, DONE, REFUSED, UNAVAILABLE, FAILED = b"r", b"i", b"d", b"x", b"u", b"f"

_LOG = logging.getLogger("explorer.sandbox")

_CONTEXT = mp.get_context("forkserver")
# Imported once, by the fork server, before any worker is forked from it. Numba is not compiled there:
# its threading layer must not exist in a process that forks (heavy workers load it after the fork).
_CONTEXT.set_forkserver_preload(["explorer.preload"])


# multiprocessing has no public way to start a process without the parent's main module, so _Popen._launch
# copies CPython's private popen_forkserver.Popen._launch. The copy is used only where CPython's own is
# the one it was read against (by the SHA-256 of its source); anywhere else the first worker refuses to start,
# saying so, and tests/unit/test_sandbox.py fails on that Python.
CHECKED_LAUNCHES = {
    "214844899bd3407f72082111e993b40f7c271620be27195b878ea1e44a5f3837": "CPython 3.11",
}


def forkserver_launch_digest() -> str:
    """The SHA-256 of the source of CPython's ``popen_forkserver.Popen._launch``, which the sandbox copies."""
    source = inspect.getsource(popen_forkserver.Popen._launch)
    return hashlib.sha256(source.encode()).hexdigest()


def check_forkserver_launch() -> None:
    """Refuse (``RuntimeError``) to start workers where CPython's ``_launch`` is not one the copy was read against."""
    try:
        digest = forkserver_launch_digest()
    except (OSError, TypeError) as err:   # no source to read
        raise RuntimeError(f"cannot read CPython's popen_forkserver.Popen._launch to check the sandbox's copy of it: "
                           f"{err}") from None
    if digest not in CHECKED_LAUNCHES:
        raise RuntimeError(
            f"Python {sys.version.split()[0]} has a popen_forkserver.Popen._launch (sha256 {digest}) that "
            "explorer.sandbox._Popen was not checked against: compare the two, update the copy, and add the "
            "digest to CHECKED_LAUNCHES")


_launch_checked = functools.cache(check_forkserver_launch)   # once per process: it reads a source file


class _Popen(popen_forkserver.Popen):
    """Starts a worker from the fork server without making it import the parent's ``__main__``.

    multiprocessing has a new process import the parent's main module
    (spawn's preparation data). Streamlit runs each page script as
    ``__main__``: a worker would import the page and run it, and the page
    would ask the sandbox for work, from inside the sandbox. This is
    ``popen_forkserver.Popen._launch`` with the main module left out
    (pinned: :data:`CHECKED_LAUNCHES`).
    """

    def _launch(self, process_obj) -> None:
        prep_data = {key: value for key, value in spawn.get_preparation_data(process_obj._name).items()
                     if key not in ("init_main_from_path", "init_main_from_name")}
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            context.reduction.dump(prep_data, buf)
            context.reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


# ---------------------------------------------------------------------------
# How work can fail to give a result: three kinds, told apart by type, each worded where it is raised.
#
#   ExpressionError  the input is refused: the same on every try, so cached like a result (explorer.expression)
#   Unavailable      not now: a busy server, an overrun, a lost worker; never cached, worth a retry
#   Failure          a fault of ours (a bug): its traceback logged here, a visitor told only APOLOGY; never cached

class Unavailable(Exception):
    """The work could not be done now, and may be on a retry: a busy server, an overrun, a lost worker.

    Not a refusal of the input (not an :class:`~explorer.ExpressionError`) and never cached. ``retry_after``
    says, in seconds, when a retry has a chance, where that is known.

    >>> Unavailable("the server is busy", retry_after=1.0).message
    'the server is busy'
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def __reduce__(self):
        return (type(self), (self.message, self.retry_after))


class Failure(Exception):
    """The work raised what no refusal explains: a bug of ours, not the visitor's input, not the load.

    ``details`` is the worker's traceback, for the server's log (:func:`value` logs it); a visitor is shown
    :attr:`APOLOGY` and nothing more. Never cached.

    >>> str(Failure("Traceback ... KeyError: 'x'")) == Failure.APOLOGY
    True
    """

    APOLOGY = "Something went wrong on our side. It has been logged; trying again may help."

    def __init__(self, details: str = ""):
        super().__init__(self.APOLOGY)
        self.message = self.APOLOGY
        self.details = details

    def __reduce__(self):
        return (type(self), (self.details,))


def _overran(timeout: float) -> str:
    return f"it took longer than {timeout:g} s and was stopped"


LOST_WORKER = "the worker computing it stopped (it may have run out of memory)"


# ---------------------------------------------------------------------------
# How many workers, and how much memory each: from the machine.

def machine_memory() -> int:
    """Bytes of memory this process may use: the cgroup's limit where one is set, else the machine's RAM."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            return int(text)
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Sizing:
    """Workers per lane, the memory each may allocate, and the threads each computes with.

    >>> Sizing.for_machine(cores=2, memory=24 * 2**30)
    Sizing(light=2, heavy=1, memory=5655040273, light_threads=1, heavy_threads=2)
    """

    light: int
    heavy: int
    memory: int          # bytes of data a worker may allocate (RLIMIT_DATA); a MemoryError past it
    light_threads: int   # torch threads of a light worker: its tensors are small, threads only contend
    heavy_threads: int   # torch and Numba threads of a heavy worker

    @classmethod
    def for_machine(cls, cores: int | None = None, memory: int | None = None,
                    share: float | None = None) -> "Sizing":
        """One light worker per core, one heavy worker per two; 70 % of memory shared out, less 1 GiB
        for the server itself, and never more than 8 GiB a worker.

        ``share`` is this server's part of the machine when several replicas
        run on it (``EXPLORER_MACHINE_SHARE``, set by ``deploy/serve.py``):
        cores and memory are divided accordingly.
        """
        share = share or float(os.environ.get("EXPLORER_MACHINE_SHARE", "1") or 1)
        cores = max(1, round((cores or machine_cores()) * share))
        memory = int((memory or machine_memory()) * share)
        light, heavy = max(1, cores), max(1, cores // 2)
        part = int((0.7 * memory - 2**30) / (light + heavy))
        return cls(light, heavy, max(512 * 2**20, min(8 * 2**30, part)), 1, max(1, cores // heavy))


# ---------------------------------------------------------------------------
# The worker.

def _serve(conn, lane: str, memory: int, threads: int) -> None:
    """A worker's life: limit itself, warm up, then run jobs one at a time until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass
    import torch

    torch.set_num_threads(threads)
    if lane == "heavy":
        os.nice(10)  # the demos yield the CPU to visitors' functions
        from explorer.preload import warm_heavy

        warm_heavy(threads)
    conn.send_bytes(READY)
    while True:
        try:
            fn, args, kwargs = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        try:
            result = fn(*args, **kwargs)
            if isinstance(result, types.GeneratorType):
                for item in result:
                    conn.send_bytes(ITEM + pickle.dumps(item, protocol=5))
                result = None
            conn.send_bytes(DONE + pickle.dumps(result, protocol=5))
        except (EOFError, OSError, BrokenPipeError):
            return
        except BaseException as err:  # noqa: BLE001 - every failure is reported; the worker lives on
            kind, error = _as_reply(err)
            try:
                conn.send_bytes(kind + pickle.dumps(error, protocol=5))
            except (OSError, BrokenPipeError):
                return


def _as_reply(err: BaseException) -> tuple[bytes, Exception]:
    """How a job that raised ``err`` ended: REFUSED (the same on a retry: cacheable), UNAVAILABLE or FAILED."""
    if isinstance(err, Unavailable):
        return UNAVAILABLE, err
    if isinstance(err, ExpressionError):
        return REFUSED, err
    refusal = blowup_refusal(err)   # Python's own limits (memory, recursion, number size), worded once
    if refusal is not None:
        return REFUSED, refusal
    return FAILED, Failure("".join(traceback.format_exception(err)))


class _Worker:
    """The server's handle on one worker process."""

    def __init__(self, lane: str, sizing: Sizing):
        self.lane = lane
        self.conn, child = _CONTEXT.Pipe()
        threads = sizing.heavy_threads if lane == "heavy" else sizing.light_threads
        self.process = _Process(target=_serve, args=(child, lane, sizing.memory, threads), daemon=True,
                                name=f"explorer-{lane}-worker")
        self.process.start()
        child.close()
        self.ready = False
        self.job: Job | None = None
        self.affinity: Any = None  # of its last job: a worker may keep what that job computed
        self.draining = 0.0        # until when a cancelled light job may finish before the worker is killed
        self.dead = False
        self.jobs = 0              # jobs it has answered: it is replaced after Pool.retire_after

    @property
    def free(self) -> bool:
        return self.ready and not self.dead and self.job is None and not self.draining

    def kill(self) -> None:
        self.dead = True
        try:
            self.process.kill()
        except (OSError, ValueError, AttributeError):
            pass


# ---------------------------------------------------------------------------
# Jobs.

class Job:
    """One call in a worker: queued, then running, then ended.

    The owner reads it with :meth:`next` until it ends, and calls
    :meth:`cancel` when it stops waiting (a no-op once the job has ended):
    a job nobody waits for is stopped, never left running.
    """

    def __init__(self, pool: "Pool", lane: str, message: bytes, timeout: float, owner: str | None,
                 affinity: Any = None):
        self.pool = pool
        self.lane = lane
        self.message = message
        self.timeout = timeout
        self.owner = owner
        self.affinity = affinity         # jobs of the same affinity go to the same worker when it is free
        self.state = "queued"            # queued, running, ended
        self.reason: str | None = None   # why it ended early (an overrun, a cancel, a lost worker)
        self.inbox: collections.deque[tuple[bytes, bytes]] = collections.deque()  # messages not read yet
        self.worker: _Worker | None = None
        self.started = 0.0
        self.ended = 0.0
        self.touched = time.monotonic()
        # Its owner waits on this, not on the pool's condition: a message for one job wakes one script
        # thread, not every thread waiting on any job (a herd that grew with the number of visitors).
        self.changed = threading.Condition(pool.mutex)

    @property
    def position(self) -> int:
        """1 for the next job to run, 2 for the one after...; 0 once running or ended."""
        return self.pool.position(self)

    @property
    def seconds(self) -> float:
        """Seconds it has run in a worker (so far)."""
        if not self.started:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def next(self, wait: float = 0.1) -> tuple[bytes, bytes] | None:
        """The next message within ``wait`` seconds: ``(kind, pickled value)``, or None if none came.

        ``kind`` is :data:`ITEM` for an item of a stream, then :data:`DONE`
        with the result, or :data:`REFUSED` (a pickled :class:`ExpressionError`),
        :data:`UNAVAILABLE` (:class:`Unavailable`) or :data:`FAILED`
        (:class:`Failure`). An overrun, a cancel or a lost worker raises
        :class:`Unavailable`.
        """
        return self.pool.next_message(self, wait)

    def cancel(self, reason: str = "it was cancelled") -> None:
        """Stop the job: out of the queue, or its worker killed (and replaced). A no-op once it has ended.

        A running light job is given :attr:`Pool.grace` seconds to finish first, its answer dropped: most
        take milliseconds, and a worker killed and forked again costs more than that.
        """
        self.pool.end(self, reason, kill=True, grace=True)


# ---------------------------------------------------------------------------
# The pool.

class Pool:
    """Warm workers in lanes, their queues, and what each owner has used.

    ``queue`` bounds the jobs waiting per lane (beyond it a submit is
    refused as busy): by default 32 light jobs a light worker, a few tenths
    of a second of typed functions (at 8, about 40 ms of work, a hiccup of
    a shared machine turned into busy notices at 240 visitors), and 4 heavy
    jobs a heavy worker; ``owner_seconds`` is the worker-seconds an owner may
    use per minute in each lane: far more than a visitor typing functions
    needs, far less than a script rerunning as fast as it can takes. Each
    worker has a thread that reads what it sends into its job's inbox, so a
    worker is free for the next job the moment it answers, whether or not
    its owner has read the answer yet; a stream's inbox holds at most
    ``stream_buffer`` items (the worker waits beyond that). A worker is
    replaced after ``retire_after`` jobs, so that what jobs leave behind in it
    (Graphviz's library keeps about 1 KB a layout) does not pile up: a fork
    every few thousand jobs.
    """

    def __init__(self, sizing: Sizing | None = None, *, queue: dict[str, int] | None = None,
                 owner_seconds: dict[str, float] | None = None, abandon_after: float = 60.0, grace: float = 0.5,
                 stream_buffer: int = 64, retire_after: int = 2000):
        self.sizing = sizing or Sizing.for_machine()
        self.size = {"light": self.sizing.light, "heavy": self.sizing.heavy}
        self.queue_limit = queue or {"light": 32 * self.sizing.light, "heavy": 4 * self.sizing.heavy}
        self.owner_seconds = owner_seconds or {"light": 20.0, "heavy": 60.0}
        self.abandon_after = abandon_after
        self.grace = grace
        self.stream_buffer = stream_buffer
        self.retire_after = retire_after
        self.workers: dict[str, list[_Worker]] = {lane: [] for lane in LANES}
        self.queues: dict[str, collections.deque[Job]] = {lane: collections.deque() for lane in LANES}
        self.by_owner: dict[tuple[str, str], Job] = {}
        self.used: dict[tuple[str, str], collections.deque[tuple[float, float]]] = collections.defaultdict(
            collections.deque)
        self.mutex = threading.RLock()
        self.lock = threading.Condition(self.mutex)   # the pool's state; each job's waiters: Job.changed
        self.started = False
        self.closed = False

    # -- life -----------------------------------------------------------------

    def start(self, wait: float = 0.0) -> None:
        """Fork the workers (in the background) and keep them topped up; wait up to ``wait`` s for one
        light worker to be ready. Refuses (``RuntimeError``) on a Python whose fork server it was not checked
        against (:func:`check_forkserver_launch`)."""
        _launch_checked()
        with self.lock:
            if not self.started:
                self.started = True
                threading.Thread(target=self._supervise, daemon=True, name="explorer-sandbox").start()
        deadline = time.monotonic() + wait
        with self.lock:
            while not any(w.ready for w in self.workers["light"]) and time.monotonic() < deadline:
                self.lock.wait(0.1)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for lane in LANES:
                for job in list(self.queues[lane]):
                    self._end(job, "the server is stopping")
                for w in self.workers[lane]:
                    if w.job is not None:
                        self._end(w.job, "the server is stopping")
                    w.kill()
            self.lock.notify_all()

    def status(self) -> dict:
        """Workers ready and busy, and jobs waiting, per lane."""
        with self.lock:
            return {lane: {"workers": len(self.workers[lane]),
                           "ready": sum(w.ready and not w.dead for w in self.workers[lane]),
                           "busy": sum(w.job is not None or bool(w.draining) for w in self.workers[lane]),
                           "queued": len(self.queues[lane])} for lane in LANES}

    def _supervise(self) -> None:
        """Replace lost workers, stop overruns, abandoned jobs and cancelled ones past their grace: every 50 ms."""
        while True:
            starting = []
            with self.lock:
                if self.closed:
                    return
                now = time.monotonic()
                for lane in LANES:
                    for w in list(self.workers[lane]):
                        if w.dead or not w.process.is_alive():
                            w.kill()
                            self.workers[lane].remove(w)  # its reader ends at the end of its pipe
                        elif w.job is not None and (now > w.job.started + w.job.timeout
                                                    or now - w.job.touched > self.abandon_after):
                            self._end(w.job, _overran(w.job.timeout), kill=True)
                        elif w.draining and now > w.draining:
                            w.kill()
                    starting += [lane] * (self.size[lane] - len(self.workers[lane]))
                self._forget_old_spending()
            for lane in starting:  # forked outside the lock: tens of ms each
                try:
                    worker = _Worker(lane, self.sizing)
                except (OSError, ValueError) as err:  # out of processes, or the fork server is gone
                    if self.closed or sys.is_finalizing():
                        return
                    print(f"explorer sandbox: could not start a worker: {err}", flush=True)
                    time.sleep(1.0)
                    continue
                with self.lock:
                    self.workers[lane].append(worker)
                threading.Thread(target=self._read, args=(worker,), daemon=True,
                                 name=f"explorer-{lane}-reader").start()
            time.sleep(0.05)

    def _read(self, worker: _Worker) -> None:
        """A worker's reader: each message into its job's inbox; the worker freed when its job's answer came."""
        while True:
            try:
                data = worker.conn.recv_bytes()
            except (EOFError, OSError):
                break
            kind, payload = data[:1], data[1:]
            with self.lock:
                if kind == READY:
                    worker.ready = True
                elif worker.job is None:  # the answer of a cancelled job: dropped
                    if kind != ITEM:
                        worker.draining = 0.0
                else:
                    job = worker.job
                    job.inbox.append((kind, payload))
                    job.changed.notify_all()
                    if kind != ITEM:
                        worker.jobs += 1
                        if worker.jobs >= self.retire_after:
                            worker.kill()   # before _end dispatches to it; the supervisor forks a fresh one
                        self._end(job, None)
                    while kind == ITEM and len(job.inbox) > self.stream_buffer and job.state == "running":
                        self.lock.wait(0.5)  # the owner reads slower than the worker makes: the worker waits
                self._dispatch(worker.lane)
                self.lock.notify_all()
        with self.lock:
            worker.dead = True
            if worker.job is not None:
                self._end(worker.job, LOST_WORKER)
            try:
                worker.conn.close()
            except OSError:
                pass
            worker.process.join(0)
            self.lock.notify_all()

    # -- jobs -----------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, lane: str = "light", timeout: float | None = None,
               owner: str | None = None, affinity: Any = None, **kwargs: Any) -> Job:
        """Queue ``fn(*args, **kwargs)`` in ``lane``; refused at once (:class:`Unavailable`) when the lane's
        queue is full or the owner has used its worker-seconds for the minute.

        The owner's earlier job in the same lane, if any, is cancelled: a
        session asks for one thing at a time. A job goes to the free worker
        that last ran a job of the same ``affinity`` (hashable), if any: the
        parts of one page are computed where its exploration already is.
        """
        if lane not in LANES:
            raise ValueError(f"lane must be one of {', '.join(LANES)}, not {lane!r}")
        if not self.started:
            self.start()
        message = pickle.dumps((fn, args, kwargs), protocol=5)
        with self.lock:
            self._forget_old_spending()
            if owner is not None:
                earlier = self.by_owner.get((owner, lane))
                if earlier is not None:
                    self._end(earlier, "a newer request of the same visitor replaced it", kill=True, grace=True)
                budget = self.owner_seconds[lane]
                if self._used(owner, lane) >= budget:
                    wait = self._budget_back(owner, lane)
                    raise Unavailable(f"this visit has used its {budget:g} s of {lane} computing for the last "
                                      f"minute; it can go on in {wait:.0f} s", retry_after=wait)
            if len(self.queues[lane]) >= self.queue_limit[lane]:
                raise Unavailable(f"the server is busy: {len(self.queues[lane])} {lane} jobs are already waiting",
                                  retry_after=1.0 if lane == "light" else 10.0)
            job = Job(self, lane, message, timeout or DEFAULT_LIMITS.timeout, owner, affinity)
            self.queues[lane].append(job)
            if owner is not None:
                self.by_owner[(owner, lane)] = job
            self._dispatch(lane)
        return job

    def position(self, job: Job) -> int:
        with self.lock:
            if job.state != "queued":
                return 0
            return self.queues[job.lane].index(job) + 1

    def next_message(self, job: Job, wait: float) -> tuple[bytes, bytes] | None:
        """:meth:`Job.next`."""
        job.touched = time.monotonic()
        with self.lock:
            if not job.inbox and job.state != "ended":
                if job.state == "running":
                    wait = min(wait, max(0.0, job.started + job.timeout - time.monotonic()))
                job.changed.wait(wait)
            if job.inbox:
                message = job.inbox.popleft()
                self.lock.notify_all()  # a reader may be waiting for room in a stream's inbox
                return message
            if job.state == "running" and time.monotonic() >= job.started + job.timeout:
                self._end(job, _overran(job.timeout), kill=True)
            if job.state == "ended":
                raise Unavailable(job.reason or "the job has ended")
            return None

    def end(self, job: Job, reason: str | None, kill: bool = False, grace: bool = False) -> None:
        with self.lock:
            self._end(job, reason, kill, grace)

    def _end(self, job: Job, reason: str | None, kill: bool = False, grace: bool = False) -> None:
        if job.state == "ended":
            return
        if job.state == "queued":
            self.queues[job.lane].remove(job)
        job.reason = job.reason or reason
        worker, job.worker = job.worker, None
        if worker is not None:
            worker.job = None
            if kill and grace and job.lane == "light" and self.grace > 0:
                worker.draining = time.monotonic() + self.grace  # its reader drops the answer when it comes
            elif kill:
                worker.kill()  # a killed worker is replaced by the supervisor
        if job.started:
            job.ended = time.monotonic()
        job.state = "ended"
        if job.owner is not None:
            if self.by_owner.get((job.owner, job.lane)) is job:
                del self.by_owner[(job.owner, job.lane)]
            if job.started:
                # a floor per job: a burst of tiny reruns is not free (each may cost a fork)
                self.used[(job.owner, job.lane)].append((time.monotonic(), max(job.seconds, 0.05 + 0.1 * kill)))
        self._dispatch(job.lane)
        job.changed.notify_all()
        self.lock.notify_all()

    def _dispatch(self, lane: str) -> None:
        queue = self.queues[lane]
        while queue:
            free = [w for w in self.workers[lane] if w.free]
            if not free:
                return
            job = queue.popleft()
            same = [w for w in free if job.affinity is not None and w.affinity == job.affinity]
            worker = (same or free)[0]
            try:
                worker.conn.send_bytes(job.message)
            except (OSError, BrokenPipeError):
                worker.kill()
                queue.appendleft(job)
                continue
            job.state, job.worker, job.started = "running", worker, time.monotonic()
            worker.job, worker.affinity = job, job.affinity

    def _used(self, owner: str, lane: str) -> float:
        """Worker-seconds ``owner`` used in ``lane`` over the last minute, its running job included."""
        spent = self.used.get((owner, lane), ())
        running = self.by_owner.get((owner, lane))
        return sum(s for _, s in spent) + (running.seconds if running else 0.0)

    def _forget_old_spending(self) -> None:
        horizon = time.monotonic() - BUDGET_WINDOW
        for key in list(self.used):
            spent = self.used[key]
            while spent and spent[0][0] < horizon:
                spent.popleft()
            if not spent:
                del self.used[key]

    def _budget_back(self, owner: str, lane: str) -> float:
        """Seconds until enough of the owner's spending leaves the window to be under budget again."""
        total, now = self._used(owner, lane), time.monotonic()
        for at, seconds in self.used.get((owner, lane), ()):
            total -= seconds
            if total < self.owner_seconds[lane]:
                return max(1.0, at + BUDGET_WINDOW - now)
        return BUDGET_WINDOW


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool:
    """The process's pool, sized for the machine, created (and started) on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Pool()
            _POOL.start()
            atexit.register(_POOL.close)
        return _POOL


def replace_pool(new: Pool) -> Pool | None:
    """Make ``new`` the process's pool (what :func:`pool` returns from now on) and return the one it replaces,
    not closed: a server that swaps in a pool of another size, or a test of how pages meet a busy one."""
    global _POOL
    with _POOL_LOCK:
        old, _POOL = _POOL, new
        return old


def value(kind: bytes, payload: bytes) -> Any:
    """The result a message carries, or what it carries raised: the refusal, :class:`Unavailable`, or the
    :class:`Failure`, whose traceback is logged here (on the server) first."""
    result = pickle.loads(payload)
    if kind == FAILED:
        _LOG.error("work in the sandbox failed:\n%s", result.details)
    if kind in (REFUSED, UNAVAILABLE, FAILED):
        raise result
    return result


def run_isolated(fn: Callable[..., Any], /, *args: Any, timeout: float | None = None, lane: str = "light",
                 owner: str | None = None, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a worker process, killed if it runs longer than ``timeout`` s.

    ``fn`` must be a top-level function, its arguments and result picklable.
    A refusal raised by ``fn`` is raised here as an :class:`ExpressionError`;
    an overrun, a lost worker or a busy server as :class:`Unavailable`; any
    other error as a :class:`Failure`. A generator's items are collected into a list.
    """
    job = pool().submit(fn, *args, lane=lane, timeout=timeout, owner=owner, **kwargs)
    try:
        items, result = outcome(job)
        return items if items else result
    finally:
        job.cancel()


def outcome(job: Job, seconds: float | None = None) -> tuple[list, Any]:
    """Read ``job`` to its end: ``(items it streamed, its result)``; a refusal or failure is raised, and
    :class:`Unavailable` when ``seconds`` pass first (the job itself is left to the caller)."""
    items, deadline = [], None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        message = job.next(0.2)
        if message is None:
            continue
        kind, payload = message
        if kind == ITEM:
            items.append(pickle.loads(payload))
            continue
        return items, value(kind, payload)
    raise Unavailable(f"the job did not end within {seconds:g} s")


def stream(job: Job, wait: float = 0.1) -> Iterator[Any | None]:
    """The items of a streaming job as they come, and ``None`` whenever ``wait`` s pass without one.

    Ends with the job; a refusal or failure is raised. The caller cancels the
    job when it stops reading.
    """
    while True:
        message = job.next(wait)
        if message is None:
            yield None
            continue
        kind, payload = message
        if kind == ITEM:
            yield pickle.loads(payload)
            continue
        value(kind, payload)
        return


__all__ = ["CHECKED_LAUNCHES", "DONE", "FAILED", "ITEM", "LANES", "REFUSED", "UNAVAILABLE", "Failure", "Job", "Pool",
           "Sizing", "Unavailable", "check_forkserver_launch", "forkserver_launch_digest", "machine_cores",
           "machine_memory", "outcome", "pool", "replace_pool", "run_isolated", "stream", "value"]
