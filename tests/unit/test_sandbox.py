"""The sandbox: hard time limits, queues with positions, one job per session, budgets, cancellation, streams.

Most tests use a small pool of their own (one light and one heavy worker), so
that queues form with a couple of jobs; the functions its workers run are in
``sandbox_jobs`` (a worker imports them by name).
"""
from __future__ import annotations

import time

import pytest

import explorer
from explorer import ExpressionError
from explorer import sandbox
from explorer.sandbox import (
    CHECKED_LAUNCHES, DONE, ITEM, Failure, Pool, Sizing, Unavailable, check_forkserver_launch, forkserver_launch_digest,
    outcome, run_isolated, stream,
)
from tests.unit import sandbox_jobs as jobs


@pytest.fixture(scope="module")
def small():
    """A pool of one light and one heavy worker, 1 GiB each, with short budgets and grace."""
    pool = Pool(Sizing(light=1, heavy=1, memory=2**30, light_threads=1, heavy_threads=1),
                queue={"light": 2, "heavy": 1}, owner_seconds={"light": 1.5, "heavy": 60.0}, grace=0.3)
    pool.start(wait=120)
    yield pool
    pool.close()


def wait_for(job, seconds: float = 60.0):
    """Read ``job`` to its end: ``(items, result)``, refusals raised."""
    return outcome(job, seconds)


