"""What several test folders share: a real ``streamlit run app.py`` on a free port of 127.0.0.1."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def serve(log: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` with the project's config on a free port; return it and its URL once
    it answers its health check (the server warms its workers first)."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", *args],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout=180)
    except RuntimeError:
        proc.kill()
        pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The URL of a real ``streamlit run app.py`` server, started once for the session."""
    proc, url = serve(tmp_path_factory.mktemp("streamlit") / "server.log")
    yield url
    stop(proc)
