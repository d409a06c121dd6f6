"""The report with the measures (one small chart each, the measures below their floors under the
lowest faces), the scored face framed on its thumbnail, and round axis ticks."""

import csv
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from browser import chromium_page
from conftest import random_face, write_image
from test_report_slider import GEOMETRY, overlaps

from fqe_onnx.cli import main
from fqe_onnx.measure_catalog import FLOORS, MEASURES, below_floor
from fqe_onnx.records import columns
from fqe_onnx.report.charts import histogram, round_axis, scatter
from fqe_onnx.report.thumbnails import MARK_COLOUR, thumbnail

VIEWPORT = {"width": 1250, "height": 900}


def tick_labels(svg: str) -> list[str]:
    return re.findall(r'class="tick">([^<]*)<', svg)


def test_axes_run_between_round_values():
    counts = round_axis(0, 2283, integer=True)
    assert counts.ticks == (0, 500, 1000, 1500, 2000, 2500) and [counts.text(t) for t in counts.ticks][-1] == "2500"
    q = round_axis(1.91, 3.28)
    assert [q.text(t) for t in q.ticks] == ["1.5", "2.0", "2.5", "3.0", "3.5"]
    assert [round_axis(0, 0.3).text(t) for t in round_axis(0, 0.3).ticks] == ["0.0", "0.1", "0.2", "0.3"]
    assert round_axis(0, 3, integer=True).ticks == (0, 1, 2, 3)  # counts never get fractional ticks
    single = round_axis(5, 5)  # one value: an axis around it
    assert single.low < 5 < single.high and len(single.ticks) >= 3


def test_charts_label_counts_and_q_at_round_values():
    page = histogram([99] * 2283 + [3] * 40) + scatter([1.91, 2.4, 3.28], [10, 50, 90], "Q against q", "q", "Q")
    labels = tick_labels(page)
    assert "2500" in labels and "2.5" in labels and not any("e+" in t or t in ("1.91", "2.59", "3.28") for t in labels)
    assert all(float(t) * 2 == round(float(t) * 2, 6) for t in labels)  # multiples of 0.5 at most


def test_the_thumbnail_frames_the_scored_face_among_others():
    photo = np.full((300, 600, 3), 90, np.uint8)
    box = (380.0, 100.0, 460.0, 200.0)  # the second face of a group photo
    small = thumbnail(photo, side=112, box=box)
    assert max(small.shape[:2]) <= 112
    marked = np.all(np.abs(small.astype(int) - MARK_COLOUR) <= 40, axis=2)
    rows, cols = np.nonzero(marked)
    # the frame is drawn where the box is: a rectangle, inside the thumbnail, not its whole border
    assert marked.sum() > 100 and 0 < cols.min() and cols.max() < small.shape[1] - 1 and 0 < rows.min()
    assert thumbnail(photo, side=112).shape == (56, 112, 3) and not np.any(
        np.all(np.abs(thumbnail(photo, side=112).astype(int) - MARK_COLOUR) <= 40, axis=2)
    )


def write_measured_scores(path, images, rows: int = 30, common: dict | None = None) -> None:
    """A score table with measures, as score --measures writes it, for ``rows`` images; ``common``
    sets measures on every row."""
    rng = np.random.default_rng(0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns(True))
        writer.writeheader()
        for i in range(rows):
            name = f"p{i % 5}/{i}.png"
            write_image(images / name, random_face(i, (120, 160)))
            values = {m: int(rng.integers(0, 101)) for m in MEASURES}
            if i == 0:  # the lowest Q: two measures below their floors
                values = dict.fromkeys(MEASURES, 90) | {"head_pose_yaw": 3, "luminance_mean": 20}
            values.update(common or {})
            row = {c: "" for c in columns(True)}
            row.update(
                path=name,
                identity=f"p{i % 5}",
                q=f"{2 + i / 10:.3f}",
                Q=str(i * 3),
                mode="aligned",
                format="png",
                face="0",
                box="40 20 120 100",
                face_score="1.0",
                eye_distance="30",
            )
            for m in MEASURES:
                row[m], row[f"{m}_raw"] = values[m], values[m] / 100
            row["measures_below_floor"] = ";".join(below_floor(values))
            writer.writerow(row)


@pytest.fixture
def measured(tmp_path):
    images = tmp_path / "images"
    write_measured_scores(tmp_path / "scores.csv", images)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        main, ["report", str(tmp_path / "scores.csv"), "--images", str(images), "-o", str(out), "--count", "6"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_the_report_charts_every_measure_and_names_why_the_lowest_faces_are_low(measured):
    page = measured.read_text()
    for name in MEASURES:
        assert f'aria-label="{name}' in page, name
    assert page.count('class="floor"') == len(MEASURES) and "Component measures" in page
    lowest = page[page.index("lowest scored faces") : page.index("highest scored faces")]
    assert 'class="why">head_pose_yaw 3, luminance_mean 20' in lowest  # the first row, worst first
    assert 'class="why"' not in page[page.index("highest scored faces") :]
    table = page.split("faces where it is the worst")[1].split("</table>")[0]  # the faces below each floor
    assert f"<td>head_pose_yaw</td><td>{FLOORS['head_pose_yaw']}</td>" in table


def test_a_defect_of_nearly_every_face_is_named_once_not_under_each(tmp_path):
    images = tmp_path / "images"
    write_measured_scores(tmp_path / "scores.csv", images, common={"head_size": 4})
    out = tmp_path / "report.html"
    assert (
        CliRunner()
        .invoke(main, ["report", str(tmp_path / "scores.csv"), "--images", str(images), "-o", str(out), "--count", "6"])
        .exit_code
        == 0
    )
    page = out.read_text()
    assert "so not named under each: head_size." in page
    lowest = page[page.index("lowest scored faces") : page.index("highest scored faces")]
    assert 'class="why">head_pose_yaw 3, luminance_mean 20<' in lowest and "head_size 4" not in lowest


def test_a_report_without_measures_has_no_measure_section(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.png", random_face(1, (60, 60)))
    (tmp_path / "scores.csv").write_text(
        "path,identity,q,Q,mode,format,error_kind,error\na.png,,2.5,40,aligned,png,,\n"
    )
    out = tmp_path / "r.html"
    assert (
        CliRunner()
        .invoke(main, ["report", str(tmp_path / "scores.csv"), "--images", str(images), "-o", str(out)])
        .exit_code
        == 0
    )
    assert "Component measures" not in out.read_text() and 'class="why"' not in out.read_text()


def test_the_measure_charts_render_with_labels_inside_their_frames(measured, tmp_path):
    with chromium_page(VIEWPORT) as (page, log):
        page.goto(measured.as_uri())
        charts = page.evaluate(GEOMETRY)
        shot = tmp_path / "shot.png"
        page.screenshot(path=str(shot), full_page=True)
    assert log.unexpected() == [] and len(charts) == 2 + len(MEASURES)
    for chart in charts:
        frame = chart["frame"]
        for t in chart["texts"]:
            b = t["box"]
            assert frame[0] <= b[0] and b[2] <= frame[2] and frame[1] <= b[1] and b[3] <= frame[3], t
        for i, a in enumerate(chart["texts"]):
            for b in chart["texts"][i + 1 :]:
                assert not overlaps(a["box"], b["box"]), (a, b)
    assert float(cv2.imread(str(shot)).std()) > 20