def running(job, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while job.state == "queued" and time.monotonic() < deadline:
        job.next(0.05)


def test_runs_a_function_and_returns_its_result():
    assert run_isolated(pow, 2, 10, timeout=30) == 1024


def test_an_overrun_is_stopped_and_the_next_call_still_works():
    run_isolated(pow, 1, 1, timeout=60)  # a warm worker, so the timing below is the job's alone
    start = time.monotonic()
    with pytest.raises(Unavailable, match="longer than 0.5 s"):
        run_isolated(time.sleep, 60, timeout=0.5)
    assert time.monotonic() - start < 30
    assert run_isolated(pow, 3, 2, timeout=60) == 9


def test_expression_errors_come_back_as_expression_errors_with_their_place():
    with pytest.raises(ExpressionError) as err:
        run_isolated(explorer.parse, "sin(x +* 1)", timeout=60)
    assert err.value.column is not None
    assert not isinstance(err.value, Unavailable)  # a refusal of the input, the same on every try


def test_an_exploration_comes_back_whole():
    ex = run_isolated(explorer.explore, "x**3 + 2*x**2 + 8*x", timeout=60, x=4, device="cpu")
    assert ex.grads["x"].tolist() == [72.0]
    assert ex.to_dot("annotated").startswith("digraph")


def test_a_bug_of_ours_is_a_failure_with_its_traceback_for_the_log_and_an_apology_for_the_visitor(caplog):
    with pytest.raises(Failure) as err:
        run_isolated(jobs.fail, timeout=60)
    assert not isinstance(err.value, (ExpressionError, Unavailable))
    assert str(err.value) == err.value.message == Failure.APOLOGY and "bug" not in Failure.APOLOGY
    assert "RuntimeError: a bug of ours" in err.value.details and "Traceback" in err.value.details
    logged = [r for r in caplog.records if r.name == "explorer.sandbox"]
    assert logged and "RuntimeError: a bug of ours" in logged[-1].getMessage()


def test_a_plain_value_error_is_a_bug_not_a_refusal():
    # Settings a visitor chooses are refused with ExpressionError (a ValueError) by the library itself; any
    # other ValueError is a mistake in our code and must not be cached as the visitor's fault.
    with pytest.raises(Failure):
        run_isolated(int, "not a number", timeout=60)


def test_unavailable_is_not_a_refusal_of_the_input():
    assert not issubclass(Unavailable, ExpressionError) and not issubclass(Failure, ExpressionError)


def test_a_worker_out_of_memory_refuses_and_lives_on(small):
    job = small.submit(jobs.allocate, 4096, timeout=60)  # 4 GiB against a 1 GiB limit
    with pytest.raises(ExpressionError, match="more memory"):
        wait_for(job)
    assert wait_for(small.submit(jobs.allocate, 1, timeout=60))[1] == 2**20


def test_queue_positions_and_a_full_queue_is_busy(small):
    first = small.submit(time.sleep, 1.0, timeout=60)
    running(first)
    second = small.submit(pow, 2, 2, timeout=60)
    third = small.submit(pow, 2, 3, timeout=60)
    assert (first.position, second.position, third.position) == (0, 1, 2)
    with pytest.raises(Unavailable, match="busy") as err:
        small.submit(pow, 2, 4, timeout=60)
    assert err.value.retry_after
    second.cancel()  # leaves the queue: the third moves up
    assert third.position == 1
    assert wait_for(third)[1] == 8
    assert wait_for(first)[1] is None


def test_a_sessions_new_request_replaces_its_last(small):
    old = small.submit(time.sleep, 5, timeout=60, owner="session-a")
    running(old)
    new = small.submit(pow, 3, 3, timeout=60, owner="session-a")
    with pytest.raises(Unavailable, match="newer request"):
        wait_for(old)
    assert wait_for(new)[1] == 27


def test_a_session_over_its_budget_is_told_when_to_come_back(small):
    wait_for(small.submit(time.sleep, 1.6, timeout=60, owner="session-b"))
    with pytest.raises(Unavailable, match="used its 1.5 s of light computing") as err:
        small.submit(pow, 2, 2, timeout=60, owner="session-b")
    assert 1 <= err.value.retry_after <= 60
    assert wait_for(small.submit(pow, 2, 2, timeout=60, owner="session-c"))[1] == 4  # others are not held


def test_a_cancelled_short_job_keeps_its_worker_a_long_one_is_killed(small):
    before = wait_for(small.submit(jobs.pid, timeout=60))[1]
    short = small.submit(time.sleep, 0.05, timeout=60)
    running(short)
    short.cancel()
    time.sleep(0.5)
    assert wait_for(small.submit(jobs.pid, timeout=60))[1] == before  # it finished within the grace
    long = small.submit(time.sleep, 30, timeout=60)
    running(long)
    long.cancel()
    assert wait_for(small.submit(jobs.pid, timeout=60))[1] != before  # killed, and replaced


def test_a_stream_comes_item_by_item_and_cancelling_it_stops_the_worker(small):
    items, result = wait_for(small.submit(jobs.count, 5, lane="heavy", timeout=60))
    assert items == [0, 1, 2, 3, 4] and result is None
    job = small.submit(jobs.count, 1000, 0.05, lane="heavy", timeout=60)
    seen = []
    for item in stream(job):
        if item is not None:
            seen.append(item)
        if len(seen) == 3:
            break
    job.cancel()
    assert seen == [0, 1, 2] and job.state == "ended"
    assert wait_for(small.submit(jobs.count, 2, lane="heavy", timeout=60))[0] == [0, 1]  # a fresh worker


def test_a_job_nobody_reads_is_stopped():
    pool = Pool(Sizing(light=1, heavy=1, memory=2**30, light_threads=1, heavy_threads=1), abandon_after=1.0)
    try:
        pool.start(wait=120)
        job = pool.submit(time.sleep, 60, timeout=120)
        running(job)
        time.sleep(2.5)  # the owner went away without a word
        assert job.state == "ended" and "longer" in job.reason
        assert wait_for(pool.submit(pow, 2, 5, timeout=60))[1] == 32
    finally:
        pool.close()


def test_a_worker_is_replaced_after_so_many_jobs_and_no_answer_is_lost():
    pool = Pool(Sizing(light=1, heavy=1, memory=2**30, light_threads=1, heavy_threads=1), retire_after=2)
    try:
        pool.start(wait=120)
        jobs_in_a_row = [pool.submit(jobs.pid, timeout=60) for _ in range(2)] + [pool.submit(pow, 2, 3, timeout=60)]
        first, second, third = (wait_for(job, 120)[1] for job in jobs_in_a_row)
        assert first == second and third == 8   # the third waited for the fresh worker
        assert wait_for(pool.submit(jobs.pid, timeout=60), 120)[1] != first
    finally:
        pool.close()


def test_messages_carry_pickled_values():
    job_result = run_isolated(jobs.count, 3)
    assert job_result == [0, 1, 2]
    assert DONE != ITEM


def test_sizing_follows_the_machine():
    small = Sizing.for_machine(cores=2, memory=24 * 2**30)
    assert (small.light, small.heavy, small.light_threads, small.heavy_threads) == (2, 1, 1, 2)
    assert 3 * small.memory + 2**30 <= 0.7 * 24 * 2**30 < 3 * (small.memory + 1) + 2**30
    half = Sizing.for_machine(cores=2, memory=24 * 2**30, share=0.5)  # two replicas on the machine
    assert (half.light, half.heavy, half.heavy_threads) == (1, 1, 1) and half.memory < small.memory
    big = Sizing.for_machine(cores=16, memory=64 * 2**30)
    assert (big.light, big.heavy, big.heavy_threads) == (16, 8, 2) and big.memory <= 8 * 2**30
    tiny = Sizing.for_machine(cores=1, memory=2 * 2**30)
    assert (tiny.light, tiny.heavy) == (1, 1) and tiny.memory == 512 * 2**20


def test_workers_never_import_the_parents_main_module(tmp_path, monkeypatch):
    # Streamlit runs each page script as __main__: a worker that imported it (multiprocessing's default)
    # would run the page inside the sandbox, and the page would ask the sandbox for work, forever.
    import sys
    import types

    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('the page ran inside a worker')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    pool = Pool(Sizing(light=1, heavy=1, memory=2**30, light_threads=1, heavy_threads=1))
    try:
        pool.start(wait=120)
        assert wait_for(pool.submit(pow, 2, 6, timeout=60))[1] == 64
    finally:
        pool.close()


def test_the_fork_servers_launch_that_the_sandbox_copies_is_the_one_it_was_checked_against():
    # explorer.sandbox copies CPython's private popen_forkserver.Popen._launch (less the main module): this
    # fails, naming the new digest, on the first Python whose _launch differs from every one read.
    digest = forkserver_launch_digest()
    assert digest in CHECKED_LAUNCHES, (f"CPython's popen_forkserver.Popen._launch changed (sha256 {digest}): "
                                        "check explorer.sandbox._Popen against it")
    check_forkserver_launch()


def test_a_pool_refuses_to_start_on_a_python_it_was_not_checked_against(monkeypatch):
    monkeypatch.setattr(sandbox, "forkserver_launch_digest", lambda: "0" * 64)
    with pytest.raises(RuntimeError, match="was not checked against"):
        check_forkserver_launch()
