"""What the accessibility and layout tests look for on a page (used by test_audit_browser.py).

``axe_findings(page)``: axe-core's serious and critical violations (``axe-playwright-python`` bundles axe-core).
``layout_faults(page, within=None)``: every control (button, input, text area, tab, a widget's label)
cut off by an ancestor that clips, or covered by another element.
"""
from __future__ import annotations

# A control is every button, text field, tab and slider, and every label Streamlit draws for a widget (a
# checkbox's or a toggle's input is invisible: its label is what a visitor reads and clicks).
CONTROLS = ("button, input:not([type=checkbox]):not([type=radio]):not([type=hidden]), textarea, [role=tab], "
            "[role=slider], [data-testid=stWidgetLabel], label[data-baseweb=checkbox], label[data-baseweb=radio]")

# For each control: no ancestor that clips may be wider inside than it shows (a row scrolling sideways); scrolled
# into view, the control must lie inside every ancestor that clips (overflow not visible),
# its own text must not overflow a box that clips it (an ellipsis), and elementFromPoint at its left, middle
# and right must find it or something inside it (nothing lies on top). Zero-sized or hidden controls are skipped.
_LAYOUT_JS = """
async ([selector, within]) => {
  const faults = [];
  const root = within ? document.querySelector(within) || document : document;
  const name = (el) => (el.getAttribute('aria-label') || el.innerText || el.value || el.placeholder
                        || el.getAttribute('data-testid') || el.tagName).trim().slice(0, 60);
  const clips = (style) => style.overflowX !== 'visible' || style.overflowY !== 'visible';
  for (const el of root.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (el.closest('[data-testid=stSidebar][aria-expanded=false], [aria-hidden=true], [hidden]')) continue;
    if (el.closest('[style*="clip: rect(0px, 0px, 0px, 0px)"]')) continue;  // visually hidden (a slider's input)
    let box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) continue;
    // A row that scrolls sideways hides what it cannot show until a visitor thinks of scrolling it (a segmented
    // control's last option): cut off as well. A tab list says so with its arrows.
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (a.matches('[role=tablist]')) break;
      if (clips(getComputedStyle(a)) && a.scrollWidth > a.clientWidth + 1) {
        faults.push({control: name(el), fault: 'in a row that scrolls sideways', by: a.className.toString().slice(0, 80),
                     box: [box.left, box.top, box.width, box.height].map(Math.round)});
        break;
      }
    }
    el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});  // a tab list scrolls smoothly otherwise
    const moved = el.getBoundingClientRect();
    if (moved.left !== box.left || moved.top !== box.top) {
      // what a scroll changes (a tab list's arrows) is drawn a moment after it
      await new Promise((done) => setTimeout(done, 150));
    }
    box = el.getBoundingClientRect();
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (!clips(s)) continue;
      const r = a.getBoundingClientRect();
      if (box.left < r.left - 1 || box.right > r.right + 1 || box.top < r.top - 1 || box.bottom > r.bottom + 1) {
        faults.push({control: name(el), fault: 'cut off', by: a.className.toString().slice(0, 80),
                     box: [box.left, box.top, box.width, box.height].map(Math.round)});
        break;
      }
    }
    for (const t of [el, ...el.querySelectorAll('*')]) {
      const s = getComputedStyle(t);
      if (clips(s) && t.scrollWidth > t.clientWidth + 1 && t.clientWidth > 0 && t.innerText.trim()) {
        faults.push({control: name(el), fault: 'text cut off', by: t.className.toString().slice(0, 80),
                     box: [box.left, box.top, box.width, box.height].map(Math.round)});
        break;
      }
    }
    const y = box.top + box.height / 2;
    for (const x of [box.left + 2, box.left + box.width / 2, box.right - 2]) {
      if (x < 0 || x >= innerWidth || y < 0 || y >= innerHeight) continue;
      const hit = document.elementFromPoint(x, y);
      if (hit && hit !== el && !el.contains(hit) && !hit.contains(el)) {
        faults.push({control: name(el), fault: 'covered', by: (hit.getAttribute('data-testid')
                     || hit.className.toString() || hit.tagName).slice(0, 80),
                     box: [box.left, box.top, box.width, box.height].map(Math.round)});
        break;
      }
    }
  }
  return faults;
}
"""


def layout_faults(page, within: str | None = None) -> list[dict]:
    """Controls of the page that are cut off or covered (each ``{control, fault, by, box}``): all of them, or
    those inside the element ``within`` (a CSS selector: the main area, or an open popover, which covers the
    page beneath it as it should)."""
    return page.evaluate(_LAYOUT_JS, [CONTROLS, within])


def axe_findings(page) -> list[dict]:
    """axe-core's serious and critical violations on the page: ``{rule, impact, targets, summary}`` each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [{"rule": v["id"], "impact": v["impact"],
             "targets": [n["target"] for n in v["nodes"]][:8],
             "summary": v["nodes"][0].get("failureSummary", "")[:600] if v["nodes"] else ""}
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
