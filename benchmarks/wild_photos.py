"""Faces in the wild: detection recall by face width and frame size, false faces on faceless frames,
and images/s per frame size, before (the whole image only) and after (whole image plus tiles).

LFW faces (../shared/data/lfw-dev) are pasted into large frames at face widths from 20 to 400 px,
on plain backgrounds, textured backgrounds, and other LFW frames tiled as a crowd around them. A
pasted face is found when a detection overlaps its box (the box found in the LFW frame, moved and
scaled with it) by IoU >= 0.4. Faceless frames are mosaics of LFW backgrounds cropped away from the
face (the strips beside and below each face, far enough not to show a cheek or an ear), plus plain
and textured frames. Speed: the default Scorer
(``--align auto``) end to end on decoded frames, with tiling and without, in interleaved rounds.

Faces found twice: on every frame with faces (the crowds are group photos, every face of their LFW
frames known), and on group photos whose LFW faces each lie across a tile's side, at a width the
coarser view finds whole (``seam_group``), a known face with two detections on it, one lying mostly
inside the other; and any detection mostly inside another (or another mostly inside it). Three variants: the whole image only (before
tiling), tiles with pieces of faces kept (before ``same_face`` and ``found_again``), and now.

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
from fqe_onnx.align.detection import MIN_FACE_PX, TILE_OVERLAP, tile_rects
from fqe_onnx.machine import describe_line
from verification import lfw_items

SIZES = ((640, 480), (1920, 1080), (3000, 2000), (6000, 4000))
WIDTHS = (20, 24, 32, 48, 64, 100, 200, 400)
BACKGROUNDS = ("plain", "textured", "crowd")
FOUND_IOU = 0.4
#: A detection is on a face when this share of its area lies inside the face's box grown by a
#: quarter of its size on each side; a face is found twice when two detections on it overlap by
#: this share of the smaller one's area (one lies mostly inside the other).
ON_FACE = 0.5
#: Variants compared: the whole image only, tiles with pieces of faces kept (the rules before
#: ``same_face`` and ``found_again``), and the default.
VARIANTS = ("before", "kept", "after")


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
    kind: str, size: tuple[int, int], width: int, crowd: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> tuple[np.ndarray, Region, list[np.ndarray]]:
    """A frame (H, W, 3) of the kind, the region to paste a face in, and the face boxes already in
    it: plain colour, a smooth colour field with noise (anywhere), or a crowd: the textured frame with
    a block of up to 5x5 LFW frames (with their face boxes) at the scale where their faces are
    ``width`` px wide (the face goes among them)."""
    w, h = size
    if kind == "plain":
        return np.full((h, w, 3), rng.integers(40, 220, 3), np.uint8), (0, 0, w, h), []
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
        picks = [[crowd[int(rng.integers(len(crowd)))] for _ in range(cols)] for _ in range(rows)]
        block = np.vstack(
            [
                np.hstack([cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA) for image, _ in row])
                for row in picks
            ]
        )
        block = block[:h, :w]
        x, y = int(rng.integers(0, w - block.shape[1] + 1)), int(rng.integers(0, h - block.shape[0] + 1))
        frame[y : y + block.shape[0], x : x + block.shape[1]] = block
        boxes = [
            box * side / image.shape[1] + [x + c * side, y + r * side] * 2
            for r, row in enumerate(picks)
            for c, (image, box) in enumerate(row)
        ]
        inside = [b for b in boxes if b[2] <= x + block.shape[1] and b[3] <= y + block.shape[0]]
        return frame, (x, y, block.shape[1], block.shape[0]), inside
    return frame, (0, 0, w, h), []


def paste(
    frame: np.ndarray, face: np.ndarray, box: np.ndarray, width: int, rng: np.random.Generator, region: Region
) -> tuple[np.ndarray, Region] | None:
    """Paste the face (its box plus a margin, scaled so the box is ``width`` px wide) at a random
    place in ``region`` (as far as it fits); returns the box in the frame and the patch's place, or
    None when it does not fit."""
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
    return (box - [x1, y1, x1, y1]) * scale + [x, y, x, y], (x, y, pw, ph)


def covered(box: np.ndarray, rect: Region) -> bool:
    """Whether a face box overlaps a pasted patch (x, y, w, h): that face is no longer in the frame."""
    x, y, w, h = rect
    return box[0] < x + w and box[2] > x and box[1] < y + h and box[3] > y


def seam_group(
    size: tuple[int, int], faces: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator, count: int = 6
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A group photo: a textured frame with up to ``count`` LFW frames (no two overlapping), each
    face across a side of a tile inside the image, its centre up to half its size from that side,
    and wide enough for the tile's coarser view to find it whole: 13 to 36 times that view's scale
    (detector pixels per source pixel), while the tile may see a piece of it up to its widest face
    (15 times). Returns the frame and the face boxes."""
    w, h = size
    frame = background("textured", size, 0, [], rng)[0]
    sides = []
    for view in tile_rects(h, w)[1:]:
        coarser = view.max_face / (TILE_OVERLAP * MIN_FACE_PX)
        sides += [
            (axis, at, coarser)
            for axis, start, length, end in (("x", view.x, view.w, w), ("y", view.y, view.h, h))
            for at in (start, start + length)
            if 0 < at < end
        ]
    placed: list[np.ndarray] = []
    patches: list[Region] = []
    for _ in range(30 * count):
        if len(placed) == count or not sides:
            break
        axis, at, coarser = sides[int(rng.integers(len(sides)))]
        image, box = faces[int(rng.integers(len(faces)))]
        width = float(np.exp(rng.uniform(np.log(13 * coarser), np.log(36 * coarser))))
        scale = width / (box[2] - box[0])
        margin = 0.35 * (box[2] - box[0])
        x1, y1 = int(max(box[0] - margin, 0)), int(max(box[1] - margin, 0))
        x2, y2 = int(min(box[2] + margin, image.shape[1])), int(min(box[3] + margin, image.shape[0]))
        patch = cv2.resize(
            image[y1:y2, x1:x2],
            None,
            fx=scale,
            fy=scale,
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        face = (box - [x1, y1, x1, y1]) * scale
        ph, pw = patch.shape[:2]
        if ph >= h or pw >= w:
            continue
        centre = [rng.uniform(0, w), rng.uniform(0, h)]
        k = 0 if axis == "x" else 1
        centre[k] = at + rng.uniform(-0.5, 0.5) * (face[k + 2] - face[k])
        x = int(round(centre[0] - (face[0] + face[2]) / 2))
        y = int(round(centre[1] - (face[1] + face[3]) / 2))
        if x < 0 or y < 0 or x + pw > w or y + ph > h:
            continue
        if any(x < px + pw_ and px < x + pw and y < py + ph_ and py < y + ph for px, py, pw_, ph_ in patches):
            continue
        frame[y : y + ph, x : x + pw] = patch
        patches.append((x, y, pw, ph))
        placed.append(face + [x, y, x, y])
    return frame, placed


def overlap(a, b) -> float:
    """Intersection of two boxes over the smaller one's area."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / max(min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])), 1e-12)


def on_face(detections, face: np.ndarray) -> list:
    """The detections lying mostly (ON_FACE of their area) on the face (its box grown by a quarter)."""
    grow = 0.25 * np.array([-(face[2] - face[0]), -(face[3] - face[1]), face[2] - face[0], face[3] - face[1]])
    area = face + grow
    return [
        d
        for d in detections
        if overlap(d.box, area) >= ON_FACE
        and (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) <= (area[2] - area[0]) * (area[3] - area[1])
    ]


def found_twice(detections, face: np.ndarray) -> bool:
    """Two detections on the face, one lying mostly inside the other."""
    on = on_face(detections, face)
    return any(overlap(a.box, b.box) >= ON_FACE for i, a in enumerate(on) for b in on[i + 1 :])


def nested(detections) -> int:
    """Detections lying mostly inside another detection, or with another lying mostly inside them
    (the less confident of each such pair)."""
    return sum(any(overlap(d.box, e.box) >= ON_FACE for e in detections[:i]) for i, d in enumerate(detections))


def twice(counts: dict, key: tuple, detections, faces: list[np.ndarray]) -> None:
    """Add a frame's faces, faces found twice, faces missed, rows and nested detections to counts[key]."""
    cell = counts[key]
    cell["frames"] += 1
    cell["faces"] += len(faces)
    cell["rows"] += len(detections)
    cell["twice"] += sum(found_twice(detections, f) for f in faces)
    cell["missed"] += sum(not any(iou(np.array(d.box), f) >= FOUND_IOU for d in detections) for f in faces)
    cell["nested"] += nested(detections)


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


def recall(aligners: dict[str, FaceAligner], faces, crowd, per_cell: int, seed: int) -> tuple[dict, dict]:
    """found[(variant, size, width)] = (found, tried); and the counts of faces found twice by
    (variant, size) and (variant, "crowd"): the pasted face and every crowd face it left whole."""
    rng = np.random.default_rng(seed)
    found: dict = defaultdict(lambda: [0, 0])
    doubles: dict = defaultdict(lambda: defaultdict(int))
    for size in SIZES:
        for width in WIDTHS:
            for kind in BACKGROUNDS:
                for k in range(per_cell):
                    image, box = faces[(k * 7 + width + BACKGROUNDS.index(kind)) % len(faces)]
                    frame, region, others = background(kind, size, width, crowd, rng)
                    pasted = paste(frame, image, box, width, rng, region)
                    if pasted is None:
                        continue
                    where, rect = pasted
                    known = [where] + [b for b in others if not covered(b, rect)]
                    for variant, aligner in aligners.items():
                        detections = aligner.detector.detect(frame)
                        hit = any(iou(np.array(d.box), where) >= FOUND_IOU for d in detections)
                        cell = found[(variant, size, width)]
                        cell[0] += hit
                        cell[1] += 1
                        for key in ((variant, size), (variant, kind)):
                            twice(doubles, key, detections, known)
    return found, doubles


def seam_groups(aligners: dict[str, FaceAligner], faces, per_size: int, seed: int) -> dict:
    """Counts (``twice``) by (variant, size) on ``seam_group`` photos of each size with tiles."""
    rng = np.random.default_rng(seed + 3)
    counts: dict = defaultdict(lambda: defaultdict(int))
    for size in ((1280, 886),) + SIZES[1:]:
        for _ in range(per_size):
            frame, placed = seam_group(size, faces, rng)
            for variant, aligner in aligners.items():
                twice(counts, (variant, size), aligner.detector.detect(frame), placed)
    return counts


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
    parser.add_argument("--groups", type=int, default=6, help="group photos with faces across tile sides, per size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    aligners = {
        "before": FaceAligner(device="cpu", tiling=False),
        "kept": FaceAligner(device="cpu", keep_pieces=True),
        "after": FaceAligner(device="cpu"),
    }
    faces = lfw_faces(aligners["before"], 260, rng)
    crowd, strips = faces[30:60], background_strips(faces[60:])
    faces = faces[:30]
    print(
        f"{len(faces)} LFW faces pasted, {len(crowd)} crowd frames, {len(strips)} background strips; "
        f"views per frame: " + ", ".join(f"{w}x{h} {len(tile_rects(h, w))}" for w, h in ((250, 250),) + SIZES)
    )
    print(
        "variants: before = the whole image only; kept = tiles, pieces of faces kept (the rules before same_face "
        "and found_again); after = now"
    )

    found, doubles = recall(aligners, faces, crowd, args.faces, args.seed)
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

    def share(variant, size, widths):
        hit = sum(found[(variant, size, x)][0] for x in widths)
        return f"{hit / max(sum(found[(variant, size, x)][1] for x in widths), 1):.3f}"

    print(
        "faces >= 32 px, before -> kept -> after: "
        + "; ".join(
            f"{w}x{h} " + " -> ".join(share(v, (w, h), [x for x in WIDTHS if x >= 32]) for v in VARIANTS)
            for w, h in SIZES
        )
    )
    print(
        "faces 20 to 64 px (small), kept -> after: "
        + "; ".join(
            f"{w}x{h} " + " -> ".join(share(v, (w, h), [x for x in WIDTHS if x <= 64]) for v in VARIANTS[1:])
            for w, h in SIZES
        )
    )
    changed = [(w, s) for s in SIZES for w in WIDTHS if found[("kept", s, w)] != found[("after", s, w)]]
    print(
        f"cells where kept and after differ: {len(changed)}"
        + "".join(
            f"; {w} px at {s[0]}x{s[1]}: {found[('kept', s, w)][0]} -> {found[('after', s, w)][0]} of {found[('after', s, w)][1]}"
            for w, s in changed
        )
    )

    def twice_line(counts, key_of, keys):
        lines = []
        for key in keys:
            cells = [counts[key_of(v, key)] for v in VARIANTS]
            label = f"{key[0]}x{key[1]}" if isinstance(key, tuple) else key
            lines.append(
                f"  {label:>10} ({cells[0]['frames']} frames, {cells[0]['faces']} faces): found twice "
                + " -> ".join(str(c["twice"]) for c in cells)
                + "; rows "
                + " -> ".join(str(c["rows"]) for c in cells)
                + "; missed "
                + " -> ".join(str(c["missed"]) for c in cells)
                + "; detections mostly inside another "
                + " -> ".join(str(c["nested"]) for c in cells)
            )
        return "\n".join(lines)

    print(
        f"\nfaces found twice (two detections on the face's box grown by a quarter, one with >= {ON_FACE} of its area "
        "inside the other), "
        "before -> kept -> after, on the recall frames (the pasted face and the crowd's faces), by frame size and kind:"
    )
    print(twice_line(doubles, lambda v, k: (v, k), list(SIZES) + list(BACKGROUNDS)))
    groups = seam_groups(aligners, faces, args.groups, args.seed)
    print(
        f"group photos with every face across a tile's side ({args.groups} per size, up to 6 LFW faces each), "
        "before -> kept -> after:"
    )
    print(twice_line(groups, lambda v, k: (v, k), [(1280, 886)] + list(SIZES[1:])))

    false = false_faces(aligners, strips, args.faceless, args.seed)
    print(
        f"\nfalse faces per faceless frame ({args.faceless} per size: LFW background mosaics, textured, plain): "
        "before -> kept -> after"
    )
    print(
        "; ".join(
            f"{w}x{h} " + " -> ".join(f"{false[(v, (w, h))][0] / false[(v, (w, h))][1]:.3f}" for v in VARIANTS)
            for w, h in SIZES
        )
    )
    total = [sum(false[(v, s)][0] for s in SIZES) / sum(false[(v, s)][1] for s in SIZES) for v in VARIANTS]
    print(
        f"all sizes: {' -> '.join(f'{t:.3f}' for t in total)} over {sum(false[('after', s)][1] for s in SIZES)} frames"
    )
    print(
        "by kind of frame: "
        + "; ".join(
            f"{kind} "
            + " -> ".join(f"{false[(v, kind)][0] / false[(v, kind)][1]:.3f}" for v in VARIANTS)
            + f" ({false[('after', kind)][1]} frames)"
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
            frame, region, _ = background("textured", (w, h), 64, crowd, frng)
            image, box = faces[k % len(faces)]
            paste(frame, image, box, 64, frng, region)
            frames[f"{w}x{h}"].append(frame)
    scorers = {v: Scorer(device="cpu", aligner=aligners[v]) for v in VARIANTS}
    for scorer in scorers.values():  # warm up
        list(scorer.score_arrays(lfw[:8]))
    rates = speed(scorers, frames, args.rounds)
    print(
        f"\nimages/s, Scorer --align auto on decoded frames (median of {args.rounds} interleaved rounds): "
        "before -> kept -> after (ratios after/before, after/kept)"
    )
    for label in frames:
        b, k, a = (rates[(v, label)] for v in VARIANTS)
        print(f"{label:>14}: {b:7.2f} -> {k:7.2f} -> {a:7.2f} ({a / b:.2f}x, {a / k:.2f}x)")
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
