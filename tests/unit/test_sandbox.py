"""The hard wall-clock limit: a worker process that is killed when it overruns."""
from __future__ import annotations

import time

import pytest

import explorer
from explorer import ExpressionError
from explorer.sandbox import run_isolated


def test_runs_a_function_and_returns_its_result():
    assert run_isolated(pow, 2, 10, timeout=30) == 1024


def test_an_overrun_is_stopped_and_the_next_call_still_works():
    run_isolated(pow, 1, 1, timeout=60)  # a warm worker, so the timing below is the job's alone
    start = time.monotonic()
    with pytest.raises(ExpressionError, match="longer than 0.5 s"):
        run_isolated(time.sleep, 60, timeout=0.5)
    assert time.monotonic() - start < 30
    assert run_isolated(pow, 3, 2, timeout=60) == 9


def test_expression_errors_come_back_as_expression_errors_with_their_place():
    with pytest.raises(ExpressionError) as err:
        run_isolated(explorer.parse, "sin(x +* 1)", timeout=60)
    assert err.value.column is not None


def test_an_exploration_comes_back_whole():
    ex = run_isolated(explorer.explore, "x**3 + 2*x**2 + 8*x", timeout=60, x=4, device="cpu")
    assert ex.grads["x"].tolist() == [72.0]
    assert ex.to_dot("annotated").startswith("digraph")
