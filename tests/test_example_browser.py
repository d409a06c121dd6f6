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
    assert (EXAMPLE / "node_modules" / "onnxruntime-web").is_dir(), "run `npm ci` in examples/browser (scripts/test.sh does)"
    expected = json.loads((VECTORS / "expected.json").read_text())
    server, origin = serve(site(tmp_path, default_model))
    try:
        with chromium_page() as (page, log):
            page.goto(f"{origin}/index.html")
            page.wait_for_function("window.bundleReady === true", timeout=120_000)
            results = {row["file"]: page.evaluate("url => window.scoreUrl(url)", f"vectors/{row['file']}")
                       for row in expected["images"]}
            assert "Q" in page.inner_text("#result") or "not scored" in page.inner_text("#result")
    finally:
        server.shutdown()
    assert log.unexpected(allowed=(origin,)) == []  # no error, and every request stayed on the page's own server
    assert any(url.endswith(".wasm") for url in log.requests)
    for row in expected["images"]:
        got = results[row["file"]]
        nan = float("nan")
        result = {"status": got["status"], "q": got["q"] if got["q"] is not None else nan, "Q": got["Q"],
                  "box": [nan if v is None else v for v in got["box"]],
                  "points": [[nan if v is None else v for v in got["points"][i : i + 2]] for i in range(0, 10, 2)],
                  "face_score": nan if got["face_score"] is None else got["face_score"]}
        assert meets(row, result) == [], (row["file"], got)
