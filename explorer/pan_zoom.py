"""The graph viewer: an SVG drawn by Graphviz with pan (drag), zoom (wheel, buttons), fit and fullscreen.

Plain text, no Streamlit: the app shows it in an iframe (``explorer.ui.widgets.graph_view``), and the
offline file of a view (:mod:`explorer.offline`) puts its parts into its own page. Written here, no
CDN: the app runs without internet, and the offline file without a server.

>>> style, body, script = viewer_parts('<svg viewBox="0 0 10 10"></svg>')
>>> 'id="view"' in body and "zoom-in" in script
True
"""
from __future__ import annotations

import html
import json
import re

VIEWER_STYLE = """#view{position:absolute;top:34px;left:0;right:0;bottom:0;overflow:hidden;cursor:grab;touch-action:none}
#view.dragging{cursor:grabbing}
#view g.node[id^="open:"]{cursor:pointer}
#view svg{width:100%;height:100%;display:block}
#bar{position:absolute;top:6px;right:6px;z-index:2;display:flex;gap:4px}
#bar button{border:1px solid #d0d0d8;background:#fafafa;border-radius:6px;padding:2px 9px;
  cursor:pointer;font-size:14px;color:#333}
#bar button:hover{background:#eef}
#hint{position:absolute;left:8px;bottom:4px;font-size:11px;color:#6b6a69;pointer-events:none}
"""

_VIEWER_BODY = """<div id="view" data-testid="graph-view">__SVG__</div>
<div id="bar"><button id="zoom-in" title="Zoom in">+</button><button id="zoom-out" title="Zoom out">&minus;</button>
<button id="fit" title="Fit the whole graph">Fit</button><button id="fullscreen" title="Fullscreen">
<svg width="12" height="12" viewBox="0 0 12 12" fill="none" stroke="#333" stroke-width="1.6">
<path d="M1 4V1h3M8 1h3v3M11 8v3H8M4 11H1V8"/></svg>
</button></div>
<div id="hint">scroll to zoom &middot; drag to pan &middot; double-click to fit</div>
"""

_VIEWER_SCRIPT = """(function () {
  var view = document.getElementById("view"), svg = view.querySelector("svg");
  if (!svg) return;
  svg.removeAttribute("width"); svg.removeAttribute("height");
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  var b = svg.viewBox.baseVal, drawing = {x: b.x, y: b.y, w: b.width, h: b.height};
  function home() {  // the whole drawing, but never larger than Graphviz drew it (1 pt = 4/3 px)
    var r = view.getBoundingClientRect();
    if (!r.width || Math.min(r.width / drawing.w, r.height / drawing.h) <= 4 / 3) return Object.assign({}, drawing);
    var w = r.width * 0.75, h = r.height * 0.75;
    return {x: drawing.x + (drawing.w - w) / 2, y: drawing.y + (drawing.h - h) / 2, w: w, h: h};
  }
  var vb = home(), fitted = true;
  function apply() { svg.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h); }
  function unitsPerPixel() { var r = view.getBoundingClientRect(); return Math.max(vb.w / r.width, vb.h / r.height); }
  function at(e) {  // the point under the mouse, in the SVG's coordinates ('meet' centres the drawing)
    var r = view.getBoundingClientRect(), s = unitsPerPixel();
    return {x: vb.x + (e.clientX - r.left - (r.width - vb.w / s) / 2) * s,
            y: vb.y + (e.clientY - r.top - (r.height - vb.h / s) / 2) * s};
  }
  function zoom(f, c) {
    c = c || {x: vb.x + vb.w / 2, y: vb.y + vb.h / 2};
    vb = {x: c.x - (c.x - vb.x) / f, y: c.y - (c.y - vb.y) / f, w: vb.w / f, h: vb.h / f}; fitted = false; apply();
  }
  function fit() { vb = home(); fitted = true; apply(); }
  window.addEventListener("resize", function () { if (fitted) fit(); });
  view.addEventListener("wheel", function (e) { e.preventDefault(); zoom(Math.exp(-e.deltaY * 0.0015), at(e)); },
                        {passive: false});
  var drag = null, press = null;
  view.addEventListener("pointerdown", function (e) {
    drag = press = {x: e.clientX, y: e.clientY}; view.classList.add("dragging"); view.setPointerCapture(e.pointerId); });
  view.addEventListener("pointermove", function (e) {
    if (!drag) return; var s = unitsPerPixel();
    vb.x -= (e.clientX - drag.x) * s; vb.y -= (e.clientY - drag.y) * s; drag = {x: e.clientX, y: e.clientY};
    fitted = false; apply(); });
  view.addEventListener("pointerup", function (e) {
    drag = null; view.classList.remove("dragging");
    if (press && Math.abs(e.clientX - press.x) + Math.abs(e.clientY - press.y) < 5) opening(e);
    press = null; });
  // A module's box (SVG id "open:<key>", explorer.module_view) opens on a click: the page's URL gains
  // open=<key>, the state of the view, and the page loads it. The frame is sandboxed without top
  // navigation, so the link is made and followed in the page itself (same origin).
  function opening(e) {
    var hit = document.elementFromPoint(e.clientX, e.clientY), g = hit && hit.closest("g.node");
    if (!g || !g.id || g.id.indexOf("open:") !== 0 || window.parent === window) return;   // no app around it
    try {
      var page = window.parent, url = new URL(page.location.href), key = g.id.slice(5);
      if (url.searchParams.getAll("open").indexOf(key) < 0) url.searchParams.append("open", key);
      var a = page.document.createElement("a"); a.href = url.toString(); page.document.body.appendChild(a); a.click();
    } catch (err) {}
  }
  view.addEventListener("dblclick", fit);
  document.getElementById("zoom-in").onclick = function () { zoom(1.25); };
  document.getElementById("zoom-out").onclick = function () { zoom(0.8); };
  document.getElementById("fit").onclick = fit;
  document.getElementById("fullscreen").onclick = function () {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen().catch(function () {});
  };
  var focus = __FOCUS__;
  if (focus) {  // open a drawing too small to read at the focused node, zoomed until its text is readable
    apply();
    var nodes = svg.querySelectorAll("g.node");
    for (var i = 0; i < nodes.length; i++) {
      var t = nodes[i].querySelector("title");
      if (!t || t.textContent !== focus) continue;
      var box = nodes[i].getBoundingClientRect();
      if (box.height > 0 && box.height < 24) {
        var f = Math.min(48 / box.height, 400), c = at({clientX: box.left + box.width / 2,
                                                        clientY: box.top + box.height / 2});
        vb = {x: c.x - vb.w / f / 2, y: c.y - vb.h / f / 2, w: vb.w / f, h: vb.h / f}; fitted = false;
      }
      break;
    }
  }
  apply();
})();
"""

