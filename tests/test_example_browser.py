"""examples/browser: the static page scores the committed vectors in Debian's Chromium with
onnxruntime-web (wasm from the page's own folder), served from 127.0.0.1, and meets expected.json."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from browser import chromium_page

from fqe_onnx.bundle.api import write_bundle
from fqe_onnx.bundle.vectors import meets

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "browser"
VECTORS = ROOT / "tests" / "vectors" / "faceplugin-mobilefacenet"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A static server for ``folder`` on 127.0.0.1 (a free port), in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def site(tmp_path: Path, model: Path) -> Path:
    """The page as a user serves it: the example's files, its node_modules, and bundle.onnx beside them."""
    folder = tmp_path / "site"
    folder.mkdir()
    for name in ("index.html", "app.mjs", "node_modules"):
        (folder / name).symlink_to(EXAMPLE / name)
    (folder / "vectors").symlink_to(VECTORS)
    write_bundle(folder / "bundle.onnx", model, pixels="rgba")
    return folder


def test_browser_page_meets_the_vectors(default_model, tmp_path):
    assert (EXAMPLE / "node_modules" / "onnxruntime-web").is_dir(), (
        "run `npm ci` in examples/browser (scripts/test.sh does)"
    )
    expected = json.loads((VECTORS / "expected.json").read_text())
    server, origin = serve(site(tmp_path, default_model))
    try:
        with chromium_page() as (page, log):
            page.goto(f"{origin}/index.html")
            page.wait_for_function("window.bundleReady === true", timeout=120_000)
            results = {
                row["file"]: page.evaluate("url => window.scoreUrl(url)", f"vectors/{row['file']}")
                for row in expected["images"]
            }
            assert "Q" in page.inner_text("#result") or "not scored" in page.inner_text("#result")
    finally:
        server.shutdown()
    assert log.unexpected(allowed=(origin,)) == []  # no error, and every request stayed on the page's own server
    assert any(url.endswith(".wasm") for url in log.requests)
    for row in expected["images"]:
        got = results[row["file"]]
        nan = float("nan")
        result = {
            "status": got["status"],
            "q": got["q"] if got["q"] is not None else nan,
            "Q": got["Q"],
            "box": [nan if v is None else v for v in got["box"]],
            "points": [[nan if v is None else v for v in got["points"][i : i + 2]] for i in range(0, 10, 2)],
            "face_score": nan if got["face_score"] is None else got["face_score"],
        }
        assert meets(row, result) == [], (row["file"], got)


def test_browser_page_scores_a_large_photo_through_the_tiles(default_model, tmp_path):
    """A 1920x1080 PNG whose 34 px face only a tile finds (seen whole it is missed): onnxruntime-web
    runs the tiled detection and its second look and gives the Python path's status, q, Q, box and points."""
    import cv2
    import numpy as np

    from frames import large_frame

    from fqe_onnx import Scorer
    from fqe_onnx.align.aligner import FaceAligner
    from fqe_onnx.bundle.check import python_status

    image = large_frame(1080, 1920, "plain", True)
    assert FaceAligner(tiling=False).detector.detect(image) == []
    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        record = scorer.score_array(image)
    (located,) = FaceAligner().locate(image)
    expected = {
        "status": python_status(record),
        "q": record.q,
        "Q": record.Q,
        "box": list(located.detection.box),
        "points": np.asarray(located.points).tolist(),
        "face_score": located.detection.score,
    }
    folder = site(tmp_path, default_model)
    cv2.imwrite(str(folder / "large.png"), image)
    server, origin = serve(folder)
    try:
        with chromium_page() as (page, log):
            page.goto(f"{origin}/index.html")
            page.wait_for_function("window.bundleReady === true", timeout=120_000)
            got = page.evaluate("url => window.scoreUrl(url)", "large.png")
    finally:
        server.shutdown()
    assert log.unexpected(allowed=(origin,)) == []
    assert expected["status"] == "aligned"
    result = {
        "status": got["status"],
        "q": got["q"],
        "Q": got["Q"],
        "box": got["box"],
        "points": [got["points"][i : i + 2] for i in range(0, 10, 2)],
        "face_score": got["face_score"],
    }
    assert meets(expected, result) == [], (got, expected)
