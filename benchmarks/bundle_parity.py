"""The bundle (one ONNX file) against the Python path (``fqe-onnx score``), over ../shared/data/lfw-dev.

    python benchmarks/bundle_parity.py

- Frames (the 250x250 JPEGs, default --align auto, so every one is detected and aligned): status
  agreement, relative q difference (median, p99, max), Q differences, the EDC pAUC (0..20%, FMR 1e-3,
  normalised) of each path's q over the same comparisons (the Python path's embeddings).
- 112x112 crops (the Python path's aligned crops of the same frames, taken as they are by both): the
  same measures.
- Speed: the bundle in Python's ONNX Runtime, one image per call on one thread, against the Scorer of
  ``score --threads 1 --batch-size 1``, both from the JPEG files, interleaved rounds, medians.
- Large photos (1920x1080, 3000x2000, 6000x4000 frames with a 34 px face that only the tiles find,
  ``tests/frames.py``): milliseconds per photo of each path, interleaved rounds, medians, and whether
  status, q and Q agree.
- images/s of the bundle in Node (examples/node) and in the browser page (examples/browser), on the
  first frames as PNG, and the milliseconds of one 1920x1080 tiled photo in each (needs both
  examples' ``npm ci`` and Debian's chromium).
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
sys.path.insert(0, str(ROOT / "tests"))

from fqe_onnx import Scorer  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.align.aligner import FaceAligner  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.bundle.api import BundleSession, make_bundle, write_bundle  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.bundle.assemble import STATUS_CODES  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.bundle.check import python_status  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.decode import read_image  # noqa: E402  (after the sys.path insert above)
from verification import edc_pauc, lfw_items, pair_scores  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.machine import describe_line  # noqa: E402  (after the sys.path insert above)


SPEED_IMAGES, SPEED_ROUNDS, RUNTIME_IMAGES = 300, 3, 100
LARGE_SIZES, LARGE_ROUNDS = ((1080, 1920), (2000, 3000), (4000, 6000)), 3


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
    both = [
        (p, b, pq, bq)
        for p, b, pq, bq in zip(r["py_q"], r["b_q"], r["py_Q"], r["b_Q"])
        if p is not None and b is not None
    ]
    rel = np.array([abs(b - p) / abs(p) for p, b, _, _ in both])
    dq = np.array([abs(bq - pq) for _, _, pq, bq in both])
    print(f"\n{name}: {n} images")
    print(
        f"  status agreement: {agree / n:.4f} ({agree} of {n}); disagreeing: "
        + (
            ", ".join(f"{k}: {a} vs {b}" for k, (a, b) in enumerate(zip(r["py_status"], r["b_status"])) if a != b)
            or "none"
        )
    )
    print(
        f"  relative q difference: median {np.median(rel):.3g}, p99 {np.quantile(rel, 0.99):.3g}, max {rel.max():.3g}"
    )
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
    print(
        f"  ratio bundle / score: {medians['bundle, one image per call'] / medians['score --threads 1 --batch-size 1']:.2f}"
    )


def large_photos(scorer: Scorer, session: BundleSession) -> None:
    """Milliseconds per large tiled photo, each path, interleaved rounds; and their agreement."""
    from frames import large_frame

    print(
        f"\nlarge photos (a 34 px face only the tiles find), ms per photo, medians of {LARGE_ROUNDS} interleaved rounds:"
    )
    for height, width in LARGE_SIZES:
        image = large_frame(height, width, "plain", True)
        record, result = scorer.score_array(image), session.run(image)  # also the warm-up
        times: dict[str, list[float]] = {"python": [], "bundle": []}
        for _ in range(LARGE_ROUNDS):
            start = time.perf_counter()
            scorer.score_array(image)
            times["python"].append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            session.run(image)
            times["bundle"].append(1000 * (time.perf_counter() - start))
        python, bundle = statistics.median(times["python"]), statistics.median(times["bundle"])
        status = STATUS_CODES[int(result["status"])]
        print(
            f"  {width}x{height}: score {python:.0f} ms, bundle {bundle:.0f} ms (speed {python / bundle:.2f}x score's); "
            f"status {python_status(record)} / {status}, q {record.q:.6f} / {float(result['q']):.6f}, "
            f"Q {record.Q} / {int(result['Q'])}"
        )


def other_runtimes(images: list[np.ndarray]) -> None:
    from frames import large_frame

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = []
        for k, image in enumerate(images):
            cv2.imwrite(str(folder / f"{k:04d}.png"), image)
            files.append(str(folder / f"{k:04d}.png"))
        large = folder / "large.png"
        cv2.imwrite(str(large), large_frame(1080, 1920, "plain", True))
        bundle = folder / "bundle.onnx"
        write_bundle(bundle, pixels="rgba")
        node = ROOT / "examples" / "node"
        done = subprocess.run(
            ["node", "score.mjs", str(bundle), *files], cwd=node, capture_output=True, text=True, timeout=600
        )
        print(f"\nNode (examples/node, onnxruntime-node, 1 thread): {done.stderr.strip().splitlines()[-1]}")
        done = subprocess.run(
            ["node", "score.mjs", str(bundle), str(large), str(large)],
            cwd=node,
            capture_output=True,
            text=True,
            timeout=600,
        )  # twice: the second run is warm
        row = done.stdout.strip().splitlines()[-1].split(",")
        print(
            f"Node, the 1920x1080 tiled photo twice: {done.stderr.strip().splitlines()[-1]}; status {row[1]}, q {row[2]}"
        )
        from browser import chromium_page
        from test_example_browser import serve, site

        from fqe_onnx.zoo import resolve_model

        (folder / "web").mkdir()
        served = site(folder / "web", resolve_model(None))
        for name in [*files, str(large)]:
            (served / Path(name).name).symlink_to(name)
        server, origin = serve(served)
        try:
            with chromium_page() as (page, _log):
                page.goto(f"{origin}/index.html")
                page.wait_for_function("window.bundleReady === true", timeout=120_000)
                page.evaluate("url => window.scoreUrl(url)", Path(files[0]).name)  # warm up
                times = [
                    page.evaluate("url => window.scoreUrl(url)", Path(name).name)["milliseconds"] for name in files
                ]
                page.evaluate("url => window.scoreUrl(url)", "large.png")  # warm up the tiled path
                tiled = page.evaluate("url => window.scoreUrl(url)", "large.png")
        finally:
            server.shutdown()
        print(
            f"browser (examples/browser, onnxruntime-web wasm, 1 thread, Chromium): {len(times)} images, "
            f"{1000 * len(times) / sum(times):.1f} images/s (run time only, drawing and decoding excluded)"
        )
        print(
            f"browser, the 1920x1080 tiled photo: {tiled['milliseconds']:.0f} ms, status {tiled['status']}, q {tiled['q']:.6f}"
        )


def main() -> None:
    print(describe_line(), flush=True)
    items = lfw_items()
    paths, labels = [p for p, _ in items], [label for _, label in items]
    frames = [read_image(p) for p in paths]
    session = BundleSession(make_bundle(embedding=True))
    with Scorer(threads=1, batch_size=1) as scorer:
        frame_results = both_paths(frames, scorer, session)
        report("frames (250x250 LFW JPEGs, --align auto)", frame_results, labels)
        aligner = FaceAligner()
        crops = [aligner.faces(f)[0].crop for f in frames]
        report(
            "112x112 crops (the Python path's aligned crops; as-is in both)", both_paths(crops, scorer, session), labels
        )
        fast = BundleSession(make_bundle())
        speed(paths[:SPEED_IMAGES], scorer, fast)
        large_photos(scorer, fast)
    other_runtimes(frames[:RUNTIME_IMAGES])


if __name__ == "__main__":
    main()
