"""curate's findings end to end on a small synthetic folder: findings.csv and the reasons that point
to it, the review page (in headless Chromium: every side shown, a finding marked and the marks
downloaded), and a rerun with --decisions that keeps the marks and shows only what is left."""

import csv
import json
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_image
from test_curation import photo, projection_model

from fqe_onnx.cli import main
from fqe_onnx.curation.marks import read_marks

COMMON = ["--align", "never", "--calibration", "x0=1,w=0.5", "--embedding-dim", "64", "--no-progress"]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    """24 folders of 5 made-up people, and: a copy in id03, a photo of id17 in id05, id03's person
    again in a folder of one image (id03_alias), a folder of two people, a broken file. Curated once."""
    root = tmp_path_factory.mktemp("review")
    faces = root / "faces"
    for person in range(24):
        for k in range(5):
            write_image(faces / f"id{person:02d}" / f"{k}.png", photo(person, k))
    write_image(faces / "id03" / "9_copy.png", np.clip(photo(3, 0).astype(int) + 2, 0, 255).astype(np.uint8))
    write_image(faces / "id05" / "9_misfiled.png", photo(17, 9))
    write_image(faces / "id03_alias" / "0.png", photo(3, 7))
    for k in range(3):
        write_image(faces / "mixed" / f"a{k}.png", photo(30, k))
        write_image(faces / "mixed" / f"b{k}.png", photo(31, k))
    (faces / "id07" / "9_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    model = projection_model(root / "m.onnx")
    out = root / "out"
    result = CliRunner().invoke(main, ["curate", str(faces), "-o", str(out), "-m", str(model), *COMMON])
    assert result.exit_code == 0, result.output
    findings = {r["kind"]: r for r in read_csv(out / "findings.csv")}
    return root, faces, out, findings, result


def rerun(review, out, *extra):
    root, faces, first, _, _ = review
    return CliRunner().invoke(
        main,
        ["curate", str(faces), "-o", str(out), "--embeddings", str(first / "embeddings.npy"), "--no-progress", *extra],
    )


def test_findings_csv_and_the_reasons_that_point_to_it(review):
    _, _, out, findings, result = review
    rows = read_csv(out / "findings.csv")
    assert list(rows[0]) == [
        "finding",
        "rank",
        "kind",
        "members",
        "similarity",
        "threshold",
        "margin",
        "mutual",
        "strength",
        "mark",
        "detail",
    ]
    assert sorted(findings) == ["duplicate", "misfiled", "mixed", "same-person"] and len(rows) == 4
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["strength"]) for r in rows] == sorted((float(r["strength"]) for r in rows), reverse=True)
    same, copy, misfiled, mixed = (findings[k] for k in ("same-person", "duplicate", "misfiled", "mixed"))
    assert same["members"] == "id03;id03_alias" and copy["members"] == "id03/0.png;id03/9_copy.png"
    assert (misfiled["members"], mixed["members"]) == ("id05/9_misfiled.png", "mixed")
    for r in rows:
        margin = float(r["similarity"]) - float(r["threshold"])
        assert float(r["margin"]) == pytest.approx(
            margin if r["kind"] in ("same-person", "duplicate") else -margin, abs=2e-4
        )
        assert float(r["margin"]) > 0 and re.fullmatch(r"[a-z]{2}-[0-9a-f]{10}", r["finding"]) and r["mark"] == ""
    assert same["detail"] == (
        f"the means of id03 (6 images) and id03_alias (1 image) are {float(same['similarity']):.3f} alike"
    )
    images = {r["path"]: r for r in read_csv(out / "curation.csv")}
    assert (images["id03/9_copy.png"]["reasons"], images["id03/9_copy.png"]["findings"]) == (
        "duplicate-of:id03/0.png",
        copy["finding"],
    )
    # its not-own-identity and its looks-like: one question
    assert images["id05/9_misfiled.png"]["findings"] == ";".join([misfiled["finding"]] * 2)
    assert images["id07/9_broken.png"]["findings"] == "" and images["id00/0.png"]["findings"] == ""
    folders = {r["identity"]: r for r in read_csv(out / "identities.csv")}
    assert folders["id03"]["findings"] == folders["id03_alias"]["findings"] == same["finding"]
    assert folders["mixed"]["findings"] == mixed["finding"]
    assert "findings: 4 (same-person 1, duplicate 1, misfiled 1, mixed 1)" in result.stderr
    assert json.loads((out / "summary.json").read_text())["findings"] == {
        "total": 4,
        "by_kind": {"duplicate": 1, "same-person": 1, "mixed": 1, "misfiled": 1},
        "marked": {},
        "open": 4,
        "marks_not_found": 0,
    }


def test_the_page_shows_every_side_a_single_image_one_included(review):
    _, _, out, findings, _ = review
    html = (out / "review.html").read_text()
    same = html.split(f'id="{findings["same-person"]["finding"]}"')[1].split("</section>")[0]
    assert "id03_alias (1 image)</h3>" in same and 'alt="id03_alias/0.png"' in same
    assert "id03 (6 images)</h3>" in same  # a small folder: all of it
    assert ">none<" not in html and not re.search(r"(?<![\d.])1 (images|groups|findings|marks)\b", html)
    assert html.count('<section class="finding"') == 4 and "Findings to review (4)" in html
    assert html.count("<li><b>") == 6  # one sentence per threshold and the quality cut
    for name in (
        "Search threshold",
        "Folder threshold",
        "Own-identity threshold",
        "Duplicate threshold",
        "Group threshold",
        "Quality cut",
    ):
        assert f"<b>{name}" in html, name


