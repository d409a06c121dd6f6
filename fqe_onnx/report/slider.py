"""The report's threshold slider: drag a Q cut and see, live, what it drops and what it buys.

The page stays self-contained: the data are inline JSON and the script is inline (no network).
With an evaluation (``evaluate``'s cuts.csv), the FNMR expected at the cut is read from the Q-cut
table; without one, only the counts are shown, with a line saying what ``evaluate`` would add.
"""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import FqeError

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("cut-data").textContent);
  var slider = document.getElementById("q-cut");
  var faces = document.querySelectorAll("figure.face[data-q]");
  function tableRow(cut) {
    var row = null;
    for (var i = 0; i < data.table.length; i++) {
      if (data.table[i].cut <= cut) { row = data.table[i]; } else { break; }
    }
    return row || data.table[0];
  }
  function update() {
    var cut = Number(slider.value), dropped = 0;
    for (var i = 0; i < data.scores.length; i++) { if (data.scores[i] < cut) { dropped++; } }
    var total = data.scores.length + data.errors;
    document.getElementById("cut-value").textContent = String(cut);
    document.getElementById("cut-dropped").textContent = String(dropped);
    document.getElementById("cut-share").textContent = total ? (100 * dropped / total).toFixed(1) + "%" : "n/a";
    var marked = 0;
    faces.forEach(function (face) {
      var low = Number(face.getAttribute("data-q")) < cut;
      face.classList.toggle("dropped", low);
      if (low) { marked++; }
    });
    document.getElementById("cut-marked").textContent = String(marked);
    if (data.table) {
      var row = tableRow(cut);
      document.getElementById("cut-fnmr").textContent = row.fnmr === null ? "n/a (no mated comparison left)"
        : row.fnmr.toFixed(4);
      document.getElementById("cut-mated").textContent = (100 * row.mated_share).toFixed(1) + "%";
    }
  }
  slider.addEventListener("input", update);
  update();
})();
"""

STYLE = """
.slider{background:#f6f6f6;padding:10px 14px;border-radius:6px;font-size:14px}
.slider input{width:420px;vertical-align:middle} .slider b{font-variant-numeric:tabular-nums}
figure.face.dropped img{opacity:.35;outline:3px solid #d62728;outline-offset:-3px}
figure.face.dropped figcaption{color:#d62728}
"""


def read_cut_table(folder: Path, source: str = "Q") -> Optional[tuple[str, list[dict[str, Any]]]]:
    """The first supported FMR's Q-cut table of ``source`` from an evaluate folder's cuts.csv, as
    (fmr, rows with cut, fnmr and mated_share); None when the folder has no cuts.csv (an older run)."""
    path = (folder if folder.is_dir() else folder.parent) / "cuts.csv"
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r["source"] == source]
    except (OSError, KeyError, ValueError) as exc:
        raise FqeError(f"cannot read the Q cuts in {path}: {exc}") from exc
    if not rows:
        return None
    fmr = rows[0]["fmr"]
    table = [
        {
            "cut": float(r["cut"]),
            "fnmr": float(r["fnmr"]) if r["fnmr"] else None,
            "mated_share": float(r["mated_share"]),
        }
        for r in rows
        if r["fmr"] == fmr
    ]
    return fmr, sorted(table, key=lambda r: r["cut"])


def slider_section(
    scores: Sequence[int], errors: int, has_identities: bool, cuts: Optional[tuple[str, list[dict[str, Any]]]]
) -> tuple[str, str]:
    """The slider with its read-outs, and the inline data and script (for the end of the page, after
    the thumbnails it marks)."""
    data = {"scores": list(scores), "errors": errors, "table": cuts[1] if cuts else None}
    counts = (
        '<p>Drop Q &lt; <b id="cut-value">0</b>: <b id="cut-dropped">0</b> of the scored images '
        f'(<b id="cut-share">0%</b> of all {len(scores) + errors} images; {errors} with errors are not '
        'scored); <b id="cut-marked">0</b> of the faces shown below are marked.</p>'
    )
    if cuts:
        expected = (
            f"<p>Expected at this cut (from the evaluation, FMR {escape(cuts[0])}): FNMR "
            '<b id="cut-fnmr">n/a</b>, with <b id="cut-mated">0%</b> of the mated comparisons discarded.</p>'
        )
    elif has_identities:
        expected = (
            '<p class="muted">Run <code>fqe-onnx evaluate ROOT -o DIR</code> on these identity folders and '
            "pass <code>--evaluation DIR</code> to see the false non-match rate expected at each cut.</p>"
        )
    else:
        expected = (
            '<p class="muted">Counts only: these images are not in identity folders. With '
            "<code>ROOT/IDENTITY/IMAGE</code>, <code>fqe-onnx evaluate</code> would add the false non-match "
            "rate expected at each cut.</p>"
        )
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<div class="slider"><label for="q-cut">Q cut</label> '
        '<input type="range" id="q-cut" min="0" max="100" step="1" value="0">'
        f"{counts}{expected}</div>",
        f'<script type="application/json" id="cut-data">{payload}</script><script>{SCRIPT}</script>',
    )
