"""A bare visit to each page fetches every script its elements need with Streamlit's main bundle, named in
the page's HTML (explorer.ui.shell), none after the server's first answer: those would wait on a busy server."""
from __future__ import annotations

import pytest

from explorer.ui import shell


def chunks_of(files: list[str]) -> list[str]:
    """The names to add to PAGE_CHUNKS for these script files: those Streamlit imports lazily (``TextArea``
    for ``TextArea.DxPXcY61.js``), not the files they bring along."""
    names = {f.split(".")[0] for f in files}
    return sorted(n for n in names if shell.chunk_files([n])) or sorted(names)


@pytest.mark.parametrize("path", list(shell.PAGE_CHUNKS))
def test_a_bare_visit_asks_for_no_script_once_the_app_runs(ui, page, app_url, path):
    page.goto(f"{app_url}/{path}")
    ui.wait(page)
    page.wait_for_load_state("networkidle")  # whatever a drawn element still fetches has been asked for
    fetched = page.evaluate("() => performance.getEntriesByType('resource').map(e => [e.name, e.startTime])")
    started = min(t for name, t in fetched if name.endswith("/_stcore/health"))  # the app connects
    late = sorted({name.rsplit("/", 1)[-1] for name, t in fetched if name.endswith(".js") and t > started})
    assert not late, (f"{path} fetched {late} after the app connected: add "
                      f"{chunks_of(late)} to explorer.ui.shell.PAGE_CHUNKS[{path!r}]")
