"""Faces that a tile's side cuts: the measurements behind ``same_face`` and ``found_again``'s constants.

A tile whose side cuts a face may report the piece it sees; the coarser view finds the whole face,
and NMS keeps both (a small box inside a big one has a low IoU). This script looks at the merged
detections with pieces kept (the rules before, ``FaceDetector(keep_pieces=True)``) and prints:

- same_face: for each detection, its overlap (intersection over the smaller box's area) with the
  more confident detection it overlaps most, and the smaller's area over the larger's: for pieces of
  a face (at least half of it on a known face's box, its centre off the face's by more than a fifth
  of its size, IoU with every face under 0.5), for second detections of one face, for detections of
  two faces (people side by side in tight group photos, heads overlapping), and for faces inside far
  larger detections (huge false faces of textures);
- found_again: for each detection only a tile saw, the box its second look found (IoU >= 0.3) nearest
  its centre: how far off (the larger of the x and y offsets over its width and height), for faces
  and for pieces.

Known faces: LFW faces (../shared/data/lfw-dev) across tile sides (``wild_photos.seam_group``), in
crowds (``wild_photos.background``, every crowd face known), side by side, partly hiding each
other (every detection on a face there counts as that face), and alone on random-colour textures
(where the whole image sees huge false faces, some around the real one).

    python benchmarks/cut_faces.py            # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

import numpy as np

from fqe_onnx.align.aligner import FaceAligner
from fqe_onnx.align.detection import (
    SAME_FACE_AREA,
    SAME_FACE_INSIDE,
    SECOND_LOOK_CENTRE,
    SECOND_LOOK_IOU,
    box_iou,
    inside_tile,
    merge_views,
    second_look_window,
)
from fqe_onnx.machine import describe_line
from wild_photos import background, lfw_faces, paste, seam_group

#: A detection is that face at this IoU with its known box (the detector's box of the LFW frame, scaled).
FACE_IOU = 0.5
#: A detection is a piece of a face when this share of it lies on the face's box and its centre is
#: off the face's by more than PIECE_OFF of its width or height (a piece is cut off one side: a half
#: face is 0.25 off; the face's own boxes are centred on it).
PIECE_ON = 0.5
PIECE_OFF = 0.2


def share_inside(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection of ``box`` with each of ``boxes`` over ``box``'s own area."""
    inter = np.maximum(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0) * np.maximum(
        np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0
    )
    return inter / max((box[2] - box[0]) * (box[3] - box[1]), 1e-12)


def area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def examine(detector, image: np.ndarray, faces: list[np.ndarray], out: dict, tag: str) -> None:
    """Merge the views with pieces kept, label each detection (face, piece, other) against the known
    faces, and record its share inside more confident ones and, for a tile's detection, its second look."""
    height, width = image.shape[:2]
    views = [(0, v) for v in detector.views(height, width)]
    parts = []
    for (_, view), (boxes, scores) in zip(views, detector._look([image], views)):
        keep = inside_tile(boxes, view, width, height)
        parts.append((boxes[keep], scores[keep], view.w < width or view.h < height))
    merged = merge_views(parts, keep_pieces=True)
    boxes = np.array([d.box for d, _ in merged]).reshape(-1, 4)
    known = np.array(faces).reshape(-1, 4)
    looks = [(i, second_look_window(d.box, width, height)) for i, (d, tiled) in enumerate(merged) if tiled]
    found = dict(zip([i for i, _ in looks], (b for b, _ in detector._look([image], [(0, w) for _, w in looks]))))
    # each detection's face: the known face it lies most on (at least PIECE_ON of it), else None
    owners = []
    for box in boxes:
        on = share_inside(box, known) if len(known) else np.zeros(0)
        owners.append(int(np.argmax(on)) if len(on) and on.max() >= PIECE_ON else None)
    for i, (_, tiled) in enumerate(merged):
        box = boxes[i]
        iou = box_iou(box, known) if len(known) else np.zeros(0)
        on = share_inside(box, known) if len(known) else np.zeros(0)
        off = np.maximum(
            np.abs(box[0] + box[2] - known[:, 0] - known[:, 2]) / (2 * (known[:, 2] - known[:, 0])),
            np.abs(box[1] + box[3] - known[:, 1] - known[:, 3]) / (2 * (known[:, 3] - known[:, 1])),
        )
        piece = len(on) and ((on >= PIECE_ON) & (off > PIECE_OFF)).any()
        if tag == "tight":  # a face partly hidden by the next head is seen off its box's centre: still a face
            kind = "face" if len(on) and on.max() >= PIECE_ON else "other"
        else:
            kind = "face" if len(iou) and iou.max() >= FACE_IOU else "piece" if piece else "other"
        # with the more confident detections (best first): their intersection over the smaller's area
        inside = (
            (share_inside(box, boxes[:i]) * area(box) / np.minimum(area(box), area(boxes[:i]))) if i else np.zeros(0)
        )
        j = int(np.argmax(inside)) if i else -1
        owner = owners[i]
        other = [k for k in range(i) if owners[k] is not None and owners[k] != owner] if owner is not None else []
        same = [k for k in range(i) if owner is not None and owners[k] == owner]
        row = {
            "tag": tag,
            "kind": kind,
            "tiled": tiled,
            "inside": float(inside[j]) if i else 0.0,
            "inside_other": float(inside[other].max()) if other else 0.0,
            "inside_same": float(inside[same].max()) if same else None,
            "area": float(min(area(box), area(boxes[j])) / max(area(box), area(boxes[j]))) if i else 0.0,
            "size": (width, height),
            "box": box.round(0).tolist(),
            "face": known[int(np.argmax(on))].round(0).tolist() if len(on) else None,
        }
        if tiled:
            again = found[i]
            ok = box_iou(box, again) >= SECOND_LOOK_IOU if len(again) else np.zeros(0, bool)
            off = np.maximum(
                np.abs((again[:, 0] + again[:, 2]) - (box[0] + box[2])) / (2 * (box[2] - box[0])),
                np.abs((again[:, 1] + again[:, 3]) - (box[1] + box[3])) / (2 * (box[3] - box[1])),
            )
            row["offset"] = float(off[ok].min()) if ok.any() else None
        out[kind].append(row)


