"""The served pages: each page's HTML names its scripts; every other path is still Streamlit's."""
from __future__ import annotations

import email.message  # noqa: F401  (the headers type)
import re
import urllib.request

from explorer.ui import shell


def get(url: str) -> tuple[int, "email.message.Message", str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers, response.read().decode("utf-8", "replace")


def hinted(page: str) -> set[str]:
    return set(re.findall(r'<link rel="modulepreload" crossorigin href="\./static/js/([^"]+)">', page))


STREAMLITS = hinted((shell.streamlit_static_dir() / "index.html").read_text())  # what Streamlit's index.html names itself


def test_each_page_names_the_scripts_of_its_elements(app_url):
    status, headers, root = get(f"{app_url}/?f=x**2")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert set(shell.chunk_files(shell.PAGE_CHUNKS["explore"])) <= hinted(root)
    assert any(f.startswith("IFrame.") for f in hinted(root) - STREAMLITS)
    _, _, mechanics = get(f"{app_url}/mechanics")
    assert any(f.startswith("StreamlitSyntaxHighlighter.") for f in hinted(mechanics))
    assert not any(f.startswith("StreamlitSyntaxHighlighter.") for f in hinted(root))  # each page its own
    for name in hinted(root) - STREAMLITS:  # every hint is a file the server has
        assert get(f"{app_url}/static/js/{name}")[0] == 200


def test_other_paths_are_streamlits(app_url):
    _, _, page = get(f"{app_url}/no-such-page")  # Streamlit's index.html, which says the page is not found
    assert 'type="module"' in page and hinted(page) == STREAMLITS
    status, _, health = get(f"{app_url}/_stcore/health")
    assert status == 200 and health == "ok"
