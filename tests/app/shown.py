"""What a page shows, read back for the AppTest tests: monospace blocks and Vega-Lite charts."""
from __future__ import annotations

import html
import re


def blocks(at) -> list[str]:
    """Each monospace block of the page, in order: ``st.code`` values and ``widgets.text_block`` texts."""
    out = []
    for element in at.main:  # every element, nested ones included, in the page's order
        kind = type(element).__name__
        if kind == "Code":
            out.append(element.value)
        elif kind == "Html" and 'class="explorer-text"' in element.value:
            out.append(html.unescape(re.sub(r"<[^>]+>", "", element.value)))
    return out


def monospace(at) -> str:
    """All of :func:`blocks`, one after the other."""
    return "\n".join(blocks(at))


def charts(at) -> list[tuple[dict, "pandas.DataFrame"]]:
    """Each Vega-Lite chart of the page: its spec and its data, as Streamlit sends them to the browser."""
    import json

    import pyarrow

    out = []
    for chart in at.get("vega_lite_chart"):
        data = chart.proto.data.data
        frame = pyarrow.ipc.open_stream(data).read_pandas() if data else None
        out.append((json.loads(chart.proto.spec), frame))
    return out
