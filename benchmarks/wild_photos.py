"""Faces in the wild: detection recall by face width and frame size, false faces on faceless frames,
and images/s per frame size, before (the whole image only) and after (whole image plus tiles).

LFW faces (../shared/data/lfw-dev) are pasted into large frames at face widths from 20 to 400 px,
on plain backgrounds, textured backgrounds, and other LFW frames tiled as a crowd around them. A
pasted face is found when a detection overlaps its box (the box found in the LFW frame, moved and
scaled with it) by IoU >= 0.4. Faceless frames are mosaics of LFW backgrounds cropped away from the
face (the strips beside and below each face, far enough not to show a cheek or an ear), plus plain
and textured frames. Speed: the default Scorer
(``--align auto``) end to end on decoded frames, with tiling and without, in interleaved rounds.

    python benchmarks/wild_photos.py                  # a few minutes on 2 cores
    python benchmarks/wild_photos.py --faces 20 --faceless 100  # tighter figures, much longer
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

import cv2
import numpy as np

from fqe_onnx import Scorer
from fqe_onnx.align.aligner import FaceAligner
from fqe_onnx.align.detection import tile_rects
from verification import lfw_items
from fqe_onnx.machine import describe_line

SIZES = ((640, 480), (1920, 1080), (3000, 2000), (6000, 4000))
WIDTHS = (20, 24, 32, 48, 64, 100, 200, 400)
BACKGROUNDS = ("plain", "textured", "crowd")
FOUND_IOU = 0.4


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def lfw_faces(aligner: FaceAligner, count: int, rng: random.Random) -> list[tuple[np.ndarray, np.ndarray]]:
    """(LFW frame, its main face box) for ``count`` frames of distinct people with one face found."""
    by_person: dict[str, list] = defaultdict(list)
    for path, person in lfw_items():
        by_person[person].append(path)
    people = sorted(by_person)
    rng.shuffle(people)
    faces = []
    for person in people:
        image = cv2.imread(str(by_person[person][0]))
        found = aligner.detector.detect(image)
        if len(found) == 1:
            faces.append((image, np.array(found[0].box)))
        if len(faces) == count:
            break
    return faces


Region = tuple[int, int, int, int]  # x, y, w, h


def background(
    kind: str, size: tuple[int, int], width: int, crowd: list[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, Region]:
    """A frame (H, W, 3) of the kind, and the region to paste a face in: plain colour, a smooth
    colour field with noise (anywhere), or a crowd: the textured frame with a block of up to 5x5
    LFW frames at the scale where their faces are ``width`` px wide (the face goes among them)."""
    w, h = size
    if kind == "plain":
        return np.full((h, w, 3), rng.integers(40, 220, 3), np.uint8), (0, 0, w, h)
    field = cv2.resize(
        rng.integers(0, 256, (max(h // 60, 2), max(w // 60, 2), 3)).astype(np.uint8),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    noise = rng.normal(0, 12, (h, w, 1)).astype(np.float32)
    frame = np.clip(field.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if kind == "crowd":
        side = max(int(round(250 * width / 100)), 16)  # LFW faces are about 100 px wide in the 250 px frame
        cols, rows = max(min(5, w // side), 1), max(min(5, h // side), 1)
        block = np.vstack(
            [
                np.hstack(
                    [
                        cv2.resize(crowd[int(rng.integers(len(crowd)))], (side, side), interpolation=cv2.INTER_AREA)
                        for _ in range(cols)
                    ]
                )
                for _ in range(rows)
            ]
        )
        block = block[:h, :w]
        x, y = int(rng.integers(0, w - block.shape[1] + 1)), int(rng.integers(0, h - block.shape[0] + 1))
        frame[y : y + block.shape[0], x : x + block.shape[1]] = block
        return frame, (x, y, block.shape[1], block.shape[0])
    return frame, (0, 0, w, h)


def paste(
    frame: np.ndarray, face: np.ndarray, box: np.ndarray, width: int, rng: np.random.Generator, region: Region
) -> np.ndarray | None:
    """Paste the face (its box plus a margin, scaled so the box is ``width`` px wide) at a random
    place in ``region`` (as far as it fits); returns the box in the frame, or None when it does not fit."""
    scale = width / (box[2] - box[0])
    margin = 0.35 * (box[2] - box[0])
    x1, y1 = int(max(box[0] - margin, 0)), int(max(box[1] - margin, 0))
    x2, y2 = int(min(box[2] + margin, face.shape[1])), int(min(box[3] + margin, face.shape[0]))
    patch = cv2.resize(
        face[y1:y2, x1:x2], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    ph, pw = patch.shape[:2]
    if ph >= frame.shape[0] or pw >= frame.shape[1]:
        return None
    bx, by, bw, bh = region
    x = int(rng.integers(bx, max(min(bx + bw, frame.shape[1]) - pw, bx + 1)))
    y = int(rng.integers(by, max(min(by + bh, frame.shape[0]) - ph, by + 1)))
    x, y = min(x, frame.shape[1] - pw), min(y, frame.shape[0] - ph)
    frame[y : y + ph, x : x + pw] = patch
    return (box - [x1, y1, x1, y1]) * scale + [x, y, x, y]


def faceless_frame(kind: str, size: tuple[int, int], strips: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A frame with no face: plain, textured, or a mosaic of LFW background strips (beside the face)."""
    if kind != "lfw":
        return background(kind, size, 0, [], rng)[0]
    w, h = size
    rows = []
    while sum(r.shape[0] for r in rows) < h:
        row, filled = [], 0
        while filled < w:
            strip = strips[int(rng.integers(len(strips)))]
            strip = np.tile(strip, (-(-250 // strip.shape[0]), 1, 1))[:250]  # a strip below a face: repeated to 250 px
            row.append(strip)
            filled += strip.shape[1]
        rows.append(np.hstack(row)[:, :w])
    return np.ascontiguousarray(np.vstack(rows)[:h])


def background_strips(faces: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Strips of each LFW frame away from its face: left and right of the box by 0.75 of its width
    (a half-width margin still shows cheeks and ears), and below it by 0.6 of its height."""
    strips = []
    for image, box in faces:
        margin = 0.75 * (box[2] - box[0])
        left, right, below = int(box[0] - margin), int(box[2] + margin), int(box[3] + 0.6 * (box[3] - box[1]))
        if left >= 16:
            strips.append(image[:, :left])
        if image.shape[1] - right >= 16:
            strips.append(image[:, right:])
        if image.shape[0] - below >= 16:
            strips.append(image[below:, :])
    return strips


def recall(aligners: dict[str, FaceAligner], faces, crowd, per_cell: int, seed: int) -> dict:
    """found[(variant, size, width)] = (found, tried)."""
    rng = np.random.default_rng(seed)
    found: dict = defaultdict(lambda: [0, 0])
    for size in SIZES:
        for width in WIDTHS:
            for kind in BACKGROUNDS:
                for k in range(per_cell):
                    image, box = faces[(k * 7 + width + BACKGROUNDS.index(kind)) % len(faces)]
                    frame, region = background(kind, size, width, crowd, rng)
                    where = paste(frame, image, box, width, rng, region)
                    if where is None:
                        continue
                    for variant, aligner in aligners.items():
                        detections = aligner.detector.detect(frame)
                        hit = any(iou(np.array(d.box), where) >= FOUND_IOU for d in detections)
                        cell = found[(variant, size, width)]
                        cell[0] += hit
                        cell[1] += 1
    return found


def false_faces(aligners: dict[str, FaceAligner], strips, per_size: int, seed: int) -> dict:
    """false[(variant, size)] = (detections, frames) on faceless frames."""
    rng = np.random.default_rng(seed + 1)
    counts: dict = defaultdict(lambda: [0, 0])
    for size in SIZES:
        for k in range(per_size):
            kind = ("lfw", "lfw", "textured", "plain")[k % 4]
            frame = faceless_frame(kind, size, strips, rng)
            for variant, aligner in aligners.items():
                found = len(aligner.detector.detect(frame))
                for key in ((variant, size), (variant, kind)):  # by frame size, and by kind of frame
                    counts[key][0] += found
                    counts[key][1] += 1
    return counts


def speed(scorers: dict[str, Scorer], frames: dict[str, list[np.ndarray]], rounds: int) -> dict:
    """Median images/s of each scorer on each frame set, rounds interleaved."""
    rates: dict = defaultdict(list)
    for _ in range(rounds):
        for label, images in frames.items():
            for variant, scorer in scorers.items():
                started = time.perf_counter()
                records = list(scorer.score_arrays(images))
                rates[(variant, label)].append(len(records) / (time.perf_counter() - started))
    return {key: float(np.median(values)) for key, values in rates.items()}


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=3, help="pasted faces per (frame size, face width, background)")
    parser.add_argument("--faceless", type=int, default=20, help="faceless frames per frame size")
    parser.add_argument("--speed-frames", type=int, default=2, help="large frames per size in the speed rounds")
    parser.add_argument("--lfw-frames", type=int, default=200, help="250x250 LFW frames in the speed rounds")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    aligners = {"before": FaceAligner(device="cpu", tiling=False), "after": FaceAligner(device="cpu")}
    faces = lfw_faces(aligners["before"], 260, rng)
    crowd, strips = [image for image, _ in faces[30:60]], background_strips(faces[60:])
    faces = faces[:30]
    print(
        f"{len(faces)} LFW faces pasted, {len(crowd)} crowd frames, {len(strips)} background strips; "
        f"views per frame: " + ", ".join(f"{w}x{h} {len(tile_rects(h, w))}" for w, h in ((250, 250),) + SIZES)
    )

    found = recall(aligners, faces, crowd, args.faces, args.seed)
    print(
        f"\ndetection recall (IoU >= {FOUND_IOU}), {args.faces} faces x {len(BACKGROUNDS)} backgrounds per cell: before -> after"
    )
    print("face px  " + "".join(f"{w}x{h}".rjust(22) for w, h in SIZES))
    for width in WIDTHS:
        cells = []
        for size in SIZES:
            (b, n), (a, _) = found[("before", size, width)], found[("after", size, width)]
            cells.append(f"{b / n:.2f} -> {a / n:.2f} (n={n})" if n else "(does not fit)")
        print(f"{width:>7}  " + "".join(c.rjust(22) for c in cells))
    print(
        "faces >= 32 px: "
        + "; ".join(
            f"{w}x{h} "
            + " -> ".join(
                f"{sum(found[(v, (w, h), x)][0] for x in WIDTHS if x >= 32) / max(sum(found[(v, (w, h), x)][1] for x in WIDTHS if x >= 32), 1):.3f}"
                for v in ("before", "after")
            )
            for w, h in SIZES
        )
    )

    false = false_faces(aligners, strips, args.faceless, args.seed)
    print(
        f"\nfalse faces per faceless frame ({args.faceless} per size: LFW background mosaics, textured, plain): before -> after"
    )
    print(
        "; ".join(
            f"{w}x{h} {false[('before', (w, h))][0] / false[('before', (w, h))][1]:.3f} -> "
            f"{false[('after', (w, h))][0] / false[('after', (w, h))][1]:.3f}"
            for w, h in SIZES
        )
    )
    total = [sum(false[(v, s)][0] for s in SIZES) / sum(false[(v, s)][1] for s in SIZES) for v in ("before", "after")]
    print(f"all sizes: {total[0]:.3f} -> {total[1]:.3f} over {sum(false[('after', s)][1] for s in SIZES)} frames")
    print(
        "by kind of frame: "
        + "; ".join(
            f"{kind} {false[('before', kind)][0] / false[('before', kind)][1]:.3f} -> "
            f"{false[('after', kind)][0] / false[('after', kind)][1]:.3f} ({false[('after', kind)][1]} frames)"
            for kind in ("lfw", "textured", "plain")
            if false[("after", kind)][1]
        )
    )

    frng = np.random.default_rng(args.seed + 2)
    lfw = [cv2.imread(str(p)) for p, _ in lfw_items()[: args.lfw_frames]]
    frames = {"250x250 (LFW)": lfw}
    for w, h in SIZES:
        frames[f"{w}x{h}"] = []
        for k in range(args.speed_frames):
            frame, region = background("textured", (w, h), 64, crowd, frng)
            image, box = faces[k % len(faces)]
            paste(frame, image, box, 64, frng, region)
            frames[f"{w}x{h}"].append(frame)
    scorers = {
        "before": Scorer(device="cpu", aligner=aligners["before"]),
        "after": Scorer(device="cpu", aligner=aligners["after"]),
    }
    for scorer in scorers.values():  # warm up
        list(scorer.score_arrays(lfw[:8]))
    rates = speed(scorers, frames, args.rounds)
    print(
        f"\nimages/s, Scorer --align auto on decoded frames (median of {args.rounds} interleaved rounds): before -> after (ratio)"
    )
    for label in frames:
        b, a = rates[("before", label)], rates[("after", label)]
        print(f"{label:>14}: {b:7.2f} -> {a:7.2f} ({a / b:.2f}x)")
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
