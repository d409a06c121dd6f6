"""The review page's marking: a confirmed / rejected / unsure choice per finding, and a button that
downloads the marks as decisions.csv (``curate --decisions FILE`` reads it back).

Self-contained: the findings' ids and the marks carried from an earlier file are inline JSON,
the script is inline, nothing is sent anywhere. The marks are also kept in the browser's
localStorage (by finding id, which is stable across reruns), so closing the tab loses nothing.
The download has the columns of ``marks.COLUMNS`` and quotes its cells as Python's csv module does.
"""

from __future__ import annotations

import json
from html import escape
from typing import Iterable

from .findings import Finding
from .marks import MARKS, SEPARATOR, Mark

#: The localStorage key of the marks made on any review page of this browser.
STORAGE_KEY = "fqe-onnx-curation-marks"

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("marks-data").textContent);
  var KEY = "%(key)s";
  var saved = {};
  try { saved = JSON.parse(window.localStorage.getItem(KEY) || "{}") || {}; } catch (e) { saved = {}; }
  var marks = {}, shown = {};
  data.findings.forEach(function (f) {
    shown[f.finding] = true;
    var mark = saved[f.finding] || f.mark;
    if (mark) { marks[f.finding] = mark; }
  });
  function sync() {
    var count = 0;
    data.findings.forEach(function (f) {
      var mark = marks[f.finding] || "";
      if (mark) { count++; }
      var card = document.getElementById(f.finding);
      if (!card) { return; }
      card.setAttribute("data-mark", mark);
      card.querySelectorAll("input[type=radio]").forEach(function (input) { input.checked = input.value === mark; });
    });
    var total = data.findings.length;
    document.getElementById("marked-count").textContent =
      count + " of " + total + " finding" + (total === 1 ? "" : "s") + " marked";
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.type !== "radio" || !input.getAttribute("data-finding")) { return; }
    marks[input.getAttribute("data-finding")] = input.value;
    saved[input.getAttribute("data-finding")] = input.value;
    try { window.localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* marks stay on the page */ }
    sync();
  });
  function cell(value) {
    value = String(value);
    return /[",\\r\\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }
  function csv() {
    var lines = ["finding,kind,members,mark"];
    data.carried.forEach(function (m) {
      if (!shown[m.finding]) { lines.push([m.finding, m.kind, m.members, m.mark].map(cell).join(",")); }
    });
    data.findings.forEach(function (f) {
      if (marks[f.finding]) { lines.push([f.finding, f.kind, f.members, marks[f.finding]].map(cell).join(",")); }
    });
    return lines.join("\\n") + "\\n";
  }
  document.getElementById("download-marks").addEventListener("click", function () {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([csv()], {type: "text/csv"}));
    link.download = "decisions.csv";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  });
  sync();
})();
""" % {"key": STORAGE_KEY}

STYLE = """
.toolbar{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 0;z-index:1;
 display:flex;gap:14px;align-items:center}
.toolbar button{font:inherit;padding:4px 10px;cursor:pointer}
.marks{border:0;padding:0;margin:6px 0;display:flex;gap:12px;font-size:13px}
.finding[data-mark=confirmed]{background:#f1f8f1} .finding[data-mark=rejected]{background:#f7f7f7}
.finding[data-mark=unsure]{background:#fff8e6}
"""


def mark_choice(finding: Finding) -> str:
    """The three radio buttons of one finding (the script checks the one that is marked)."""
    inputs = "".join(
        f'<label><input type="radio" name="mark-{escape(finding.id)}" value="{mark}" '
        f'data-finding="{escape(finding.id)}"'
        f"{' checked' if finding.mark == mark else ''}> {mark}</label>"
        for mark in MARKS
    )
    return f'<fieldset class="marks" aria-label="mark"><span class="muted">mark:</span>{inputs}</fieldset>'


def toolbar(total: int) -> str:
    return (
        '<div class="toolbar"><span id="marked-count">0 of '
        f"{total} finding{'' if total == 1 else 's'} marked</span>"
        '<button type="button" id="download-marks">Download decisions.csv</button>'
        '<span class="muted">marks stay in this browser until downloaded; '
        "<code>curate --decisions decisions.csv</code> reads them back</span></div>"
    )


def marks_script(shown: Iterable[Finding], carried: Iterable[Mark]) -> str:
    """The inline data (the findings on the page, the marks carried on from the decisions file) and
    the script, for the end of the page."""
    data = {
        "findings": [
            {"finding": f.id, "kind": f.kind, "members": SEPARATOR.join(f.members), "mark": f.mark} for f in shown
        ],
        "carried": [{"finding": m.finding, "kind": m.kind, "members": m.members, "mark": m.mark} for m in carried],
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="marks-data">{payload}</script><script>{SCRIPT}</script>'
