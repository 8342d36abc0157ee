"""Top-level functions for sandbox tests: a worker imports them by name (this module is not a test)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from explorer import ExpressionError
from explorer.sandbox import Unavailable


def count(n: int, pause: float = 0.0):
    """A stream of 0..n-1, ``pause`` seconds apart."""
    for i in range(n):
        if pause:
            time.sleep(pause)
        yield i


def slow_the_first_time(flag: str, seconds: float) -> str:
    """Sleeps ``seconds`` unless ``flag`` exists (it creates it): an overrun that a retry gets past."""
    path = Path(flag)
    if path.exists():
        return "fast"
    path.touch()
    time.sleep(seconds)
    return "slow"


def refuse(message: str) -> None:
    raise ExpressionError(message)


def fail() -> None:
    raise RuntimeError("a bug of ours")


def unavailable(message: str) -> None:
    raise Unavailable(message, retry_after=1.0)


def pid() -> int:
    return os.getpid()


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))
