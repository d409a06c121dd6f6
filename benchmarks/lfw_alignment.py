"""What framing does on LFW: FNMR at FMR 1e-3 and the quality's EDC pAUC for each way of framing.

First, exactly what a user gets with NO options (default model, ``fqe-onnx score``'s Scorer, end to
end from the JPEG files) under ``--align auto`` (the default), ``always`` and ``never``, with
images/s. Then fixed geometries for comparison (all pairs of ../shared/data/lfw-dev):
  seed        the seed's geometry on the 250x250 frame (resize 192, centre crop 112)
  lfw-best    the best fixed geometry found by lfw_geometry.py (resize 200, crop top 38, left 44)
Also: time per image for alignment (detection, landmarks, warp), and the smallest face detected.

    python benchmarks/lfw_alignment.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from fqe_onnx import Scorer
from fqe_onnx.align.aligner import FaceAligner
from fqe_onnx.align.detection import five_points, select_main_face
from fqe_onnx.align.template import align_face
from fqe_onnx.quality import embedding_norms
from fqe_onnx.session import EmbeddingModel
from fqe_onnx.sources import source_for
from fqe_onnx.zoo import resolve_model
from verification import edc_pauc, embed_images, fnmr_at_fmr, lfw_items, load_images, pair_scores, summary
from fqe_onnx.machine import describe_line

GEOMETRIES = {
    "seed": {"geometry": "seed"},
    "lfw-best": {"resize": (200, 200), "crop": (38, 44, 112, 112)},
}


def align_all(aligner: FaceAligner, images: list[np.ndarray]) -> tuple[list[np.ndarray], int, dict[str, float]]:
    """Aligned crops (a failed detection falls back to the lfw-best crop, counted), and timings in ms/image."""
    crops, failures = [], 0
    timing = {"detect": 0.0, "landmarks": 0.0, "warp": 0.0}
    for image in images:
        t0 = time.perf_counter()
        detections = aligner.detector.detect(image)
        t1 = time.perf_counter()
        timing["detect"] += t1 - t0
        if not detections:
            failures += 1
            crops.append(cv2.resize(image, (200, 200))[38:150, 44:156])
            continue
        main = detections[select_main_face(detections, image.shape[1], image.shape[0])]
        points = five_points(aligner.detector.landmarks(image, main))
        t2 = time.perf_counter()
        crops.append(align_face(image, points))
        timing["landmarks"] += t2 - t1
        timing["warp"] += time.perf_counter() - t2
    return crops, failures, {k: 1000 * v / len(images) for k, v in timing.items()}


def smallest_face(aligner: FaceAligner, image: np.ndarray, canvas=(1280, 960)) -> tuple[float, float]:
    """Shrink the photo into a grey canvas until the face is lost; returns (face width as a share of
    the canvas width, face width in detector-input pixels) at the smallest scale still detected."""
    reference = aligner.detector.detect(image)[0]
    last = None
    for scale in np.geomspace(1.0, 0.05, 40):
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        board = np.full((canvas[1], canvas[0], 3), 128, np.uint8)
        board[: small.shape[0], : small.shape[1]] = small
        found = aligner.detector.detect(board)
        if not found:
            break
        last = reference.width * scale
    if last is None:
        return float("nan"), float("nan")
    return last / canvas[0], last * 320 / canvas[0]


def verification_line(name: str, embeddings: np.ndarray, labels: list[str], extra: str = "") -> str:
    q = embedding_norms(embeddings)
    sims, genuine, i, j = pair_scores(embeddings, labels)
    fnmr, thr = fnmr_at_fmr(sims, genuine)
    return f"{name:<18} {fnmr:>9.3f} {thr:>6.3f} {edc_pauc(q, sims, genuine, i, j):>8.3f} {extra:>10}  {summary(q)}"


def default_run(items: list, mode: str) -> str:
    """The Scorer exactly as ``fqe-onnx score`` builds it with no options, except ``--align``."""
    sources = [source_for(path, f"{identity}/{path.name}") for path, identity in items]
    with Scorer(device="cpu", align=mode) as scorer:
        list(scorer.score_sources(sources[:32]))  # warm-up (and the detector loaded)
        started = time.perf_counter()
        scored = list(scorer.embed_sources(sources))
        rate = len(sources) / (time.perf_counter() - started)
    kept = [item for item in scored if item.embedding is not None]
    failed = len(scored) - len(kept)
    embeddings = np.stack([item.embedding for item in kept])
    labels = [item.record.identity for item in kept]
    return verification_line(f"{mode} ({failed} failed)", embeddings, labels, f"{rate:.1f}")


def main() -> None:
    print(describe_line(), flush=True)
    items = lfw_items()
    labels = [identity for _, identity in items]
    print(f"{len(items)} images, {len(set(labels))} identities")
    header = f"{'framing':<18} {'FNMR@1e-3':>9} {'thr':>6} {'EDC pAUC':>8} {'images/s':>10}  q"
    print("default model, no options (end to end from the files, default threads):")
    print(header)
    for mode in ("auto", "always", "never"):
        print(default_run(items, mode), flush=True)

    images = load_images(items)
    model_path = resolve_model(None)
    aligner = FaceAligner(device="cpu")
    _, failures, timing = align_all(aligner, images)
    print(
        "\nalignment time per image (ms): "
        + ", ".join(f"{k} {v:.1f}" for k, v in timing.items())
        + f", total {sum(timing.values()):.1f}; no face found in {failures}"
    )
    print("fixed geometries on the 250x250 frames, for comparison:")
    print(header)
    for name, overrides in GEOMETRIES.items():
        model = EmbeddingModel(model_path, device="cpu", overrides=overrides)
        print(verification_line(name, embed_images(model, images), labels), flush=True)
    from fqe_onnx.demo import astronaut_bgr

    sizes = [smallest_face(aligner, im) for im in [astronaut_bgr()] + images[:: len(images) // 9][:9]]
    shares = np.array([s[0] for s in sizes])
    pixels = np.array([s[1] for s in sizes])
    print(
        f"smallest face still detected, over {len(sizes)} faces: median {np.nanmedian(shares):.1%} of the image width "
        f"({np.nanmedian(pixels):.0f} px at the 320x240 detector input), worst {np.nanmax(shares):.1%} "
        f"({np.nanmax(pixels):.0f} px)"
    )


if __name__ == "__main__":
    main()
