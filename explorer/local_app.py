"""The app served on this machine: ``streamlit run app.py`` on a free port of 127.0.0.1, for scripts.

The one way the tests, the benchmarks and ``python -m explorer shot`` start a
real server: with the project's ``.streamlit/config.toml`` (it runs from the
repository's root), on 127.0.0.1 only (never reachable from another
machine), and ready once its health check answers (the server warms its
sandbox workers before that, so the first page does not wait for torch).
No Streamlit import here: the server is another process.

>>> with running(log=Path(tempfile.gettempdir()) / "app.log") as app:  # doctest: +SKIP
...     app.url
'http://127.0.0.1:40123'
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
START_TIMEOUT = 180.0  # seconds: a cold start imports torch and forks the sandbox's workers on a busy CI machine


class AppDidNotStart(RuntimeError):
    """The server exited or stayed unhealthy; the message ends with the tail of its log."""


@dataclass
class LocalApp:
    """A running ``streamlit run app.py``: its process, its URL and where its output goes."""

    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        """Terminate the server (its sandbox workers go with it), then kill it if it lingers."""
        stop(self.process)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now.

    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    """Wait until Streamlit's ``/_stcore/health`` at ``url`` answers ``ok``; RuntimeError past ``timeout``
    or as soon as ``proc`` (the server, when we started it) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not become healthy")


def start(*streamlit_args: str, log: Path | None = None, env: dict[str, str] | None = None,
          timeout: float = START_TIMEOUT) -> LocalApp:
    """Start ``streamlit run app.py`` on a free port of 127.0.0.1 and return it once healthy.

    ``streamlit_args`` are extra options (``"--server.maxMessageSize", "64"``);
    ``log`` receives the server's output (a file in the temporary folder by
    default); ``env`` adds to the environment. AppDidNotStart, with the tail
    of the log, when it does not come up within ``timeout`` seconds.
    """
    if not APP.exists():
        raise AppDidNotStart(f"{APP} is missing: this command needs the repository's checkout")
    port = free_port()
    log = log or Path(tempfile.gettempdir()) / f"explorer_app_{port}.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
             "--server.address", "127.0.0.1", *streamlit_args],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    app = LocalApp(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_healthy(app.url, proc, timeout=timeout)
    except RuntimeError:
        app.stop()
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise AppDidNotStart(f"streamlit did not start (log {log}):\n{tail}") from None
    return app


def stop(proc: subprocess.Popen) -> None:
    """Terminate ``proc``; kill it if it has not exited 15 seconds later."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running(*streamlit_args: str, log: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = START_TIMEOUT) -> Iterator[LocalApp]:
    """:func:`start` as a ``with`` block: the server stops when the block ends, however it ends."""
    app = start(*streamlit_args, log=log, env=env, timeout=timeout)
    try:
        yield app
    finally:
        app.stop()