_PAGE = ('<!doctype html><html><head><meta charset="utf-8"><style>\n'
         "html,body{margin:0;height:100%;overflow:hidden;background:#fff;font-family:sans-serif}\n"
         "__STYLE__</style></head><body>\n__BODY__<script>\n__SCRIPT__</script></body></html>")

_UNSAFE_SVG = re.compile(r"<\s*script|javascript:|<\s*foreignObject", re.IGNORECASE)


def viewer_parts(svg: str, *, focus: str | None = None, title: str | None = None,
                 desc: str | None = None) -> tuple[str, str, str]:
    """``(style, body, script)`` of the viewer of ``svg``, to put into a page of one's own: the body is
    ``#view`` (the drawing) and ``#bar`` (the buttons), absolutely placed in their containing block.

    ``focus`` names a node (its Graphviz ``<title>``) to open the view at, zoomed until its text is
    readable, when the whole drawing is too small to read (Fit shows all of it). ``title`` and ``desc``
    become the drawing's own ``<title>`` and ``<desc>``, what a screen reader says of it (the function
    and its output). An SVG holding script or foreign content is refused (``ValueError``).
    """
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("not an SVG drawing: no <svg> element")
    drawing = svg[start:]
    if _UNSAFE_SVG.search(drawing):
        raise ValueError("the SVG holds script or foreign content; it is not shown")
    if title or desc:
        opened = drawing.index(">") + 1
        label = (f'<title id="graph-title">{html.escape(title or "")}</title>'
                 f'<desc id="graph-desc">{html.escape(desc or "")}</desc>')
        drawing = (drawing[:4] + ' role="img" aria-labelledby="graph-title" aria-describedby="graph-desc"'
                   + drawing[4:opened] + label + drawing[opened:])
    focus_js = json.dumps(focus).replace("</", "<\\/") if focus else "null"
    return VIEWER_STYLE, _VIEWER_BODY.replace("__SVG__", drawing), _VIEWER_SCRIPT.replace("__FOCUS__", focus_js)


def pan_zoom_html(svg: str, *, focus: str | None = None, title: str | None = None, desc: str | None = None) -> str:
    """A small HTML page showing ``svg`` in the viewer (:func:`viewer_parts`), for an iframe.

    >>> page = pan_zoom_html('<svg viewBox="0 0 10 10"><g class="node"><title>a</title></g></svg>')
    >>> 'data-testid="graph-view"' in page and "var focus = null;" in page   # no node to open at
    True
    >>> '<title id="graph-title">f &amp; g</title>' in pan_zoom_html('<svg viewBox="0 0 1 1"></svg>', title="f & g")
    True
    """
    style, body, script = viewer_parts(svg, focus=focus, title=title, desc=desc)
    return _PAGE.replace("__STYLE__", style).replace("__BODY__", body).replace("__SCRIPT__", script)


__all__ = ["VIEWER_STYLE", "pan_zoom_html", "viewer_parts"]
