"""How long the command line takes to start: ``python -m explorer --help`` against a bare ``python -c pass``.

Run: python bench/cli_start.py [--runs 20]

Prints the median and best wall time of each over ``--runs`` runs (each a
fresh interpreter), and the difference, which the package keeps under half a
second: ``--help`` loads neither torch nor any subcommand's library modules.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bare = timed(["-c", "pass"], args.runs)
    cli = timed(["-m", "explorer", "--help"], args.runs)
    for name, times in (("python -c pass", bare), ("python -m explorer --help", cli)):
        print(f"{name:<28} median {statistics.median(times) * 1e3:7.1f} ms   best {min(times) * 1e3:7.1f} ms")
    print(f"{'--help beyond a bare start':<28} median {(statistics.median(cli) - statistics.median(bare)) * 1e3:7.1f} ms"
          f"   best {(min(cli) - min(bare)) * 1e3:7.1f} ms   (goal: under 500 ms)")


if __name__ == "__main__":
    main()
