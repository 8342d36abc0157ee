"""How long each page of the app takes to appear in a real browser, against a one-line Streamlit page.

    python bench/app_latency.py [--visits 5] [--pages explore,jacobian] [--trace explore]

Each visit is what a new visitor's is: a fresh Chromium context (nothing
cached in the browser) opening the page's URL with a function or setting
never asked before (nothing cached on the server either). A visit is timed
from navigation until the page's main content is drawn (the explorer's
graph, a lab page's chart or lessons, a demo's settings), read from the
page's own clock: a script the bench adds to every page notes the frame
in which that content appeared (``performance.now()``), so the test
driver's polling, slower for a drawing inside an iframe than for a line of
text, weighs on neither side. The visit ends once the page has *settled*
(Streamlit says its script has finished); the seconds the driver saw until
then are printed too, for comparison. The reference is a Streamlit
page that writes one line, served by ``streamlit run`` the same way and
opened the same way in the same run, in rounds with the pages (the
reference, then each page, again), so that a spell of a slower machine
weighs on both alike: the framework's own floor. Goals: the
explorer's graph within 1.5 times the reference, every other page within 2
times. The very first visit after the server starts is reported on its own.

``--trace PAGE`` records Chromium's performance trace (through the DevTools
protocol) of one cold visit to PAGE and of the reference, and prints where
each spent its main thread: scripts evaluated, functions run, style and
layout, and the JavaScript each loaded. Streamlit's own timing of the
script runs comes back in its ``page_profile`` messages (exec time, per
command).
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import served  # noqa: E402
from explorer.local_app import free_port, wait_healthy  # noqa: E402
from explorer.shots import CHROMIUM, CHROMIUM_ARGS, RUN_DRAWN  # noqa: E402

GOALS = {"explore": 1.5}  # times the reference; every other page: 2
CHART = "svg.explorer-chart"


@dataclass(frozen=True)
class Page:
    """A page, a URL that asks it something new on visit ``i``, and what is drawn once it has settled."""

    name: str
    url: str                    # with {i}: the visit's number
    drawn: str                  # a selector, in the page or (with frame) in an iframe
    frame: str | None = None

    def link(self, base: str, i: int) -> str:
        return base + self.url.format(i=i, k=i + 2)


PAGES = (
    Page("explore", "/?f=x**3%2B{i}*x&var_x=2", "#view svg", 'iframe[title="Annotated autograd graph"]'),
    Page("jacobian", "/jacobian?jac_f=sin(A%20@%20x%20%2B%20b)*{k}", CHART),
    Page("higher-order", "/higher-order?ho_f=sin(x)*{k}", "#view svg", 'iframe[title="Graph of the derivative"]'),
    Page("four-ways", "/four-ways?cmp_f=log(x[0]*x[1])*sin(x[1])*{k}", CHART),
    Page("mechanics", "/mechanics?mech_f=x**3%2B2*x**2%2B{k}*x", "text=backward through the graph a second time"),
    Page("regression", "/regression?regression_seed={i}", "text=stable for learning rates below"),
    Page("tsne", "/tsne?tsne_seed={i}", "text=points of"),
)
REFERENCE = Page("reference: a one-line page", "/?v={i}", "text=hello, autograd")


# Notes in window.__drawn the moment (ms from navigation) the target first is in the page, checked each frame.
_CLOCK = """(([frame, drawn]) => {
  const text = drawn.startsWith("text=") ? drawn.slice(5) : null;
  const check = () => {
    const root = frame ? document.querySelector(frame)?.contentDocument : document;
    const found = root && (text ? root.body?.textContent.includes(text) : root.querySelector(drawn));
    if (found) window.__drawn = performance.now(); else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})(%s);"""


def settle(page, target: Page, timeout: float = 120.0) -> None:
    """Wait until ``target`` is drawn and Streamlit has run the script and drawn all of it."""
    where = page.frame_locator(target.frame) if target.frame else page
    where.locator(target.drawn).first.wait_for(timeout=timeout * 1000)
    page.wait_for_function(f"() => ({RUN_DRAWN})() === true", timeout=timeout * 1000)


def visit(browser, target: Page, base: str, i: int, trace: str | None = None) -> tuple[float, float]:
    """Seconds from navigation until the page's content is drawn (its own clock), and until the driver saw it
    settled; in a fresh browser context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(_CLOCK % json.dumps([target.frame, target.drawn]))
    page = context.new_page()
    try:
        if trace:
            browser.start_tracing(page=page, path=trace, categories=["devtools.timeline", "v8"])
        start = time.perf_counter()
        page.goto(target.link(base, i))
        settle(page, target)
        seen = time.perf_counter() - start
        return page.evaluate("() => window.__drawn") / 1000, seen
    finally:
        if trace:
            browser.stop_tracing()
        context.close()


def main_thread(trace: str) -> list[tuple[str, float]]:
    """Milliseconds of the renderer's main thread by event name, the top-level tasks first."""
    with open(trace) as f:
        events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    spent: collections.Counter = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and (e["pid"], e["tid"]) in mains and "dur" in e:
            spent[e["name"]] += e["dur"] / 1000
    wanted = ("RunTask", "v8.evaluateModule", "v8.compile", "FunctionCall", "ParseHTML", "UpdateLayoutTree",
              "Layout", "Paint", "MinorGC", "MajorGC")
    return [(name, spent[name]) for name in wanted if spent[name]]


def scripts_loaded(browser, target: Page, base: str, i: int) -> tuple[int, float]:
    """How many script files a cold visit loads, and their megabytes."""
    context = browser.new_context()
    page = context.new_page()
    sizes = []
    page.on("requestfinished", lambda r: sizes.append(r.sizes()["responseBodySize"]) if r.url.endswith(".js")
            else None)
    try:
        page.goto(target.link(base, i))
        settle(page, target)
        return len(sizes), sum(sizes) / 1e6
    finally:
        context.close()


def reference_server(folder: Path) -> tuple[subprocess.Popen, str]:
    script = folder / "hello.py"
    script.write_text("import streamlit as st\nst.write('hello, autograd')\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc)
    return proc, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=5, help="cold visits per page (default 5); the median counts")
    parser.add_argument("--pages", default=",".join(p.name for p in PAGES), help="pages to visit (comma-separated)")
    parser.add_argument("--trace", metavar="PAGE", help="record and summarise Chromium's trace of one cold visit")
    args = parser.parse_args()
    pages = [p for p in PAGES if p.name in args.pages.split(",")]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        ref_proc, ref_url = reference_server(Path(folder))
        try:
            visit(browser, REFERENCE, ref_url, 0)  # the reference server's own first run
            with served() as (url, _):
                first, _ = visit(browser, PAGES[0], url, 10_000)
                # Rounds: the reference, then each page, again and again, so that a machine that is slower
                # for a while slows both alike.
                floor, times = [], {target: [] for target in pages}
                for i in range(args.visits):
                    floor.append(visit(browser, REFERENCE, ref_url, i + 1))
                    for target in pages:
                        times[target].append(visit(browser, target, url, i))
                rows = list(times.items())
                for target, seconds in [(REFERENCE, floor)] + rows:
                    print(f"  {target.name}: {', '.join(f'{t:.2f} ({s:.2f})' for t, s in seconds)}", file=sys.stderr,
                          flush=True)
                if args.trace:
                    target = next(p for p in PAGES if p.name == args.trace)
                    for who, page_url, place in ((REFERENCE, ref_url, "reference"), (target, url, target.name)):
                        path = str(Path(folder) / f"{place}.json")
                        seconds, _ = visit(browser, who, page_url, 20_000, trace=path)
                        count, megabytes = scripts_loaded(browser, who, page_url, 20_001)
                        print(f"\n{who.name}: {seconds:.2f} s; {count} scripts, {megabytes:.2f} MB")
                        for name, ms in main_thread(path):
                            print(f"  {ms:9.1f} ms  {name}")
        finally:
            ref_proc.terminate()
            browser.close()

    drawn = {target: [t for t, _ in seconds] for target, seconds in [(REFERENCE, floor)] + rows}
    seen = {target: statistics.median(s for _, s in seconds) for target, seconds in [(REFERENCE, floor)] + rows}
    reference = statistics.median(drawn[REFERENCE])
    print(f"\nCold visits in Chromium (fresh context, never-asked input): seconds from navigation to the page's "
          f"content drawn, by the page's clock; median of {args.visits}. Last column: the driver's view (until it "
          f"saw the page settled)")
    print(f"first visit after the server started: {first:.2f} s (goal 3 s)")
    print(f"{'page':<28}{'median':>8}{'min':>7}{'max':>7}{'x ref':>7}  goal{'':11}{'driver':>8}")
    print(f"{REFERENCE.name:<28}{reference:8.2f}{min(drawn[REFERENCE]):7.2f}{max(drawn[REFERENCE]):7.2f}{1:7.2f}"
          f"{'':17}{seen[REFERENCE]:8.2f}")
    met = True
    for target, _ in rows:
        times = drawn[target]
        median = statistics.median(times)
        goal = GOALS.get(target.name, 2.0)
        ok = median <= goal * reference
        met &= ok
        verdict = f"{goal:g}x {'meets' if ok else 'MISSES'}"
        print(f"{target.name:<28}{median:8.2f}{min(times):7.2f}{max(times):7.2f}{median / reference:7.2f}  "
              f"{verdict:<15}{seen[target]:8.2f}")
    print(f"every page {'meets' if met else 'does NOT meet'} its goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
