"""fqe-onnx video on synthetic videos made from real LFW faces, with the ground truth beside each one.

Each video (1280x720 and 1920x1080, 25 fps, mp4v) shows faces of ../shared/data/lfw-dev people
moving over a faceless background (smooth colour noise and flat shapes): some enter through an
edge and leave through another, some appear inside the frame (a door) and leave through a side,
two cross paths in the middle with one passing in front of the other, one is small (found by the
tiles, not the whole-frame pass). Each appearance is
sharp in only a part of its frames (a window of 25-40 %) and blurred elsewhere (Gaussian, up to
sigma 3 px per 100 px of face width). The ground truth (VIDEO.json: each appearance's face box on
every frame, its sharp window) is written beside the video.

It runs the pipeline of ``fqe-onnx video`` (the Python API the command uses, default options) and
prints the issue's table:

- appearances that get a track (a track most of whose located frames lie on that face, IoU >= 0.3,
  while it can be seen: over half inside the frame, under half hidden by a face in front of it);
- tracks per appearance;
- tracks that switch person (fewer than 90 % of their located frames on one face);
- the best shot's Q against the best Q ``fqe-onnx score`` gives a crop of any frame of that
  appearance where it can be seen (the decoded frame, cut at the face's box grown by one box width
  on every side);
- tracks on no face, per video;
- the real-time factor (video seconds / processing seconds, decoding included) at each size, with
  the load average of the machine, and the naive way for comparison (every frame decoded and given
  to ``Scorer(faces="all")``), interleaved with the pipeline's runs;
- memory (resident set size) over a long source (--long-minutes, default 10, at 1280x720), sampled
  every 30 s of video.

    python benchmarks/video.py                      # everything (15-25 minutes on 2 cores)
    python benchmarks/video.py --long-minutes 0     # without the long source
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fqe_onnx.scorer import Scorer
from fqe_onnx.video import FaceVideo, VideoSettings

LFW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lfw-dev"
FPS = 25
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
IOU_MATCH = 0.3


# -- the faces ----------------------------------------------------------------------------------------


@dataclass
class Face:
    """An LFW photo and its face box (the detector's, in the photo's pixels)."""

    person: str
    path: str
    image: np.ndarray
    box: tuple[float, float, float, float]


def load_faces(scorer: Scorer, count: int, seed: int) -> list[Face]:
    """``count`` photos of different people whose face the detector finds, chosen at random."""
    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    random.Random(seed).shuffle(people)
    detector = scorer.framer.aligner.detector
    faces = []
    for person in people:
        path = sorted(person.glob("*.jpg"))[0]
        image = cv2.imread(str(path))
        found = detector.detect(image)
        if image is None or not found:
            continue
        best = max(found, key=lambda d: d.width * d.height)
        faces.append(Face(person.name, str(path), image, best.box))
        if len(faces) == count:
            break
    return faces


# -- the scenes ---------------------------------------------------------------------------------------


@dataclass
class Appearance:
    """One face on screen from ``first`` to ``last`` (frames): its centre moves linearly from
    ``start`` to ``end`` and its width from ``width0`` to ``width1``; sharp from ``sharp[0]`` to
    ``sharp[1]``, blurred elsewhere up to ``blur`` px of sigma per 100 px of face width."""

    id: int
    face: Face
    first: int
    last: int
    start: tuple[float, float]
    end: tuple[float, float]
    width0: float
    width1: float
    sharp: tuple[int, int]
    blur: float
    kind: str
    boxes: dict[int, list[float]] = field(default_factory=dict)

    def at(self, frame: int) -> tuple[float, float, float]:
        t = (frame - self.first) / max(self.last - self.first, 1)
        return (
            self.start[0] + t * (self.end[0] - self.start[0]),
            self.start[1] + t * (self.end[1] - self.start[1]),
            self.width0 + t * (self.width1 - self.width0),
        )

    def sigma(self, frame: int, width: float) -> float:
        """The blur on ``frame``: 0 in the sharp window, rising over 12 frames to ``blur`` outside it."""
        a, b = self.sharp
        distance = a - frame if frame < a else frame - b if frame > b else 0
        return self.blur * width / 100 * min(distance / 12, 1.0)


def plan_scene(faces: list[Face], width: int, height: int, frames: int, rng: random.Random) -> list[Appearance]:
    """About one appearance per 2.5 s: edge crossings, faces that appear inside, a crossing pair, a small face."""
    scale = height / 1080
    appearances: list[Appearance] = []
    pool = iter(faces)

    def add(kind: str, first: int, last: int, start: tuple, end: tuple, w0: float, w1: float) -> None:
        length = last - first
        share = rng.uniform(0.25, 0.4)
        a = first + rng.randint(0, int(length * (1 - share)))
        appearances.append(
            Appearance(
                len(appearances),
                next(pool),
                first,
                last,
                start,
                end,
                w0 * scale,
                w1 * scale,
                (a, a + int(length * share)),
                rng.uniform(2.0, 3.0),
                kind,
            )
        )

    t = 0
    slot = int(2.5 * FPS)
    lanes = [0.22, 0.78]  # the middle is the crossing pair's: no other face hides there for seconds
    busy = {lane: -1 for lane in lanes}  # the frame each lane is free from
    while t + 4 * FPS < frames:
        kind = rng.choice(["edge", "edge", "inside"])
        length = rng.randint(4 * FPS, 7 * FPS)
        last = min(t + length, frames - 1)
        lane = min(lanes, key=lambda k: (busy[k] > t, rng.random()))  # a free lane if there is one
        busy[lane] = max(busy[lane], last)
        y = height * lane + rng.uniform(-40, 40) * scale
        w = rng.uniform(110, 200)
        margin = w * scale
        left = rng.random() < 0.5
        dy = rng.uniform(-0.05, 0.05) * height
        if kind == "edge":  # enters through the left or right side, leaves through the other
            xs = (-margin, width + margin) if left else (width + margin, -margin)
        else:  # steps out inside the frame (a door), walks, leaves through a side
            xs = (width * rng.uniform(0.3, 0.7), -margin if left else width + margin)
        add(kind, t, last, (xs[0], y), (xs[1], y + dy), w, w * rng.uniform(0.9, 1.25))
        t += slot
    # two faces crossing: same lane, opposite directions, meeting mid-way; the second passes in front
    first = rng.randint(0, max(frames - 6 * FPS, 1))
    last = min(first + 6 * FPS, frames - 1)
    y = height * 0.5
    w = 150
    add("cross", first, last, (width * 0.1, y), (width * 0.9, y + 20 * scale), w, w)
    add("cross", first, last, (width * 0.9, y + 10 * scale), (width * 0.1, y - 10 * scale), w, w)
    # a small face (found by the tiles: narrower than the whole-frame pass's smallest face)
    first = rng.randint(0, max(frames - 6 * FPS, 1))
    add(
        "small",
        first,
        min(first + 5 * FPS, frames - 1),
        (width * 0.3, height * 0.3),
        (width * 0.6, height * 0.35),
        56,
        62,
    )
    return appearances


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A faceless scene: smooth colour noise with a few flat rectangles and lines."""
    small = rng.integers(40, 210, (9, 16, 3)).astype(np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        cv2.rectangle(image, (x, y), (x + int(rng.integers(40, 400)), y + int(rng.integers(40, 300))), colour, -1)
    for _ in range(8):
        cv2.line(
            image,
            (int(rng.integers(0, width)), 0),
            (int(rng.integers(0, width)), height),
            tuple(int(c) for c in rng.integers(30, 230, 3)),
            int(rng.integers(2, 8)),
        )
    return cv2.GaussianBlur(image, (0, 0), 1.2)


def paste(frame: np.ndarray, appearance: Appearance, index: int) -> None:
    """Draw the appearance's face on ``frame`` (head only: an elliptic feathered mask) and note its box."""
    face = appearance.face
    cx, cy, width = appearance.at(index)
    x1, y1, x2, y2 = face.box
    s = width / (x2 - x1)
    patch = cv2.resize(face.image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sigma = appearance.sigma(index, width)
    if sigma > 0.3:
        patch = cv2.GaussianBlur(patch, (0, 0), sigma)
    ph, pw = patch.shape[:2]
    mask = np.zeros((ph, pw), np.float32)
    centre = (int((x1 + x2) / 2 * s), int((y1 + y2) / 2 * s))
    axes = (int((x2 - x1) * s * 0.62), int((y2 - y1) * s * 0.8))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(width / 30, 1.0))[..., None]
    ox, oy = int(round(cx - centre[0])), int(round(cy - centre[1]))
    fx1, fy1 = max(ox, 0), max(oy, 0)
    fx2, fy2 = min(ox + pw, frame.shape[1]), min(oy + ph, frame.shape[0])
    if fx2 > fx1 and fy2 > fy1:
        region = frame[fy1:fy2, fx1:fx2].astype(np.float32)
        p = patch[fy1 - oy : fy2 - oy, fx1 - ox : fx2 - ox].astype(np.float32)
        m = mask[fy1 - oy : fy2 - oy, fx1 - ox : fx2 - ox]
        frame[fy1:fy2, fx1:fx2] = (region * (1 - m) + p * m).round().astype(np.uint8)
    appearance.boxes[index] = [ox + x1 * s, oy + y1 * s, ox + x2 * s, oy + y2 * s]


def render(path: Path, appearances: list[Appearance], width: int, height: int, frames: int, seed: int) -> None:
    """Write the video (mp4v) and its ground truth (path.json)."""
    base = background(width, height, np.random.default_rng(seed))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    for index in range(frames):
        frame = base.copy()
        for appearance in appearances:  # in order: the later one is in front
            if appearance.first <= index <= appearance.last:
                paste(frame, appearance, index)
        writer.write(frame)
    writer.release()
    truth = {
        "fps": FPS,
        "width": width,
        "height": height,
        "frames": frames,
        "appearances": [
            {
                "id": a.id,
                "person": a.face.person,
                "photo": a.face.path,
                "kind": a.kind,
                "first": a.first,
                "last": a.last,
                "sharp": list(a.sharp),
                "boxes": {str(k): [round(v, 1) for v in box] for k, box in a.boxes.items()},
                "hidden": {
                    str(k): round(hidden_share(box, [b.boxes[k] for b in appearances[a.id + 1 :] if k in b.boxes]), 2)
                    for k, box in a.boxes.items()
                },
            }
            for a in appearances
        ],
    }
    path.with_suffix(".json").write_text(json.dumps(truth))


# -- measuring ----------------------------------------------------------------------------------------


def hidden_share(box: list[float], front: list[list[float]]) -> float:
    """The share of ``box`` covered by the boxes of faces drawn in front of it (their union, on a grid)."""
    if not front:
        return 0.0
    xs = np.linspace(box[0], box[2], 24)
    ys = np.linspace(box[1], box[3], 24)
    gx, gy = np.meshgrid(xs, ys)
    covered = np.zeros(gx.shape, bool)
    for f in front:
        covered |= (gx >= f[0]) & (gx <= f[2]) & (gy >= f[1]) & (gy <= f[3])
    return float(covered.mean())


def shown(appearance: dict, frame: int, width: int, height: int) -> list[float] | None:
    """The appearance's box on ``frame`` if its face can be seen there (over half inside the frame and
    under half hidden by faces in front of it), else None."""
    box = appearance["boxes"].get(str(frame))
    if box is None or visible(box, width, height) <= 0.5 or appearance["hidden"].get(str(frame), 0) >= 0.5:
        return None
    return box


def iou(a: list[float], b: tuple) -> float:
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def visible(box: list[float], width: int, height: int) -> float:
    inside = max(min(box[2], width) - max(box[0], 0), 0) * max(min(box[3], height) - max(box[1], 0), 0)
    return inside / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (the reader's decoding included)."""
    times = os.times()
    return times.user + times.system


def run_pipeline(path: Path, scorer: Scorer) -> tuple[list, list, object, float]:
    """Finished tracks, face rows, stats and CPU seconds of the pipeline on one video (default settings)."""
    rows: list = []
    run = FaceVideo(str(path), scorer, VideoSettings(), on_face=rows.append)
    started = cpu_seconds()
    tracks = list(run)
    return tracks, rows, run.stats, cpu_seconds() - started


def run_long(path: Path, scorer: Scorer) -> tuple[int, list, object]:
    """Tracks (counted, not kept), RSS samples (video seconds, MB) every 30 s of video, and stats."""
    rss: list = []
    run = FaceVideo(str(path), scorer, VideoSettings())

    def sample() -> None:
        if run.stats.processed % (30 * FPS) == 0:
            rss.append((run.stats.media_seconds, resident_mb()))

    run.on_frame = sample
    count = sum(1 for _ in run)
    return count, rss, run.stats


def reference_best(path: Path, truth: dict, scorer: Scorer) -> dict[int, int]:
    """Per appearance: the best Q that score gives a crop of any of its frames (the face's box grown
    by one box width on every side, from the decoded frame)."""
    width, height = truth["width"], truth["height"]
    wanted: dict[int, list[tuple[int, list[float]]]] = {}
    for a in truth["appearances"]:
        for frame in a["boxes"]:
            box = shown(a, int(frame), width, height)
            if box is not None:
                wanted.setdefault(int(frame), []).append((a["id"], box))
    best: dict[int, int] = {a["id"]: -1 for a in truth["appearances"]}
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    index = 0
    crops, owners = [], []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        for appearance_id, box in wanted.get(index, []):
            w, h = box[2] - box[0], box[3] - box[1]
            x1, y1 = int(max(box[0] - w, 0)), int(max(box[1] - h, 0))
            x2, y2 = int(min(box[2] + w, width)), int(min(box[3] + h, height))
            crops.append(frame[y1:y2, x1:x2].copy())
            owners.append(appearance_id)
        if len(crops) >= 64:
            for owner, record in zip(owners, scorer.score_arrays(crops)):
                if record.ok:
                    best[owner] = max(best[owner], record.Q)
            crops, owners = [], []
        index += 1
    for owner, record in zip(owners, scorer.score_arrays(crops)):
        if record.ok:
            best[owner] = max(best[owner], record.Q)
    return best


def evaluate(truth: dict, tracks: list, rows: list, reference: dict[int, int]) -> dict:
    """Per-video counts for the table."""
    width, height = truth["width"], truth["height"]
    per_track: dict[int, dict] = {}
    for row in rows:
        counts = per_track.setdefault(row.track, {})
        match, score = None, IOU_MATCH
        for a in truth["appearances"]:
            box = shown(a, row.frame, width, height)
            if box is not None and iou(box, row.box) >= score:
                match, score = a["id"], iou(box, row.box)
        counts[match] = counts.get(match, 0) + 1
    owner, switched, on_nothing = {}, 0, 0
    for track_id, counts in per_track.items():
        total = sum(counts.values())
        majority = max(counts, key=lambda k: counts[k])
        if majority is None:
            on_nothing += 1
            continue
        owner[track_id] = majority
        if counts[majority] < 0.9 * total:
            switched += 1
    best = {t.track: (t.best.Q if t.best else -1) for t in tracks}
    results = []
    for a in truth["appearances"]:
        mine = [t for t, o in owner.items() if o == a["id"]]
        ours = max((best.get(t, -1) for t in mine), default=None)
        results.append(
            {"id": a["id"], "kind": a["kind"], "tracks": len(mine), "ours": ours, "reference": reference[a["id"]]}
        )
    return {"appearances": results, "tracks": len(per_track), "switched": switched, "on_nothing": on_nothing}


def resident_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def naive(path: Path, scorer_all: Scorer, frames: int) -> float:
    """Seconds to decode ``frames`` frames and score every face of each with Scorer(faces="all")."""
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    batch = []
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        batch.append(frame)
        if len(batch) == 4:
            list(scorer_all.score_arrays(batch))
            batch = []
    list(scorer_all.score_arrays(batch))
    return time.perf_counter() - started


def load() -> str:
    """The machine's load average over 1, 5 and 15 minutes (what `uptime` says)."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/fqe-video-bench"))
    parser.add_argument("--seconds", type=int, default=20, help="length of each video")
    parser.add_argument("--videos", type=int, default=2, help="videos per size")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="length of the memory source (0: skip)")
    parser.add_argument("--naive-frames", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep videos (and score's reference Q) already in --out from a run with the same options",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = sorted(
        set(open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0].split())
        & {"avx", "avx2", "avx512f", "avx512_vnni", "avx_vnni"}
    )
    print(f"machine: {os.cpu_count()} cores, {' '.join(cpu)}; load average at start {load()}", flush=True)
    scorer = Scorer(threads=0)  # what fqe-onnx video builds
    reference_scorer = Scorer()  # what fqe-onnx score builds
    faces = load_faces(reference_scorer, 14 * args.videos * len(SIZES), args.seed)
    videos = []
    n = 0
    for size, (width, height) in SIZES.items():
        for k in range(args.videos):
            rng = random.Random(args.seed * 1000 + n)
            chosen = faces[n * 14 : (n + 1) * 14]
            appearances = plan_scene(chosen, width, height, args.seconds * FPS, rng)
            path = args.out / f"{size}-{k}.mp4"
            if not (args.reuse and path.exists() and path.with_suffix(".json").exists()):
                render(path, appearances, width, height, args.seconds * FPS, seed=n)
            videos.append((size, path))
            n += 1
    print(
        f"{len(videos)} videos of {args.seconds} s in {args.out}" + (" (reused where there)" if args.reuse else ""),
        flush=True,
    )
    scorer_all = Scorer(faces="all")
    naive_seconds, naive_frames = [], 0
    results = []
    for size, path in videos:
        truth = json.loads(path.with_suffix(".json").read_text())
        before = load()
        tracks, rows, stats, cpu = run_pipeline(path, scorer)
        factor = stats.media_seconds / stats.seconds
        print(
            f"{path.name}: {len(tracks)} tracks, {stats.processed} frames in {stats.seconds:.1f} s "
            f"({factor:.2f}x real time), {cpu / stats.processed * 1000:.1f} ms CPU a frame, {stats.scored} faces "
            f"scored; load {before} -> {load()}",
            flush=True,
        )
        if size == "1080p":  # the naive way, interleaved with the pipeline's runs
            naive_seconds.append(naive(path, scorer_all, args.naive_frames))
            naive_frames += args.naive_frames
        cached = path.with_suffix(".reference.json")
        if args.reuse and cached.exists():
            reference = {int(k): v for k, v in json.loads(cached.read_text()).items()}
        else:
            reference = reference_best(path, truth, reference_scorer)
            cached.write_text(json.dumps(reference))
        results.append((size, path, evaluate(truth, tracks, rows, reference), stats, cpu))
    appearances = [a for _, _, r, _, _ in results for a in r["appearances"]]
    tracked = [a for a in appearances if a["tracks"]]
    close = [a for a in tracked if a["reference"] >= 0 and a["ours"] is not None and a["reference"] - a["ours"] <= 3]
    scored_refs = [a for a in appearances if a["reference"] >= 0]
    print("\nper appearance (video, id, kind, tracks, best-shot Q, best Q of score on any frame's crop):")
    for _size, path, r, _, _ in results:
        print(
            f"  {path.name}: "
            + ", ".join(f"{a['id']}:{a['kind']}:{a['tracks']}:{a['ours']}/{a['reference']}" for a in r["appearances"])
        )
    rtf, cpu_rtf = {}, {}
    for size in SIZES:
        media = sum(s.media_seconds for z, _, _, s, _ in results if z == size)
        rtf[size] = media / sum(s.seconds for z, _, _, s, _ in results if z == size)
        cpu_rtf[size] = media / sum(c for z, _, _, _, c in results if z == size)
    naive_rtf = (naive_frames / FPS) / sum(naive_seconds) if naive_seconds else float("nan")
    print("\n| measure | target | result |\n| --- | --- | --- |")
    print(
        f"| appearances that get a track | >= 95% | {len(tracked)}/{len(appearances)} = {len(tracked) / len(appearances):.0%} |"
    )
    print(f"| tracks per appearance | <= 1.2 | {sum(a['tracks'] for a in tracked) / max(len(tracked), 1):.2f} |")
    print(f"| tracks that switch person | 0 | {sum(r['switched'] for _, _, r, _, _ in results)} |")
    print(
        f"| best shot's Q within 3 of score's best Q on any frame | >= 90% | {len(close)}/{len(scored_refs)} = "
        f"{len(close) / max(len(scored_refs), 1):.0%} |"
    )
    print(
        f"| tracks on no face | <= 1 per video | {max(r['on_nothing'] for _, _, r, _, _ in results)} at most "
        f"({', '.join(str(r['on_nothing']) for _, _, r, _, _ in results)}) |"
    )
    print(
        f"| real-time factor, 1920x1080 at 25 fps | >= 1.0x | {rtf['1080p']:.2f}x wall clock (1280x720: "
        f'{rtf["720p"]:.2f}x; naive Scorer(faces="all") on every frame: {naive_rtf:.2f}x, so '
        f"{rtf['1080p'] / naive_rtf:.1f} times faster); video seconds per CPU second, all threads: "
        f"{cpu_rtf['1080p']:.2f}x (1280x720: {cpu_rtf['720p']:.2f}x); load average now {load()} |",
        flush=True,
    )
    if args.long_minutes > 0:
        width, height = SIZES["720p"]
        frames = int(args.long_minutes * 60 * FPS)
        rng = random.Random(99)
        pool = faces * (frames // (40 * FPS) + 2)
        appearances = plan_scene(pool, width, height, frames, rng)
        path = args.out / f"long-720p-{args.long_minutes:g}min.mp4"
        if not (args.reuse and path.exists()):
            render(path, appearances, width, height, frames, seed=99)
        count, rss, stats = run_long(path, scorer)
        marks = [f"{t / 60:.1f} min {mb:.0f} MB" for t, mb in rss[:: max(len(rss) // 10, 1)]]
        later = [mb for t, mb in rss if t >= 60]
        growth = later[-1] - later[0] if len(later) > 1 else float("nan")
        print(
            f"| memory over a {args.long_minutes:g}-minute source (1280x720) | flat | {growth:+.1f} MB from minute 1 "
            f"to the end ({count} tracks, {stats.seconds:.0f} s, {stats.media_seconds / stats.seconds:.2f}x); "
            f"RSS: {', '.join(marks)} |"
        )
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    sys.exit(main())
