"""How a page shows work that gave no result (explorer/ui/runner.py): a refusal where it belongs, a bug as a
short apology with nothing of its details, and a live run's ending through ``reported``."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from explorer.sandbox import Failure

TIMEOUT = 120

RESULT = """
from explorer.ui import runner
from tests.unit import sandbox_jobs as jobs
import streamlit as st
st.write(repr(runner.result(jobs.fail)))
"""

LIVE = """
import streamlit as st
from explorer.ui import runner
from tests.unit import sandbox_jobs as jobs
done = False
with runner.reported("demo_retry"):
    for item in runner.stream(jobs.{job}{args}, timeout=60):
        pass
    done = True
st.write(f"done: {{done}}")
"""


def test_a_bug_in_the_work_is_an_apology_without_details_and_no_result():
    at = AppTest.from_string(RESULT, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == [Failure.APOLOGY]
    assert "bug of ours" not in str(at) and "RuntimeError" not in str(at)
    assert at.markdown[-1].value == "None"


def test_a_live_run_that_ends_without_its_result_is_reported_and_the_rest_skipped():
    for job, args, shown in (("refuse", ", 'too many points'", "too many points"),
                             ("fail", "", Failure.APOLOGY)):
        at = AppTest.from_string(LIVE.format(job=job, args=args), default_timeout=TIMEOUT).run()
        assert not at.exception
        assert [e.value for e in at.error] == [shown] and at.markdown[-1].value == "done: False"
    at = AppTest.from_string(LIVE.format(job="count", args=", 3"), default_timeout=TIMEOUT).run()
    assert not at.error and at.markdown[-1].value == "done: True"


def test_an_answer_that_comes_at_once_sends_no_placeholder_for_a_notice():
    at = AppTest.from_string("from explorer.ui import runner\nimport streamlit as st\n"
                             "st.write(repr(runner.result(pow, 2, 10)))", default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.main.children.values()] == ["1024"]   # the answer, and no empty element before it