def test_a_rerun_with_decisions_keeps_the_marks_and_hides_settled_findings(review, tmp_path):
    _, _, out, findings, _ = review
    same, copy, misfiled, mixed = (findings[k]["finding"] for k in ("same-person", "duplicate", "misfiled", "mixed"))
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(
        "finding,kind,members,mark\n"
        f"{copy},duplicate,,confirmed\n{mixed},mixed,,rejected\n{misfiled},misfiled,,unsure\n"
        "sp-0000000000,same-person,gone;away,confirmed\n",
        encoding="utf-8",
    )
    result = rerun(review, tmp_path / "again", "--decisions", str(decisions))
    assert result.exit_code == 0, result.output
    marks = {r["finding"]: r["mark"] for r in read_csv(tmp_path / "again" / "findings.csv")}
    assert marks == {same: "", copy: "confirmed", mixed: "rejected", misfiled: "unsure"}
    assert (
        "findings: 4 (same-person 1, duplicate 1, misfiled 1, mixed 1); marks read back: 1 confirmed, "
        "1 rejected, 1 unsure (1 mark for findings not in this run); 2 still to review"
    ) in result.stderr
    html = (tmp_path / "again" / "review.html").read_text()
    shown = re.findall(r'<section class="finding" id="([^"]+)"', html)
    assert shown == [f for f in (same, misfiled) if f in shown] and sorted(shown) == sorted([same, misfiled])
    assert "Findings to review (2)" in html and "Marked earlier (3)" in html and "not found in this run" in html
    assert f'value="unsure" data-finding="{misfiled}" checked' in html
    data = json.loads(re.search(r'id="marks-data">(.*?)</script>', html).group(1))
    assert [f["finding"] for f in data["findings"]] == shown
    assert {m["finding"]: m["mark"] for m in data["carried"]} == {
        copy: "confirmed",
        mixed: "rejected",
        misfiled: "unsure",
        "sp-0000000000": "confirmed",
    }


def test_a_bad_decisions_file_stops_curate_before_any_work(review, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("finding,mark\nsp-0000000000,yes\n", encoding="utf-8")
    result = rerun(review, tmp_path / "never", "--decisions", str(bad))
    assert result.exit_code == 2 and "line 2: mark 'yes' for sp-0000000000" in result.stderr
    assert not (tmp_path / "never").exists()


def test_the_page_marks_findings_and_downloads_them_and_a_rerun_reads_them_back(review, tmp_path):
    """In headless Chromium: mark two findings, download decisions.csv, reread the marks after a
    reload (they stay in the browser), rerun curate with the download, and on the new page mark
    one more: its download holds all three."""
    from browser import chromium_page

    _, _, out, findings, _ = review
    same, copy, misfiled = (findings[k]["finding"] for k in ("same-person", "duplicate", "misfiled"))
    with chromium_page({"width": 1280, "height": 900}) as (page, log):
        page.goto((out / "review.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("document.images.length")
        loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        empty_sides = page.evaluate(
            "Array.from(document.querySelectorAll('.finding .side'))"
            ".filter(s => s.querySelectorAll('figure').length === 0).length"
        )
        assert page.inner_text("#marked-count") == "0 of 4 findings marked"
        page.check(f'input[data-finding="{same}"][value="confirmed"]')
        page.check(f'input[data-finding="{copy}"][value="rejected"]')
        assert page.inner_text("#marked-count") == "2 of 4 findings marked"
        assert page.get_attribute(f'section[id="{same}"]', "data-mark") == "confirmed"
        shot = tmp_path / "marked.png"
        page.screenshot(path=str(shot), full_page=True)
        with page.expect_download() as info:
            page.click("#download-marks")
        download = info.value
        assert download.suggested_filename == "decisions.csv"
        download.save_as(str(tmp_path / "decisions.csv"))
        page.reload()
        page.wait_for_load_state("load")
        assert page.inner_text("#marked-count") == "2 of 4 findings marked"
        assert page.is_checked(f'input[data-finding="{copy}"][value="rejected"]')
    assert log.unexpected(allowed=("file:", "data:", "blob:")) == []
    assert images >= 4 + 6 + 3 and loaded == images and empty_sides == 0
    image = cv2.imread(str(shot))
    assert image.shape[0] > 900 and float(image.std()) > 20
    marks = read_marks(tmp_path / "decisions.csv")
    assert {k: m.mark for k, m in marks.items()} == {same: "confirmed", copy: "rejected"}
    assert (marks[same].kind, marks[same].members) == ("same-person", "id03;id03_alias")

    result = rerun(review, tmp_path / "again", "--decisions", str(tmp_path / "decisions.csv"))
    assert result.exit_code == 0, result.output
    with chromium_page({"width": 1280, "height": 900}) as (page, log):
        page.goto((tmp_path / "again" / "review.html").as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("document.querySelectorAll('section.finding').length") == 2
        assert page.inner_text("#marked-count") == "0 of 2 findings marked"
        page.check(f'input[data-finding="{misfiled}"][value="unsure"]')
        with page.expect_download() as info:
            page.click("#download-marks")
        info.value.save_as(str(tmp_path / "all.csv"))
    assert log.unexpected(allowed=("file:", "data:", "blob:")) == []
    assert {k: m.mark for k, m in read_marks(tmp_path / "all.csv").items()} == {
        same: "confirmed",
        copy: "rejected",
        misfiled: "unsure",
    }
