"""Load on the app from many visitors at once, through Streamlit's own websocket protocol.

    python bench/load.py                      # 20 sessions, a new function every 2 s, 60 s
    python bench/load.py --sessions 5 --seconds 20
    python bench/load.py --abusive 2          # 2 abusive sessions among the ordinary ones
    python bench/load.py --proxy 2             # through nginx in front of 2 replicas (deploy/serve.py)
    python bench/load.py --url http://127.0.0.1:8080 --cookies
    python bench/load.py --floor --sessions 240 --seconds 30   # the explorer, then the one-line page
    python bench/load.py --floor --ramp 20,60,120,180,240,300  # the highest rate each holds
    python bench/load.py --floor --ramp 40,80,120 --proxy 2    # the explorer as 2 replicas behind nginx


Each visitor is what a browser tab is to the server, without the browser: it
opens the websocket, asks for runs with Streamlit's protobufs (BackMsg) and
reads the ForwardMsgs back, but draws nothing, so that the load client does
not steal the server's CPU the way Chromium on the same 2 cores would.

An ordinary visitor opens the explorer at its own function ``x**k + i*x``
at x = 3, then types a new one every 2 s: the text area's new value, as the
frontend sends it (a rerun of the fragment the text area is in). Every ``i``
is one no earlier request of the process used, warm-up and earlier ramp
steps included, so that no answer comes from the server's cache of results.
Each request is timed from sending to the server's ``script_finished``. Its
answer is read from the page (``f = tensor(...)``,
``x.grad = tensor(...)``) and checked against the exact value and
derivative: a mismatch is a *wrong answer*; an error shown on the page, an
exception, or no answer within the time limit is an *error*. An abusive
visitor cycles through budget-busting functions, the largest t-SNE run
started from a URL, and bursts of reruns that do not wait for the last; it
must get refusals or queue positions, never hold up the others.

The server is started here (``streamlit run app.py`` on a free port of
127.0.0.1) unless ``--url`` names a running one; its memory (the server
and its worker processes) is sampled after warm-up and at the end.
Only 127.0.0.1 is ever targeted, and every run is bounded in time.

``--floor`` serves, in the same run and with the same ``.streamlit/config.toml``,
Streamlit's floor: a one-line page (:data:`FLOOR_PAGE`) with the same
"Function" text area that prints the same ``f = tensor([...])`` and
``x.grad = tensor([...])`` lines, computed by torch in the server's thread,
with no sandbox, no cache and nothing else on the page. The same visitors are
run against each server in turn (explorer, then floor), so that the noise of
a shared machine falls on both. ``--ramp`` runs steps of more and more
visitors, each bounded to ``--seconds``, and prints the highest rate each
server *holds*: a step is held when its p95 is at most 1 s and every answer
is right, with no error and no busy notice.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/load.py`

from explorer import local_app  # noqa: E402
from explorer.local_app import free_port, wait_healthy  # noqa: E402

REQUEST_TIMEOUT = 30.0  # seconds a request may take before it counts as an error


# ---------------------------------------------------------------------------
# The protocol client.

@dataclass
class Run:
    """What one script run sent back."""

    seconds: float
    status: str                                   # "finished", "rerun" (superseded) or "timeout"
    elements: list = field(default_factory=list)  # Element protos, in the order they came
    fragments: dict = field(default_factory=dict)  # widget id -> id of the fragment that drew it
    messages: int = 0                             # ForwardMsgs received, each a cost to server and browser

    def texts(self, kind: str) -> list[str]:
        """The text of every element of ``kind``: "code" (code_text), "alert" (body), "markdown" (body), "html"
        (its text, tags taken out)."""
        attribute = {"code": "code_text", "alert": "body", "markdown": "body", "html": "body"}[kind]
        found = [getattr(getattr(e, kind), attribute) for e in self.elements if e.WhichOneof("type") == kind]
        return [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in found] if kind == "html" else found

    def errors(self) -> list[str]:
        """Error boxes (``st.error``) and exceptions on the page."""
        out = [e.alert.body for e in self.elements if e.WhichOneof("type") == "alert" and e.alert.format == 1]
        out += [f"{e.exception.type}: {e.exception.message}" for e in self.elements
                if e.WhichOneof("type") == "exception"]
        return out

    def warnings(self) -> list[str]:
        return [e.alert.body for e in self.elements if e.WhichOneof("type") == "alert" and e.alert.format == 2]

    def widget(self, kind: str, label: str) -> str:
        """The id of the widget of ``kind`` (e.g. "text_area", "button") whose label is ``label``."""
        for e in self.elements:
            if e.WhichOneof("type") == kind and getattr(e, kind).label == label:
                return getattr(e, kind).id
        raise LookupError(f"no {kind} labelled {label!r} on the page")


class Visitor:
    """One browser tab, as the server sees it: a websocket that speaks Streamlit's protobufs."""

    def __init__(self, url: str, *, cookie: str | None = None):
        self.url = url
        self.cookie = cookie       # sent as the routing cookie of deploy/ (sticky sessions through nginx)
        self.ws = None
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page_hash = ""
        self.query = ""

    async def __aenter__(self) -> "Visitor":
        parts = urllib.parse.urlsplit(self.url)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await websockets.connect(
            f"ws://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream", subprotocols=["streamlit"],
            additional_headers=headers, max_size=2**28, open_timeout=REQUEST_TIMEOUT, ping_interval=None)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def run(self, *, query: str | None = None, page: str | None = None, widgets: dict | None = None,
                  fragment: str = "", wait: bool = True, timeout: float = REQUEST_TIMEOUT) -> Run:
        """Ask for a run (as the frontend does on a URL, a page link or a widget change) and read it back.

        ``widgets`` maps widget ids to values (str, bool, int, float, or ``"trigger"`` for a button).
        ``fragment`` is the id of the fragment the changed widget is in (``Run.fragments``): the frontend
        then asks for a run of that fragment only, and so does this client.
        With ``wait=False`` the request is sent and not read (a burst of reruns).
        """
        if query is not None:
            self.query = query
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        if page is not None:
            state.page_name = page
            self.page_hash = self.pages.get(page, "")
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment
        for widget_id, value in (widgets or {}).items():
            w = state.widget_states.widgets.add()
            w.id = widget_id
            if value == "trigger":
                w.trigger_value = True
            elif isinstance(value, bool):
                w.bool_value = value
            elif isinstance(value, int):
                w.int_value = value
            elif isinstance(value, float):
                w.double_value = value
            else:
                w.string_value = value
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        if not wait:
            return Run(0.0, "sent")
        return await self.read(start, timeout)

    async def drain(self, quiet: float = 1.0, timeout: float = REQUEST_TIMEOUT) -> None:
        """Read and drop messages until none has come for ``quiet`` seconds (after a burst of reruns)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                await asyncio.wait_for(self.ws.recv(), quiet)
            except asyncio.TimeoutError:
                return

    async def read(self, start: float, timeout: float) -> Run:
        """ForwardMsgs until the script finishes (a run superseded by a rerun keeps reading)."""
        run = Run(0.0, "timeout")
        # One deadline for the whole run: a wait_for per message would cost a task each, and this client
        # shares the server's cores (a run of the explorer is about 30 messages).
        deadline = asyncio.get_running_loop().time() + start + timeout - time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    fwd = ForwardMsg()
                    fwd.ParseFromString(await self.ws.recv())
                    run.messages += 1
                    if self._finished(fwd, run):
                        run.status = "finished"
                        run.seconds = time.perf_counter() - start
                        return run
        except TimeoutError:
            run.seconds = time.perf_counter() - start
            return run

    def _finished(self, fwd: ForwardMsg, run: Run) -> bool:
        """Take in one ForwardMsg of ``run``; True when it ends the run."""
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = fwd.new_session.page_script_hash or self.page_hash
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
            self.page_hash = fwd.navigation.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            self.query = fwd.page_info_changed.query_string
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            run.elements.append(element)
            if fwd.delta.fragment_id:
                widget = getattr(element, element.WhichOneof("type"), None)
                if isinstance(getattr(widget, "id", None), str):
                    run.fragments[widget.id] = fwd.delta.fragment_id
        elif kind == "script_finished":
            if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                run.elements.clear()
                run.messages = 0
                return False
            return True
        return False


# ---------------------------------------------------------------------------
# What visitors ask for, and how their answers are checked.

X = 3.0


# The i of every ordinary visitor's next function: one count for the whole process, so that no request of a
# run, of its warm-up or of an earlier step of a ramp asks a function the server has answered (and cached).
_UNASKED = itertools.count(1)


def ordinary_function(k: int, i: int) -> str:
    return f"x**{k} + {i}*x"


def expected(k: int, i: int) -> tuple[float, float]:
    """f and df/dx of ``x**k + i*x`` at x = 3."""
    return X**k + i * X, k * X ** (k - 1) + i


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?")


def answer(run: Run) -> tuple[float, float] | None:
    """(f, x.grad) as the explorer page printed them, or None when the page shows no answer."""
    for text in run.texts("html") + run.texts("code"):
        found = {}
        for line in text.splitlines():
            name, _, value = line.partition(" = ")
            numbers = _NUMBER.findall(value.replace("tensor(", ""))
            if name in ("f", "x.grad") and numbers:
                found[name] = float(numbers[0])
        if len(found) == 2:
            return found["f"], found["x.grad"]
    return None


def is_right(got: tuple[float, float], want: tuple[float, float]) -> bool:
    return all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(got, want))


def explorer_query(source: str) -> str:
    return urllib.parse.urlencode({"mode": "function", "f": source, "var_x": "3"})


@dataclass
class Tally:
    """Requests of one kind of visitor: their times, and what went wrong."""

    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    busy: int = 0          # requests answered "busy" / queued (not errors: the server said so)
    refusals: int = 0      # clear refusals (expected for abusive input)

    def p95(self) -> float:
        s = sorted(self.seconds)
        return s[min(len(s) - 1, int(0.95 * len(s)))] if s else float("inf")

    def right(self) -> int:
        """Requests answered, and answered right."""
        return len(self.seconds) - self.busy - len(self.wrong) - sum(": no answer in" not in e for e in self.errors)

    def held(self, p95: float = 1.0) -> bool:
        """Every answer right (no error, no busy notice) at a p95 of at most ``p95`` seconds."""
        return bool(self.seconds) and not (self.errors or self.wrong or self.busy) and self.p95() <= p95

    def line(self, name: str) -> str:
        s = sorted(self.seconds)
        if not s:
            return f"{name:<10} no requests"
        p = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
        return (f"{name:<10} {len(s):5d} req  p50 {statistics.median(s):6.3f} s  p95 {p(0.95):6.3f} s  "
                f"max {s[-1]:6.3f} s  errors {len(self.errors)}  wrong {len(self.wrong)}  "
                f"busy {self.busy}  refusals {self.refusals}")


async def ordinary(url: str, number: int, seconds: float, period: float, tally: Tally, cookie=None,
                   fresh: bool = False) -> None:
    """A visitor who opens the explorer at its own function and types a new power every ``period`` s.

    With ``fresh``, every request comes from a new visitor instead: a new session opened at a link.
    """
    await asyncio.sleep(random.uniform(0, period))  # visitors do not arrive in lock step
    end = time.perf_counter() + seconds
    if fresh:
        step = 0
        while time.perf_counter() + period < end:
            started = time.perf_counter()
            k, i = 2 + (number + step) % 5, next(_UNASKED)
            async with Visitor(url, cookie=cookie) as v:
                run = await v.run(query=explorer_query(ordinary_function(k, i)), page="")
            _score(run, (k, i), tally)
            step += 1
            await asyncio.sleep(max(0.0, period - (time.perf_counter() - started)))
        return
    async with Visitor(url, cookie=cookie) as v:
        k = 2 + number % 4
        i = next(_UNASKED)
        run = await v.run(query=explorer_query(ordinary_function(k, i)), page="")
        _score(run, (k, i), tally)
        try:
            editor = run.widget("text_area", "Function")
        except LookupError:
            tally.errors.append("no function editor on the page")
            return
        step = 0
        while time.perf_counter() + period < end:
            await asyncio.sleep(max(0.0, period - run.seconds))
            step += 1
            k = 2 + (number + step) % 5
            i = next(_UNASKED)
            run = await v.run(widgets={editor: ordinary_function(k, i)}, fragment=run.fragments.get(editor, ""))
            _score(run, (k, i), tally)


def _score(run: Run, ki: tuple[int, int], tally: Tally) -> None:
    if run.status != "finished":
        tally.errors.append(f"{ordinary_function(*ki)}: no answer in {REQUEST_TIMEOUT:g} s")
        return
    tally.seconds.append(run.seconds)
    got = answer(run)
    if got is None:
        busy = [w for w in run.warnings() if "busy" in w.lower() or "queue" in w.lower()]
        if busy:
            tally.busy += 1
        else:
            tally.errors.append(f"{ordinary_function(*ki)}: {(run.errors() or ['no answer on the page'])[0]}")
    elif not is_right(got, expected(*ki)):
        tally.wrong.append(f"{ordinary_function(*ki)}: got {got}, want {expected(*ki)}")


ABUSIVE_FUNCTIONS = (
    "[0] * 10**8",                       # Python list repetition
    "outer(x, x)",                       # with x = rand(10**7): a huge tensor
    "(" * 200 + "x" + ")" * 200,         # deep nesting
    "x" + " + x" * 1000,                 # a long chain
    "9**9**9",                           # a huge number
    "x.__class__.__mro__",               # a dunder chain
    "torch.load",
)
TSNE_HEAVIEST = {"tsne_dataset": "blobs", "tsne_n": "5000", "tsne_iterations": "20000", "tsne_all": "true"}


async def abusive(url: str, number: int, seconds: float, tally: Tally, cookie=None) -> None:
    """A visitor who tries to take the server down: budget busters, the largest t-SNE, bursts of reruns."""
    end = time.perf_counter() + seconds
    async with Visitor(url, cookie=cookie) as v:
        run = await v.run(query=explorer_query("x"), page="")
        step = 0
        while time.perf_counter() < end:
            step += 1
            kind = step % 3
            if kind == 0:  # the largest t-SNE, from a URL, and Start
                run = await v.run(query=urllib.parse.urlencode(TSNE_HEAVIEST), page="tsne")
                try:
                    start = run.widget("button", "Start")
                except LookupError:
                    tally.errors.append("t-SNE page without a Start button")
                    continue
                run = await v.run(widgets={start: "trigger"}, timeout=10)
                tally.refusals += bool(run.errors() or run.warnings())
                # leave mid-run: the next request navigates away, which must cancel the run
            elif kind == 1:  # budget busters
                source = ABUSIVE_FUNCTIONS[step % len(ABUSIVE_FUNCTIONS)]
                query = urllib.parse.urlencode({"mode": "function", "f": source, "var_x": "rand(10**7)"})
                run = await v.run(query=query, page="")
                if run.status == "finished":
                    tally.seconds.append(run.seconds)
                    tally.refusals += bool(run.errors())
                else:
                    tally.errors.append(f"{source[:30]}: no answer in {REQUEST_TIMEOUT:g} s")
            else:  # a burst of reruns that do not wait for each other
                for j in range(10):
                    await v.run(query=explorer_query(f"sin(x)*{number}+{step}+{j}"), page="", wait=False)
                    await asyncio.sleep(0.05)
                await v.drain()
            await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------
# The server under test, and its memory.

@contextlib.contextmanager
def served(extra: tuple[str, ...] = ()):
    """``streamlit run app.py`` on a free port of 127.0.0.1 (``explorer.local_app``); yields (url, pid)."""
    with local_app.running(*extra) as app:
        yield app.url, app.process.pid


@contextlib.contextmanager
def proxied(replicas: int):
    """``deploy/serve.py``: nginx in front of ``replicas`` replicas, on free ports; yields (url, pid of the
    command, whose process tree holds nginx, the replicas and their workers)."""
    port = free_port()
    run = Path(tempfile.mkdtemp(prefix="load-proxy-"))
    proc = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", str(replicas),
                             "--port", str(port), "--first-port", "0", "--run-dir", str(run)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("serving on"):
            raise RuntimeError(f"deploy/serve.py did not start: {line}")
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


# The floor: Streamlit serving the same answer with nothing else. It reads k and i with a regular expression
# (user text never reaches eval), and computes the value and gradient with torch, as a one-line page would.
FLOOR_PAGE = """\
import re, streamlit as st, torch
source = st.text_area("Function", st.query_params.get("f", ""))
k, i = map(int, re.fullmatch(r"x\\*\\*(\\d+) \\+ (\\d+)\\*x", source).groups())
x = torch.tensor([float(st.query_params.get("var_x", "3"))], requires_grad=True)
f = x**k + i * x
f.backward()
st.code(f"f = {f.detach()}\\nx.grad = {x.grad}")
"""


@contextlib.contextmanager
def floor_served():
    """:data:`FLOOR_PAGE` served by ``streamlit run`` on a free port of 127.0.0.1, from the repository's root
    (so with its ``.streamlit/config.toml``); yields (url, pid)."""
    folder = Path(tempfile.mkdtemp(prefix="load-floor-"))
    script = folder / "floor.py"
    script.write_text(FLOOR_PAGE)
    port = free_port()
    with open(folder / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                                 "--server.address", "127.0.0.1"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield url, proc.pid
    finally:
        local_app.stop(proc)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the sandbox's fork server and workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its descendants, those that ended included (as far as
    they were waited for)."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> float:
    """Memory of process ``pid`` and all its descendants (the sandbox's workers), in MB.

    Proportional set sizes (``Pss`` of /proc/*/smaps_rollup): a page that
    forked workers share with their fork server counts once in all, not once
    per process as resident sizes would.
    """
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


# ---------------------------------------------------------------------------
# The run.

async def load(url: str, sessions: int, abusive_sessions: int, seconds: float, period: float,
               cookies: bool = False, fresh: bool = False) -> tuple[Tally, Tally]:
    """``sessions`` ordinary visitors (and ``abusive_sessions`` abusive ones) for ``seconds`` s."""
    calm, rough = Tally(), Tally()
    cookie = (lambda n: f"explorer_route=visitor{n}") if cookies else (lambda n: None)
    tasks = [ordinary(url, n, seconds, period, calm, cookie(n), fresh) for n in range(sessions)]
    tasks += [abusive(url, n, seconds, rough, cookie(sessions + n)) for n in range(abusive_sessions)]
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), seconds + 4 * REQUEST_TIMEOUT)
    for r in results:
        if isinstance(r, BaseException):
            calm.errors.append(f"a visitor failed: {type(r).__name__}: {r}")
    return calm, rough


async def warm_up(url: str, seconds: float = 0.0, sessions: int = 20) -> None:
    """One visit, then ``seconds`` of ordinary load, so that the figures are of a warm server.

    Forked workers copy their fork server's memory pages as they touch them
    (CPython writes reference counts into every object it uses): about 100 MB
    in the first 20 s of load, then flat. Memory growth is measured after that.
    """
    async with Visitor(url) as v:
        await v.run(query=explorer_query(ordinary_function(2, 0)), page="", timeout=120)
    if seconds:
        await load(url, sessions, 0, seconds, 2.0)


async def first_visit(url: str) -> Run:
    async with Visitor(url) as v:
        return await v.run(query=explorer_query(ordinary_function(3, 7)), page="", timeout=120)


@dataclass
class Step:
    """One step of a ramp against one server: what the visitors got, and what the server spent."""

    server: str
    sessions: int
    seconds: float
    tally: Tally
    cpu: float  # CPU seconds of the server and its workers during the step

    @property
    def offered(self) -> float:
        return self.sessions / PERIOD

    @property
    def rate(self) -> float:
        """Right answers a second."""
        return self.tally.right() / self.seconds

    def line(self) -> str:
        t = self.tally
        per = 1000 * self.cpu / max(1, len(t.seconds))
        return (f"{self.server:<9} {self.sessions:4d} visitors ({self.offered:5.1f}/s offered): {self.rate:6.1f} "
                f"right/s  p95 {t.p95():6.3f} s  errors {len(t.errors)}  wrong {len(t.wrong)}  busy {t.busy}  "
                f"cpu {per:5.1f} ms/request  {'held' if t.held() else 'NOT held'}")


PERIOD = 2.0  # seconds between a visitor's requests in a ramp


def ramp(servers: dict[str, tuple[str, int | None]], steps: list[int], seconds: float,
         cookies: bool = False) -> dict[str, list[Step]]:
    """Each step of ``steps`` visitors, ``seconds`` long, against each server in turn (the same step, one
    right after the other); a server that fails to hold a step is not asked for more. ``cookies``: each
    visitor sends its own routing cookie (replicas behind nginx)."""
    done: dict[str, list[Step]] = {name: [] for name in servers}
    for sessions in steps:
        for name, (url, pid) in servers.items():
            if done[name] and not done[name][-1].tally.held():
                continue
            before = cpu_seconds(pid) if pid else 0.0
            started = time.perf_counter()
            calm, _ = asyncio.run(load(url, sessions, 0, seconds, PERIOD, cookies))
            wall = time.perf_counter() - started
            step = Step(name, sessions, wall, calm, (cpu_seconds(pid) - before) if pid else float("nan"))
            done[name].append(step)
            print(step.line(), flush=True)
            for item in (calm.errors + calm.wrong)[:3]:
                print(f"    {item}")
            time.sleep(2.0)  # the last step's sessions close
    return done


def highest_held(steps: list[Step]) -> str:
    held = [s for s in steps if s.tally.held()]
    if not held:
        return "holds none of the steps"
    best = max(held, key=lambda s: s.rate)
    return (f"holds {best.rate:.0f} right answers/s ({best.sessions} visitors) at p95 {best.tally.p95():.2f} s, "
            f"{1000 * best.cpu / max(1, len(best.tally.seconds)):.1f} ms CPU a request")


def main() -> int:
    try:   # the client's own loop in C: it shares the server's cores, and takes less of them so
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="ordinary visitors (default 20)")
    parser.add_argument("--abusive", type=int, default=0, help="abusive visitors among them (default 0)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (default 60)")
    parser.add_argument("--period", type=float, default=2.0, help="seconds between a visitor's requests")
    parser.add_argument("--url", help="a running server (127.0.0.1 only); default: start one here")
    parser.add_argument("--cookies", action="store_true", help="send each visitor its own routing cookie")
    parser.add_argument("--proxy", type=int, default=0, metavar="N",
                        help="serve through nginx with N replicas (deploy/serve.py); implies --cookies")
    parser.add_argument("--warm-up", type=float, default=20.0, help="seconds of load before measuring (default 20)")
    parser.add_argument("--fresh", action="store_true", help="every request from a new visitor (a new session)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--floor", action="store_true",
                        help="also serve the one-line floor page (same config) and run the same visitors on it")
    parser.add_argument("--ramp", metavar="N,N,...",
                        help="visitors per step (each --seconds long, a request every 2 s each), e.g. 20,60,120,240,300: "
                             "prints the highest rate each server holds at p95 <= 1 s with every answer right")
    args = parser.parse_args()
    if args.url and urllib.parse.urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("the load test only ever targets 127.0.0.1")
    if args.ramp or args.floor:
        return compare(args)

    with contextlib.ExitStack() as stack:
        if args.url:
            url, pid = args.url.rstrip("/"), None
            wait_healthy(url)
        elif args.proxy:
            url, pid = stack.enter_context(proxied(args.proxy))
            args.cookies = True
        else:
            url, pid = stack.enter_context(served())
        first = asyncio.run(first_visit(url))
        at_start = memory_mb(pid) if pid else float("nan")
        asyncio.run(warm_up(url, args.warm_up))
        before = memory_mb(pid) if pid else float("nan")
        print(f"server {url}: first visit {first.seconds:.2f} s ({first.status}); memory {at_start:.0f} MB at "
              f"the start, {before:.0f} MB after {args.warm_up:g} s of warm-up load", flush=True)
        started = time.perf_counter()
        calm, rough = asyncio.run(load(url, args.sessions, args.abusive, args.seconds, args.period, args.cookies,
                                       args.fresh))
        wall = time.perf_counter() - started
        after = memory_mb(pid) if pid else float("nan")
    where = f"through nginx, {args.proxy} replica{'s' if args.proxy > 1 else ''}" if args.proxy else "direct"
    print(f"{args.sessions} ordinary + {args.abusive} abusive sessions ({where}), a new function every "
          f"{args.period:g} s, for {args.seconds:g} s (wall {wall:.0f} s)")
    print(calm.line("ordinary"))
    if args.abusive:
        print(rough.line("abusive"))
    print(f"server memory: {before:.0f} MB after warm-up, {after:.0f} MB at the end "
          f"(growth {after - before:+.0f} MB)")
    for kind, items in (("error", calm.errors), ("wrong answer", calm.wrong), ("abusive error", rough.errors)):
        for item in items[:5]:
            print(f"  {kind}: {item}")
    if args.json:
        print(json.dumps({"ordinary": calm.__dict__, "abusive": rough.__dict__, "first_visit": first.seconds,
                          "memory_before_mb": before, "memory_after_mb": after}, default=str))
    return 0


def compare(args: argparse.Namespace) -> int:
    """``--floor`` and ``--ramp``: the explorer (and the floor page) under the same steps, one after the other."""
    steps = [int(n) for n in args.ramp.split(",")] if args.ramp else [args.sessions]
    with contextlib.ExitStack() as stack:
        if args.url:
            explorer = (args.url.rstrip("/"), None)
        elif args.proxy:
            explorer = stack.enter_context(proxied(args.proxy))
        else:
            explorer = stack.enter_context(served())
        servers = {"explorer": explorer}
        if args.floor:
            servers["floor"] = stack.enter_context(floor_served())
        for name, (url, _) in servers.items():
            first = asyncio.run(first_visit(url))
            asyncio.run(warm_up(url, args.warm_up))
            print(f"{name} {url}: first visit {first.seconds:.2f} s ({first.status}), warmed up {args.warm_up:g} s",
                  flush=True)
        print(f"steps of {args.seconds:g} s, each visitor asking for a new function every {PERIOD:g} s; "
              f"held = p95 <= 1 s, every answer right, no error, no busy notice")
        done = ramp(servers, steps, args.seconds, cookies=bool(args.proxy or args.cookies))
    for name, server_steps in done.items():
        print(f"{name:<9} {highest_held(server_steps)}")
    if args.json:
        print(json.dumps({name: [{"sessions": s.sessions, "rate": s.rate, "p95": s.tally.p95(), "held": s.tally.held(),
                                  "errors": len(s.tally.errors), "wrong": len(s.tally.wrong), "busy": s.tally.busy,
                                  "cpu_seconds": s.cpu} for s in server_steps] for name, server_steps in done.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
