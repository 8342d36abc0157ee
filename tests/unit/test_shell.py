"""The pages' HTML names their scripts up front (explorer.ui.shell): Vite's tables read right, every name real."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from explorer.ui import shell

ROOT = Path(__file__).resolve().parents[2]

INDEX_JS = """const __vite__mapDeps=(i,m=__vite__mapDeps,d=(m.f||(m.f=["./TextArea.aaa.js","./runtime.bbb.js",\
"./WidgetLabel.ccc.js","./IFrame.ddd.js"])))=>i.map(i=>d[i]);
var a=lazy(()=>H(()=>import(`./TextArea.aaa.js`),__vite__mapDeps([0,1,2]),import.meta.url)),
b=lazy(()=>H(()=>import(`./IFrame.ddd.js`),__vite__mapDeps([3,2]),import.meta.url)),
c=lazy(()=>import(`./Table.eee.js`));"""


def build(tmp_path: Path) -> Path:
    """A Streamlit-like static folder: index.html naming the runtime, and one script with Vite's tables."""
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "static" / "js" / "index.zzz.js").write_text(INDEX_JS)
    (tmp_path / "index.html").write_text(
        '<html><head><script type="module" src="./static/js/index.zzz.js"></script>'
        '<link rel="modulepreload" crossorigin href="./static/js/runtime.bbb.js"></head><body></body></html>')
    return tmp_path


def test_a_chunk_loads_itself_then_what_vite_listed_for_it(tmp_path):
    static = build(tmp_path)
    assert shell.chunk_files(["TextArea"], static) == ["TextArea.aaa.js", "runtime.bbb.js", "WidgetLabel.ccc.js"]
    # each file once, in order; a chunk imported without a list of needs is itself alone
    assert shell.chunk_files(["TextArea", "IFrame", "Table"], static) == [
        "TextArea.aaa.js", "runtime.bbb.js", "WidgetLabel.ccc.js", "IFrame.ddd.js", "Table.eee.js"]
    assert shell.chunk_files(["NoSuchElement"], static) == []  # a name the build lacks: no hint, no error


def test_the_shell_hints_each_file_once_and_not_those_streamlit_names_already(tmp_path):
    static = build(tmp_path)
    page = shell.shell_html(["TextArea", "IFrame", "NoSuchElement"], static)
    hinted = re.findall(r'<link rel="modulepreload" crossorigin href="\./static/js/([^"]+)">', page)
    assert hinted == ["runtime.bbb.js", "TextArea.aaa.js", "WidgetLabel.ccc.js", "IFrame.ddd.js"]
    assert page.index("IFrame.ddd.js") < page.index("</head>")
    # no chunk, no hint: Streamlit's page with the stylesheet only
    assert shell.shell_html([], static) == (static / "index.html").read_text().replace("</head>", shell.STYLE + "</head>")


def test_every_page_has_its_list_and_every_name_is_in_the_installed_streamlit():
    tree = ast.parse((ROOT / "app.py").read_text())
    pages = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES")
    assert set(shell.PAGE_CHUNKS) == {path for _, path, *_ in pages}
    for page, chunks in shell.PAGE_CHUNKS.items():
        for chunk in chunks:
            files = shell.chunk_files([chunk])
            assert files and files[0].startswith(f"{chunk}."), (page, chunk)
