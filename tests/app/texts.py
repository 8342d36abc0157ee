"""What a page shows in monospace, for the AppTest tests: code blocks and the pages' text blocks."""
from __future__ import annotations

import html
import re


def blocks(at) -> list[str]:
    """Each monospace block of the page, in order: ``st.code`` values and ``widgets.text_block`` texts."""
    out = []
    for element in at.main:
        out += _blocks(element)
    return out


def _blocks(element) -> list[str]:
    kind = type(element).__name__
    if kind == "Code":
        return [element.value]
    if kind == "Html" and 'class="explorer-text"' in element.value:
        return [html.unescape(re.sub(r"<[^>]+>", "", element.value))]
    children = getattr(element, "children", None)
    if not children:
        return []
    out = []
    for child in children.values():
        out += _blocks(child)
    return out


def monospace(at) -> str:
    """All of :func:`blocks`, one after the other."""
    return "\n".join(blocks(at))
