"""What the tutorial outputs cost: the backward animation and the offline file, for the seed examples.

    python bench/animation.py [--repeat 3]

For each example (the seed polynomial, seed 001's w1..w6 chain, seed 003's sin(Ax + b), and a
longer chain): its steps, the time to draw every frame (Graphviz, twice a frame) and put them
together (Pillow), the GIF and WebP sizes, and the offline HTML file's time and size. Goals (issue
21): the seed polynomial's animation and offline file each under 2 MB. Best of ``--repeat`` runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import explorer  # noqa: E402
from explorer.animation import Animation  # noqa: E402
from explorer.offline import offline_html  # noqa: E402
from explorer.presets import preset  # noqa: E402

EXAMPLES = {
    "seed polynomial": lambda: explorer.explore("x**3 + 2*x**2 + 8*x", x=4),
    "w1..w6 chain": lambda: preset("poly_w").explore(),
    "sin(Ax + b)": lambda: preset("sin_affine").explore(),
    "tanh chain of 30": lambda: explorer.explore("tanh(" * 30 + "x" + ")" * 30, x=0.5),
}


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def drawn(movie: Animation) -> Animation:
    movie.images   # every frame drawn and composed (cached on the object)
    return movie


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'example':18} {'steps':>5} {'frames s':>9} {'GIF MB':>7} {'WebP MB':>8} {'HTML s':>7} {'HTML MB':>8}")
    for name, make in EXAMPLES.items():
        ex = make()
        seconds, movie = best(lambda: drawn(Animation(ex)), args.repeat)
        gif, webp = movie.encoded("gif"), movie.encoded("webp")
        html_seconds, page = best(lambda: offline_html(ex), args.repeat)
        print(f"{name:18} {len(ex.nodes):5d} {seconds:9.2f} {len(gif) / 1e6:7.3f} {len(webp) / 1e6:8.3f} "
              f"{html_seconds:7.2f} {len(page.encode()) / 1e6:8.3f}")


if __name__ == "__main__":
    main()
