"""What every derivative shares: budgets checked before any work starts, and the timing of the work.

A request may ask for a Jacobian of ``MAX_ENTRIES`` entries and spend
``MAX_WORK`` operations on passes over the function; both are checked with
the dry run's counts before anything is computed, so a refusal costs
nothing. What PyTorch itself refuses (an operation without a forward-mode
formula, say) comes back as an :class:`~explorer.ExpressionError` too.

>>> try:
...     check_entries("Jacobian", 2000, 2000, MAX_ENTRIES)
... except ExpressionError as err:
...     print(err.message)
the Jacobian would have 2,000 × 2,000 = 4,000,000 entries (at most 1,000,000): use smaller inputs
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

from explorer.checks import whole_number
from explorer.expression import ExpressionError, first_line

MAX_ENTRIES = 1_000_000
"""Entries of a Jacobian or Hessian (over all inputs) that one request may ask for."""

MAX_WORK = 20_000_000_000
"""Operations one request may spend on passes over the function: ten evaluations at the engine's own
limit (:attr:`explorer.expression.Limits.max_work`); the sandbox's wall-clock limit stops the rest."""


def check_entries(what: str, rows: int, cols: int, max_entries: int) -> None:
    """Refuse, before computing, a matrix of ``rows × cols`` entries over the budget."""
    if rows * cols > max_entries:
        raise ExpressionError(f"the {what} would have {rows:,} × {cols:,} = {rows * cols:,} entries "
                              f"(at most {max_entries:,}): use smaller inputs")


def check_work(what: str, passes: int, work_per_pass: int, max_work: int) -> None:
    """Refuse, before computing, ``passes`` passes over a function whose dry run counted ``work_per_pass``."""
    work = passes * max(work_per_pass, 1)
    if work > max_work:
        raise ExpressionError(f"the {what} needs {passes:,} passes over the function, about {work:,} operations "
                              f"(at most {max_work:,}): use smaller inputs")


def check_budgets(max_entries: int, max_work: int) -> None:
    """The budgets a caller gave are whole numbers of at least 1 (``ValueError`` otherwise)."""
    for name, value in (("max_entries", max_entries), ("max_work", max_work)):
        whole_number(value, name, least=1)


def check_repeat(repeat: int) -> None:
    """How many timed runs: a whole number from 1 to 100 (``ValueError`` otherwise)."""
    whole_number(repeat, "repeat", least=1, most=100)


def torch_refusal(what: str, err: BaseException) -> ExpressionError:
    """What PyTorch raised while computing ``what``, as a refusal."""
    return ExpressionError(f"PyTorch could not compute the {what}: {first_line(err)}")


def best_time(compute: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """``compute()`` and its best wall-clock time in seconds over ``repeat`` runs, after one untimed run.

    The untimed run pays for what happens once (``vmap`` tracing, allocator
    warm-up), so that the times compare the methods, not their first calls.

    >>> value, seconds = best_time(lambda: 2 + 2, repeat=3)
    >>> value, seconds < 1
    (4, True)
    """
    result = compute()
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = compute()
        best = min(best, time.perf_counter() - start)
    return result, best


__all__ = ["MAX_ENTRIES", "MAX_WORK", "best_time", "check_budgets", "check_entries", "check_repeat", "check_work",
           "torch_refusal"]
