"""What several test folders share: a real ``streamlit run app.py`` on a free port of 127.0.0.1."""
from __future__ import annotations

import pytest

from explorer import local_app


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The URL of a real ``streamlit run app.py`` server (``explorer.local_app``), started once for the
    session; the test fails, with the server's log, if it does not come up."""
    try:
        app = local_app.start(log=tmp_path_factory.mktemp("streamlit") / "server.log")
    except local_app.AppDidNotStart as err:
        pytest.fail(str(err))
    yield app.url
    app.stop()
