"""Start N replicas of the app and nginx in front of them, on this machine.

    python deploy/serve.py --replicas 2 --port 8080
    python deploy/serve.py --replicas 2 --port 8080 --remote 10.0.0.7:8501 --remote 10.0.0.8:8501
    python deploy/serve.py --replicas 2 --print-config

Each replica is ``streamlit run app.py`` on its own port of 127.0.0.1 (from
``--first-port`` up), told its share of the machine (``EXPLORER_MACHINE_SHARE``)
so that the replicas' sandbox workers together fit the cores and memory.
nginx (Debian's) listens on ``--port`` with sticky sessions and websocket
upgrade (``deploy/nginx.conf.template``); ``--remote`` adds replicas that run
on other machines (started there with ``make app`` or this command with
``--replicas N --no-proxy``) to the same upstream. Everything runs in the
foreground and stops together on Ctrl-C. nginx's files go to ``--run-dir``.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer import local_app  # noqa: E402
from explorer.local_app import free_port  # noqa: E402

TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def nginx_config(listen: str, servers: list[str], run: Path, access_log: str = "off") -> str:
    """The nginx configuration for ``servers`` ("host:port" each), listening on ``listen``."""
    lines = "\n".join(f"        server {s} max_fails=3 fail_timeout=10s;" for s in servers)
    text = TEMPLATE.read_text()
    for key, value in {"listen": listen, "servers": lines, "run": str(run), "access_log": access_log}.items():
        text = text.replace("{" + key + "}", value)
    return text


def start_replicas(ports: list[int], address: str, log_dir: Path, share: float) -> list[subprocess.Popen]:
    """``streamlit run app.py`` on each of ``ports``, one shared cookie secret (a reconnect may reach any)."""
    secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
    env = {**os.environ, "EXPLORER_MACHINE_SHARE": f"{share:.4f}", "PYTHONUNBUFFERED": "1",
           "STREAMLIT_SERVER_COOKIE_SECRET": secret}
    procs = []
    for i, port in enumerate(ports):
        log = open(log_dir / f"replica-{i}.log", "wb")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", address],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env))
    return procs


def wait_healthy(url: str, proc: subprocess.Popen) -> None:
    try:
        local_app.wait_healthy(url, proc, timeout=local_app.START_TIMEOUT)
    except RuntimeError:
        raise SystemExit(f"{url} did not become healthy (see the logs in the run folder)") from None


def start_nginx(config: str, run: Path) -> subprocess.Popen:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (Debian: apt-get install nginx)")
    path = run / "nginx.conf"
    path.write_text(config)
    check = subprocess.run([nginx, "-t", "-q", "-c", str(path), "-p", str(run)], capture_output=True, text=True)
    if check.returncode:
        raise SystemExit(f"nginx refused its configuration:\n{check.stderr}")
    return subprocess.Popen([nginx, "-c", str(path), "-p", str(run), "-g", "daemon off;"])


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def _interrupted(*_) -> None:
    raise KeyboardInterrupt  # a SIGTERM stops everything as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="replicas on this machine (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--listen", default="", help="nginx's address:port (default 127.0.0.1:PORT)")
    parser.add_argument("--first-port", type=int, default=8501,
                        help="the first replica's port, the others follow (default 8501; 0: any free ports)")
    parser.add_argument("--address", default="127.0.0.1", help="the replicas' address (0.0.0.0 for --no-proxy "
                                                              "replicas that another machine's nginx reaches)")
    parser.add_argument("--remote", action="append", default=[], help="host:port of a replica on another machine")
    parser.add_argument("--no-proxy", action="store_true", help="start the replicas only")
    parser.add_argument("--run-dir", default="", help="where nginx keeps its files (default: a temporary folder)")
    parser.add_argument("--print-config", action="store_true", help="print nginx's configuration and exit")
    args = parser.parse_args(argv)
    if args.replicas < 0 or (args.replicas == 0 and not args.remote):
        parser.error("give at least one replica, here or --remote")
    run = Path(args.run_dir or f"/tmp/explorer-nginx-{args.port}")
    run.mkdir(parents=True, exist_ok=True)
    ports = [free_port() if not args.first_port else args.first_port + i for i in range(args.replicas)]
    servers = [f"127.0.0.1:{port}" for port in ports] + args.remote
    config = nginx_config(args.listen or f"127.0.0.1:{args.port}", servers, run)
    if args.print_config:
        print(config)
        return 0
    procs = start_replicas(ports, args.address, run, 1.0 / max(1, args.replicas))
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        for port, proc in zip(ports, procs):
            wait_healthy(f"http://127.0.0.1:{port}", proc)
        if not args.no_proxy:
            procs.append(start_nginx(config, run))
            wait_healthy(f"http://{args.listen or f'127.0.0.1:{args.port}'}", procs[-1])
            print(f"serving on http://{args.listen or f'127.0.0.1:{args.port}'} through nginx: "
                  f"{', '.join(servers)}", flush=True)
        else:
            print(f"replicas ready: {', '.join(servers)}", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return 1  # one of them died
    except KeyboardInterrupt:
        return 0
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main())
