"""The report's threshold slider and its charts' geometry, in headless Chromium (Debian's package)."""

import csv
import shutil

import pytest
from click.testing import CliRunner

from test_cuts import grid_model, make_people
from browser import chromium_page

from fqe_onnx.cli import main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("slider")
    model = grid_model(root / "m.onnx")
    make_people(root / "faces", people=30, per_person=6)
    (root / "faces" / "p03" / "broken.png").write_bytes(b"nope")
    common = [
        "-m",
        str(model),
        "--align",
        "never",
        "--geometry",
        "aligned112",
        "--mean",
        "128",
        "--calibration",
        "x0=27,w=2.6",
    ]
    scored = CliRunner().invoke(main, ["score", str(root / "faces"), "-o", str(root / "scores.csv"), *common])
    assert scored.exit_code == 1, scored.output
    evaluated = CliRunner().invoke(main, ["evaluate", str(root / "faces"), "-o", str(root / "ev"), *common])
    assert evaluated.exit_code == 0, evaluated.output
    # the same images without identity folders
    flat = root / "flat"
    flat.mkdir()
    for path in sorted((root / "faces").glob("p0[0-2]/*.png")):
        shutil.copy(path, flat / f"{path.parent.name}_{path.name}")
    scored = CliRunner().invoke(main, ["score", str(flat), "-o", str(root / "flat.csv"), *common])
    assert scored.exit_code == 0, scored.output
    return root


def make_report(root, out, scores="scores.csv", images="faces", evaluation=True):
    args = ["report", str(root / scores), "--images", str(root / images), "-o", str(out), "--count", "8"]
    result = CliRunner().invoke(main, args + (["--evaluation", str(root / "ev")] if evaluation else []))
    assert result.exit_code == 0, result.output
    return out


VIEWPORT = {"width": 1200, "height": 900}


def read_outs(page):
    return {
        name: page.text_content(f"#cut-{name}")
        for name in ("value", "dropped", "share", "marked", "fnmr", "mated")
        if page.query_selector(f"#cut-{name}")
    }


def test_moving_the_slider_changes_the_counts_and_the_expected_fnmr(inputs, tmp_path):
    root = inputs
    out = make_report(root, tmp_path / "report.html")
    scores = [int(r["Q"]) for r in csv.DictReader(open(root / "scores.csv")) if r["Q"]]
    total = len(scores) + 1  # the broken file
    with open(root / "ev" / "cuts.csv") as handle:
        table = sorted(
            (
                (float(r["cut"]), r["fnmr"], float(r["mated_share"]))
                for r in csv.DictReader(handle)
                if r["source"] == "Q" and r["fmr"] == "0.001"
            )
        )

    def expected(cut):
        row = [t for t in table if t[0] <= cut][-1:] or table[:1]
        fnmr = f"{float(row[0][1]):.4f}" if row[0][1] else "n/a (no mated comparison left)"
        dropped = sum(q < cut for q in scores)
        return {
            "value": str(cut),
            "dropped": str(dropped),
            "share": f"{100 * dropped / total:.1f}%",
            "fnmr": fnmr,
            "mated": f"{100 * row[0][2]:.1f}%",
        }

    with chromium_page(VIEWPORT) as (page, log):
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        at_start = read_outs(page)
        box = page.query_selector("#q-cut").bounding_box()
        page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + box["height"] / 2)
        after_click = read_outs(page)
        page.focus("#q-cut")
        for _ in range(7):
            page.keyboard.press("ArrowRight")
        after_keys = read_outs(page)
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('figure.face')).map("
            "f => [Number(f.dataset.q), f.classList.contains('dropped')])"
        )
    assert log.unexpected() == []
    for outs in (at_start, after_click, after_keys):
        cut = int(outs["value"])
        marked = [q for q, dropped in shown if dropped] if outs is after_keys else None
        outs = dict(outs)
        assert {k: outs[k] for k in ("value", "dropped", "share", "fnmr", "mated")} == expected(cut)
        if marked is not None:
            assert all(q < cut for q in marked) and len(marked) == sum(q < cut for q, _ in shown) == int(outs["marked"])
    assert at_start["value"] == "0" and 50 <= int(after_click["value"]) <= 70
    assert int(after_keys["value"]) == int(after_click["value"]) + 7
    assert at_start["dropped"] != after_click["dropped"] != after_keys["dropped"]
    assert at_start["fnmr"] != after_keys["fnmr"] and int(after_keys["marked"]) > 0


def test_without_an_evaluation_or_identities_the_slider_shows_counts_only(inputs, tmp_path):
    root = inputs
    no_evaluation = make_report(root, tmp_path / "a.html", evaluation=False).read_text()
    assert "fqe-onnx evaluate ROOT -o DIR" in no_evaluation and 'id="cut-fnmr"' not in no_evaluation
    flat = make_report(root, tmp_path / "b.html", scores="flat.csv", images="flat", evaluation=False)
    assert "not in identity folders" in flat.read_text()
    with chromium_page(VIEWPORT) as (page, log):
        page.goto(flat.as_uri())
        before = read_outs(page)
        page.focus("#q-cut")
        page.keyboard.press("End")
        after = read_outs(page)
    assert log.unexpected() == [] and set(before) == {"value", "dropped", "share", "marked"}
    assert after["value"] == "100" and before["dropped"] == "0" and int(after["dropped"]) > 0


GEOMETRY = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = r => { const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const axes = Array.from(svg.querySelectorAll('line.axis')).map(box);  // the plot area: the box the axes span
  const plot = [Math.min(...axes.map(a => a[0])), Math.min(...axes.map(a => a[1])),
                Math.max(...axes.map(a => a[2])), Math.max(...axes.map(a => a[3]))];
  return {frame: box(svg), plot: plot,
          texts: Array.from(svg.querySelectorAll('text')).map(t => ({text: t.textContent, cls: t.getAttribute('class'),
                                                                      box: box(t)}))};
})"""


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_chart_labels_stay_inside_the_frame_and_the_legend_off_the_curves(inputs, tmp_path):
    out = make_report(inputs, tmp_path / "report.html")
    with chromium_page(VIEWPORT) as (page, log):
        page.goto(out.as_uri())
        charts = page.evaluate(GEOMETRY)
    assert log.unexpected() == [] and len(charts) >= 3
    legends = 0
    for chart in charts:
        frame, plot = chart["frame"], chart["plot"]
        for t in chart["texts"]:
            b = t["box"]
            assert frame[0] <= b[0] and b[2] <= frame[2] and frame[1] <= b[1] and b[3] <= frame[3], t
        for i, a in enumerate(chart["texts"]):
            for b in chart["texts"][i + 1 :]:
                assert not overlaps(a["box"], b["box"]), (a, b)
        for t in chart["texts"]:
            if t["cls"] == "legend":
                legends += 1
                assert not overlaps(t["box"], plot), t
                assert "normalised pAUC" in t["text"]
    assert legends == 3  # q, random and the Laplacian variance on the EDC