def tight_group(size: tuple[int, int], faces, rng: np.random.Generator, count: int = 6) -> tuple[np.ndarray, list]:
    """Faces side by side in a row, each LFW frame (face and a third of its width around) pasted 0.75
    to 1.1 face widths right of the last, over it: heads overlapping as in a packed group photo (a
    face more than half covered is no longer counted)."""
    w, h = size
    frame = background("textured", size, 0, [], rng)[0]
    width = float(rng.uniform(60, 160))
    x, y = 0.1 * w, float(rng.uniform(0.2, 0.6)) * h
    placed = []
    for _ in range(count):
        image, box = faces[int(rng.integers(len(faces)))]
        region = (int(x), int(y + rng.uniform(-0.2, 0.2) * width), 1, 1)
        pasted = paste(frame, image, box, int(width), rng, region)
        if pasted is None:
            break
        face, _ = pasted
        placed = [p for p in placed if share_inside(p, face[None])[0] < 0.5]  # a face mostly covered is gone
        placed.append(face)
        x += width * float(rng.uniform(0.75, 1.1))
        if x + 2 * width > w:
            break
    return frame, placed


def quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    v = np.array(values)
    return (
        f"n={len(v)} min {v.min():.3f} p5 {np.percentile(v, 5):.3f} median {np.median(v):.3f} "
        f"p95 {np.percentile(v, 95):.3f} max {v.max():.3f}"
    )


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=24, help="group photos with faces across tile sides, per size")
    parser.add_argument("--crowds", type=int, default=1, help="crowd frames per (size, face width)")
    parser.add_argument("--tight", type=int, default=40, help="tight group photos (faces side by side)")
    parser.add_argument(
        "--textured", type=int, default=300, help="textured frames with one face, per size up to 1920x1080"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="print every piece found")
    args = parser.parse_args()
    started = time.perf_counter()
    detector = FaceAligner(device="cpu", keep_pieces=True).detector
    faces = lfw_faces(FaceAligner(device="cpu", tiling=False), 60, random.Random(args.seed))
    crowd, faces = faces[30:], faces[:30]
    rng = np.random.default_rng(args.seed)
    out: dict = defaultdict(list)
    for size in ((1280, 886), (1920, 1080), (3000, 2000), (6000, 4000)):
        for _ in range(args.groups if size[0] < 6000 else max(args.groups // 3, 1)):
            frame, placed = seam_group(size, faces, rng)
            examine(detector, frame, placed, out, "seams")
        for width in (20, 24, 32, 48, 64, 100, 200):
            for _ in range(args.crowds):
                frame, region, known = background("crowd", size, width, crowd, rng)
                pasted = paste(frame, *faces[int(rng.integers(len(faces)))], width, rng, region)
                if pasted is not None:
                    x, y, pw, ph = pasted[1]
                    known = [b for b in known if b[2] <= x or b[0] >= x + pw or b[3] <= y or b[1] >= y + ph] + [
                        pasted[0]
                    ]
                    examine(detector, frame, known, out, "crowd")
        for _ in range(args.textured if size[0] < 3000 else 0):  # where the whole image sees huge false faces
            frame, region, _ = background("textured", size, 0, [], rng)
            pasted = paste(frame, *faces[int(rng.integers(len(faces)))], int(rng.uniform(48, 128)), rng, region)
            if pasted is not None:
                examine(detector, frame, [pasted[0]], out, "textured")
        print(f"{size[0]}x{size[1]} done ({time.perf_counter() - started:.0f} s)", flush=True)
    for _ in range(args.tight):
        frame, placed = tight_group((1920, 1080), faces, rng)
        examine(detector, frame, placed, out, "tight")

    print(
        f"\ndetections (pieces kept): faces {len(out['face'])}, pieces {len(out['piece'])}, other {len(out['other'])}"
    )
    print(
        f"\nsame_face (drops a detection when it or a more confident one lies >= {SAME_FACE_INSIDE} inside the other, "
        f"the smaller not under {SAME_FACE_AREA} of the other's area); shares are intersections over the smaller area:"
    )
    pieces = [r for r in out["piece"] if r["inside"] > 0]
    print(
        "  pieces, share inside the more confident detection they lie in most: "
        + quantiles([r["inside"] for r in pieces])
    )
    print("  pieces, their area over that detection's: " + quantiles([r["area"] for r in pieces]))
    print(
        f"  pieces left by same_face: {sum(not (r['inside'] >= SAME_FACE_INSIDE and r['area'] >= SAME_FACE_AREA) for r in out['piece'])} "
        f"of {len(out['piece'])} (of those, only a tile saw {sum(r['tiled'] and not (r['inside'] >= SAME_FACE_INSIDE and r['area'] >= SAME_FACE_AREA) for r in out['piece'])})"
    )
    for tag in ("seams", "crowd", "tight", "textured"):
        rows = [r for r in out["face"] if r["tag"] == tag]
        near = [r["inside"] for r in rows if r["area"] >= SAME_FACE_AREA]
        small = [r for r in rows if r["area"] < SAME_FACE_AREA and r["inside"] >= SAME_FACE_INSIDE]
        print(
            f"  faces ({tag}, {len(rows)}): largest share inside a more confident detection of another face: "
            f"{max((r['inside_other'] for r in rows), default=0):.3f}; inside any more confident detection not "
            f"{1 / SAME_FACE_AREA:.0f}x larger: {max(near, default=0):.3f}; inside a far larger one: {len(small)} "
            "(area " + (", ".join(f"{r['area']:.3f}" for r in small) or "-") + ")"
        )
    others = sorted(r["inside_other"] for r in out["face"])
    print(
        "  detections of two faces, the larger shares (intersection over the smaller one's area): "
        + ", ".join(f"{v:.3f}" for v in others[-8:])
    )
    seconds = sorted(r["inside_same"] for kind in ("face", "piece") for r in out[kind] if r["inside_same"] is not None)
    print(
        "  second detections of a face (pieces, shifted boxes), the smaller shares: "
        + ", ".join(f"{v:.3f}" for v in seconds[:8])
        + f" (of {len(seconds)})"
    )
    dropped = [r for r in out["face"] if r["inside"] >= SAME_FACE_INSIDE and r["area"] >= SAME_FACE_AREA]
    print(
        f"  faces' detections dropped by same_face: {len(dropped)}, of them inside a detection of another face: "
        f"{sum(r['inside_other'] >= SAME_FACE_INSIDE for r in dropped)}"
    )
    print(
        f"\nfound_again (a second look's box with IoU >= {SECOND_LOOK_IOU}, centred within {SECOND_LOOK_CENTRE} "
        "of the tile's box): the nearest such box's centre offset"
    )
    for kind, tags in (
        ("face", ("seams", "crowd", "textured")),
        ("face", ("tight",)),
        ("piece", ("seams", "crowd", "textured")),
    ):
        rows = [r for r in out[kind] if r["tiled"] and r["tag"] in tags]
        offsets = [r["offset"] for r in rows if r["offset"] is not None]
        print(
            f"  {kind}s ({', '.join(tags)}) only a tile saw: {len(rows)}, found again at IoU >= {SECOND_LOOK_IOU}: "
            f"{len(offsets)}; offset "
            + quantiles(offsets)
            + f"; refused by the centre: {sum(o > SECOND_LOOK_CENTRE for o in offsets)}"
        )
    loose = sorted(r["offset"] for r in out["other"] if r["tiled"] and r["offset"] is not None)
    print(
        f"  other detections only a tile saw (unknown faces at crowd edges, texture): {len(loose)}, offset "
        + quantiles(loose)
    )
    if args.verbose:
        for r in out["piece"]:
            print("  piece", {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
