"""The bundle (one ONNX file) against the Python path (``fqe-onnx score``), over ../shared/data/lfw-dev.

    python benchmarks/bundle_parity.py

- Frames (the 250x250 JPEGs, default --align auto, so every one is detected and aligned): status
  agreement, relative q difference (median, p99, max), Q differences, the EDC pAUC (0..20%, FMR 1e-3,
  normalised) of each path's q over the same comparisons (the Python path's embeddings).
- 112x112 crops (the Python path's aligned crops of the same frames, taken as they are by both): the
  same measures.
- Speed: the bundle in Python's ONNX Runtime, one image per call on one thread, against the Scorer of
  ``score --threads 1 --batch-size 1``, both from the JPEG files, interleaved rounds, medians.
- images/s of the bundle in Node (examples/node) and in the browser page (examples/browser), on the
  first frames as PNG (needs both examples' ``npm ci`` and Debian's chromium).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fqe_onnx import Scorer  # noqa: E402
from fqe_onnx.align.aligner import FaceAligner  # noqa: E402
from fqe_onnx.bundle.api import BundleSession, make_bundle, write_bundle  # noqa: E402
from fqe_onnx.bundle.assemble import STATUS_CODES  # noqa: E402
from fqe_onnx.bundle.check import python_status  # noqa: E402
from fqe_onnx.decode import read_image  # noqa: E402
from verification import edc_pauc, lfw_items, pair_scores  # noqa: E402


SPEED_IMAGES, SPEED_ROUNDS, RUNTIME_IMAGES = 300, 3, 100


def both_paths(images: list[np.ndarray], scorer: Scorer, session: BundleSession) -> dict[str, list]:
    """Per image: the Python path's status, q and Q; the bundle's status, q, Q and embedding (the
    comparisons of the EDC; the bundle's embedding equals the Python path's to float precision)."""
    out: dict[str, list] = {k: [] for k in ("py_status", "py_q", "py_Q", "embedding", "b_status", "b_q", "b_Q")}
    for image in images:
        record = scorer.score_array(image)
        result = session.run(image)
        out["py_status"].append(python_status(record))
        out["py_q"].append(record.q)
        out["py_Q"].append(record.Q)
        out["b_status"].append(STATUS_CODES[int(result["status"])])
        out["b_q"].append(float(result["q"]) if np.isfinite(result["q"]) else None)
        out["b_Q"].append(int(result["Q"]))
        out["embedding"].append(result["embedding"].astype(np.float64))
    return out


def report(name: str, r: dict[str, list], labels: list[str]) -> None:
    n = len(r["py_status"])
    agree = sum(a == b for a, b in zip(r["py_status"], r["b_status"]))
    both = [(p, b, pq, bq) for p, b, pq, bq in zip(r["py_q"], r["b_q"], r["py_Q"], r["b_Q"]) if p is not None and b is not None]
    rel = np.array([abs(b - p) / abs(p) for p, b, _, _ in both])
    dq = np.array([abs(bq - pq) for _, _, pq, bq in both])
    print(f"\n{name}: {n} images")
    print(f"  status agreement: {agree / n:.4f} ({agree} of {n}); disagreeing: "
          + (", ".join(f"{k}: {a} vs {b}" for k, (a, b) in enumerate(zip(r['py_status'], r['b_status'])) if a != b) or "none"))
    print(f"  relative q difference: median {np.median(rel):.3g}, p99 {np.quantile(rel, 0.99):.3g}, max {rel.max():.3g}")
    print(f"  |Q difference|: {int((dq == 0).sum())} equal, {int((dq == 1).sum())} by 1, {int((dq > 1).sum())} by more")
    embeddings = np.stack(r["embedding"])
    sims, genuine, i, j = pair_scores(embeddings, labels)
    py_q = np.array([q if q is not None else -np.inf for q in r["py_q"]])
    b_q = np.array([q if q is not None else -np.inf for q in r["b_q"]])
    a, b = edc_pauc(py_q, sims, genuine, i, j), edc_pauc(b_q, sims, genuine, i, j)
    print(f"  EDC pAUC 0..20% at FMR 1e-3, normalised: Python {a:.4f}, bundle {b:.4f}, difference {abs(a - b):.4f}")


def speed(paths: list[Path], scorer: Scorer, session: BundleSession) -> None:
    rates: dict[str, list[float]] = {"score --threads 1 --batch-size 1": [], "bundle, one image per call": []}
    for _ in range(SPEED_ROUNDS):
        start = time.perf_counter()
        for _record in scorer.score_paths(paths):
            pass
        rates["score --threads 1 --batch-size 1"].append(len(paths) / (time.perf_counter() - start))
        start = time.perf_counter()
        for path in paths:
            session.run(read_image(path))
        rates["bundle, one image per call"].append(len(paths) / (time.perf_counter() - start))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\nspeed, {len(paths)} LFW JPEGs end to end, medians of {SPEED_ROUNDS} interleaved rounds:")
    for k, v in medians.items():
        print(f"  {k}: {v:.1f} images/s (rounds: {', '.join(f'{x:.1f}' for x in rates[k])})")
    print(f"  ratio bundle / score: {medians['bundle, one image per call'] / medians['score --threads 1 --batch-size 1']:.2f}")


def other_runtimes(images: list[np.ndarray]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = []
        for k, image in enumerate(images):
            cv2.imwrite(str(folder / f"{k:04d}.png"), image)
            files.append(str(folder / f"{k:04d}.png"))
        bundle = folder / "bundle.onnx"
        write_bundle(bundle, pixels="rgba")
        done = subprocess.run(["node", "score.mjs", str(bundle), *files], cwd=ROOT / "examples" / "node",
                              capture_output=True, text=True, timeout=600)
        print(f"\nNode (examples/node, onnxruntime-node, 1 thread): {done.stderr.strip().splitlines()[-1]}")
        sys.path.insert(0, str(ROOT / "tests"))
        from test_example_browser import BROWSER_FLAGS, serve, site

        import shutil

        from playwright.sync_api import sync_playwright

        from fqe_onnx.zoo import resolve_model

        (folder / "web").mkdir()
        served = site(folder / "web", resolve_model(None))
        for name in files:
            (served / Path(name).name).symlink_to(name)
        server, origin = serve(served)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=BROWSER_FLAGS)
                page = browser.new_page()
                page.goto(f"{origin}/index.html")
                page.wait_for_function("window.bundleReady === true", timeout=120_000)
                page.evaluate("url => window.scoreUrl(url)", Path(files[0]).name)  # warm up
                times = [page.evaluate("url => window.scoreUrl(url)", Path(name).name)["milliseconds"] for name in files]
                browser.close()
        finally:
            server.shutdown()
        print(f"browser (examples/browser, onnxruntime-web wasm, 1 thread, Chromium): {len(times)} images, "
              f"{1000 * len(times) / sum(times):.1f} images/s (run time only, drawing and decoding excluded)")


def main() -> None:
    items = lfw_items()
    paths, labels = [p for p, _ in items], [label for _, label in items]
    frames = [read_image(p) for p in paths]
    session = BundleSession(make_bundle(embedding=True))
    with Scorer(threads=1, batch_size=1) as scorer:
        frame_results = both_paths(frames, scorer, session)
        report("frames (250x250 LFW JPEGs, --align auto)", frame_results, labels)
        aligner = FaceAligner()
        crops = [aligner.faces(f)[0].crop for f in frames]
        report("112x112 crops (the Python path's aligned crops; as-is in both)", both_paths(crops, scorer, session), labels)
        speed(paths[:SPEED_IMAGES], scorer, BundleSession(make_bundle()))
    other_runtimes(frames[:RUNTIME_IMAGES])


if __name__ == "__main__":
    main()
