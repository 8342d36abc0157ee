"""The cache of results every session shares: results and refusals kept, nothing that may pass on a retry."""
from __future__ import annotations

import pytest

from explorer import ExpressionError
from explorer.budgets import BUDGETS
from explorer.hosting import ResultCache, call, key_of
from explorer.demos import regression, tsne
from explorer.sandbox import DONE, FAILED, UNAVAILABLE, Failure, Pool, Sizing, Unavailable, stream
from explorer.views import Request, view
from tests.unit import sandbox_jobs as jobs


@pytest.fixture(scope="module")
def pool():
    pool = Pool(Sizing(light=1, heavy=1, memory=2**30, light_threads=1, heavy_threads=1),
                queue={"light": 4, "heavy": 1})
    pool.start(wait=120)
    yield pool
    pool.close()


def test_a_result_is_computed_once(pool):
    cache = ResultCache()
    assert call(jobs.pid, cache=cache, sandbox=pool) == call(jobs.pid, cache=cache, sandbox=pool)
    assert len(cache) == 1


def test_a_refusal_of_the_input_is_kept_like_a_result(pool):
    cache = ResultCache()
    for _ in range(2):
        with pytest.raises(ExpressionError, match="no such thing"):
            call(jobs.refuse, "no such thing", cache=cache, sandbox=pool)
    assert len(cache) == 1


def test_a_time_out_is_not_cached_and_the_retry_works(pool, tmp_path):
    cache = ResultCache()
    flag = str(tmp_path / "flag")
    with pytest.raises(Unavailable, match="longer than 0.5 s"):
        call(jobs.slow_the_first_time, flag, 30, timeout=0.5, cache=cache, sandbox=pool)
    assert len(cache) == 0  # the next visitor computes afresh...
    assert call(jobs.slow_the_first_time, flag, 30, timeout=0.5, cache=cache, sandbox=pool) == "fast"  # ...and gets it
    assert len(cache) == 1


def test_a_busy_server_is_not_cached(pool):
    cache = ResultCache()
    full = Pool(pool.sizing, queue={"light": 0, "heavy": 0})  # never started: every submit is refused as busy
    full.started = True
    with pytest.raises(Unavailable, match="busy"):
        call(pow, 2, 8, cache=cache, sandbox=full)
    assert len(cache) == 0
    assert call(pow, 2, 8, cache=cache, sandbox=pool) == 256


def test_a_failure_of_ours_is_not_cached(pool):
    cache = ResultCache()
    for _ in range(2):
        with pytest.raises(Failure):
            call(jobs.fail, cache=cache, sandbox=pool)
    assert len(cache) == 0


def test_unavailability_raised_in_the_work_is_not_cached(pool):
    cache = ResultCache()
    with pytest.raises(Unavailable, match="not now"):
        call(jobs.unavailable, "not now", cache=cache, sandbox=pool)
    assert len(cache) == 0


def test_a_streaming_function_given_to_call_is_a_mistake_in_the_code_not_a_refusal(pool):
    with pytest.raises(TypeError, match="streams its results"):
        call(jobs.count, 3, cache=None, sandbox=pool)


def test_the_cache_refuses_what_may_pass_and_keeps_within_its_bytes():
    cache = ResultCache(max_bytes=1000)
    for kind in (FAILED, UNAVAILABLE):
        with pytest.raises(ValueError):
            cache.put(b"k", kind, b"x")
    for i in range(10):
        cache.put(bytes([i]), DONE, b"x" * 200)
    assert cache.bytes <= 1000 and len(cache) == 5
    assert cache.get(bytes([9])) == (DONE, b"x" * 200) and cache.get(bytes([0])) is None  # the oldest went first
    cache.put(b"huge", DONE, b"x" * 600)  # more than a quarter of the cache: not kept
    assert cache.get(b"huge") is None


def test_old_entries_expire():
    cache = ResultCache(max_age=0.0)
    cache.put(b"k", DONE, b"v")
    assert cache.get(b"k") is None and len(cache) == 0


def test_keys_tell_functions_and_arguments_apart():
    assert key_of(pow, (2, 3), {}) != key_of(pow, (3, 2), {})
    assert key_of(pow, (2, 3), {}) == key_of(pow, (2, 3), {})
    assert key_of(jobs.pid, (), {"a": 1, "b": 2}) == key_of(jobs.pid, (), {"b": 2, "a": 1})


# ---------------------------------------------------------------------------
# Every budget holds where the work runs: each over-budget run asked for as its page asks for it (a stream in
# the heavy lane for a live demo, a call for the rest), whatever the page's widgets would have allowed.

def streamed(pool, fn, *args, **kwargs) -> list:
    """What a page's live run (explorer.ui.runner.stream) reads: the items of ``fn`` run in the heavy lane."""
    job = pool.submit(fn, *args, lane="heavy", timeout=120, **kwargs)
    try:
        return [item for item in stream(job, 0.2) if item is not None]
    finally:
        job.cancel()


def test_an_over_budget_regression_run_is_refused_where_it_runs(pool):
    with pytest.raises(ExpressionError, match="fewer epochs"):
        streamed(pool, regression.live, 1_000_000, 1.0, 0, "cpu", optimizer="sgd", lr=0.1, batch_size=1,
                 epochs=100_000, report_every=1000)


def test_an_over_budget_tsne_run_is_refused_where_it_runs(pool):
    with pytest.raises(ExpressionError, match="at most 8,000 iterations for 5,000 points"):
        streamed(pool, tsne.live, "blobs", 5000, 30.0, 0, n_iter=20_000, device="cpu")
    with pytest.raises(ExpressionError, match="at most 5,000 points"):
        streamed(pool, tsne.live, "blobs", 50_000, 30.0, 0, n_iter=10, device="cpu")


@pytest.mark.parametrize("fn, args", [
    (tsne.random_checks, ("blobs", 50_000, 30.0, 0, (1.0, 12.0))),
    (tsne.checks_of_run, ("blobs", 50_000, 30.0, 0, [])),
    (tsne.against_sklearn, ("blobs", 50_000, 30.0, 0, "barnes_hut")),
])
def test_tsne_work_on_too_many_points_is_refused_where_it_runs(pool, fn, args):
    with pytest.raises(ExpressionError, match="at most 5,000 points"):
        call(fn, *args, lane="heavy", timeout=120, cache=ResultCache(), sandbox=pool)


def test_scikit_learns_exact_tsne_is_refused_past_its_points_where_it_runs(pool):
    with pytest.raises(ExpressionError, match="at most 2,000 points"):
        call(tsne.against_sklearn, "blobs", 3000, 30.0, 0, "exact", lane="heavy", timeout=120, cache=ResultCache(),
             sandbox=pool)


def test_a_model_deeper_than_the_budget_is_refused_where_it_is_built(pool):
    request = Request(model="chain", depth=BUDGETS.model_depth + 1)
    with pytest.raises(ExpressionError, match=f"at most {BUDGETS.model_depth:,}"):
        call(view, request, ("summary",), lane=request.lane, timeout=120, cache=ResultCache(), sandbox=pool)
