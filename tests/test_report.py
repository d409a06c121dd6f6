"""fqe-onnx report: one self-contained page, checked in a real headless browser (Debian's chromium)."""

import sys

import cv2
import pytest
from click.testing import CliRunner

from browser import chromium_page
from test_evaluation import make_identities

from fqe_onnx.cli import main

VIEWPORT = {"width": 1200, "height": 900}


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory, request):
    from tiny_models import fixed_matrix, pooled_linear

    root = tmp_path_factory.mktemp("report")
    model = pooled_linear(root / "m.onnx", weights=fixed_matrix(3, 512, seed=1))
    make_identities(root / "faces", people=30, per_person=6)
    (root / "faces" / "id3" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    common = ["-m", str(model), "--align", "never", "--calibration", "x0=0.9,w=0.05"]
    scored = CliRunner().invoke(main, ["score", str(root / "faces"), "-o", str(root / "scores.csv"), *common])
    assert scored.exit_code == 1, scored.output  # the broken file
    evaluated = CliRunner().invoke(main, ["evaluate", str(root / "faces"), "-o", str(root / "ev"), *common])
    assert evaluated.exit_code == 0, evaluated.output
    return root


def test_report_is_self_contained(report_inputs):
    root = report_inputs
    out = root / "report.html"
    result = CliRunner().invoke(
        main,
        [
            "report",
            str(root / "scores.csv"),
            "--images",
            str(root / "faces"),
            "-o",
            str(out),
            "--count",
            "5",
            "--evaluation",
            str(root / "ev"),
        ],
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.count('<figure class="face"') == 10 and page.count("data:image/jpeg;base64,") == 10
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    # the slider's data and script are inline: no script is fetched
    assert page.count("<script") == 2 and "<script src" not in page and "src=" not in page.replace('src="data:', "")
    for text in ("Q histogram", "Q against q", "truncated", "geometry", "Per identity", "id3", "EDC at FMR 0.001"):
        assert text in page, text


def test_report_renders_in_headless_chromium(report_inputs, tmp_path):
    root = report_inputs
    out = tmp_path / "report.html"
    CliRunner().invoke(
        main,
        [
            "report",
            str(root / "scores.csv"),
            "--images",
            str(root / "faces"),
            "-o",
            str(out),
            "--count",
            "6",
            "--evaluation",
            str(root / "ev"),
        ],
    )
    with chromium_page(VIEWPORT) as (page, log):
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        svgs = page.evaluate("document.querySelectorAll('svg.chart').length")
        shot = tmp_path / "shot.png"
        page.screenshot(path=str(shot), full_page=True)
    assert log.unexpected() == []
    assert loaded == 12 and svgs >= 3  # 6 lowest + 6 highest faces; histogram, scatter, EDC
    image = cv2.imread(str(shot))
    assert image.shape[0] > 900 and float(image.std()) > 20  # not a blank page


def test_evaluate_without_matplotlib_gives_a_hint_and_no_plot(tmp_path, model_path, monkeypatch):
    make_identities(tmp_path / "faces", people=30, per_person=6)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(
        main,
        ["evaluate", str(tmp_path / "faces"), "-m", str(model_path), "--align", "never", "-o", str(tmp_path / "ev")],
    )
    assert result.exit_code == 0 and "pip install matplotlib (the plot extra)" in result.stderr
    assert not (tmp_path / "ev" / "edc.png").exists() and (tmp_path / "ev" / "summary.json").exists()


def test_report_refuses_a_file_that_is_not_a_score_table(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(main, ["report", str(bad), "--images", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "is not a score table" in result.stderr
