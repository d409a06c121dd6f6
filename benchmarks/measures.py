"""Do the ISO/IEC 29794-5 measures (fqe_onnx.measures) follow the defects they name, what do they
cost, and which of them does the default model's recognition suffer from?

On ../shared/data/lfw-dev (one photo per person, the first N people in sorted order):

1. Degradation ladders. Each photo is degraded step by step (rotation, flip, downscale, darkening
   and brightening, contrast, blur, a light gradient, a colour cast, the frame cut toward the
   face, two faces side by side); each step goes through the detector, the 68 landmarks and the
   measures as ``score --measures`` runs them. Per ladder: Spearman's rho between the step and
   the measure, per face (median over faces) and pooled over all faces' changes from their own
   undegraded value, and the ladder's own check (roll within 3 degrees of the angle, the flip's
   sign change within 4, the eye distance within 5 % of the scale, the exposure measures below
   their floors at the extremes, single_face_present <= 10 for two faces and 100 for one).
2. The cost of --measures: seconds per image of the Scorer with and without, interleaved rounds,
   as a ratio (the same process, the same images).
3. EDC: ``fqe-onnx score --measures`` on all of lfw-dev, then ``fqe-onnx evaluate --quality-csv``
   with each measure's 0-100 value: each measure's normalised pAUC (lower: discarding by it
   removes more of the default model's false non-matches) beside q and random.

    python benchmarks/measures.py [--faces 100] [--rounds 5] [--timing-images 200] [--no-edc]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from fqe_onnx.align.aligner import FaceAligner
from fqe_onnx.decode import read_image
from fqe_onnx.errors import ImageError
from fqe_onnx.measure_catalog import FLOORS, MEASURES
from fqe_onnx.measures.compute import FaceMeasures, measure_face
from fqe_onnx.scorer import Scorer

LFW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw-dev"
FQE = [sys.executable, "-m", "fqe_onnx"]


def cpu_line() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    model = re.search(r"model name\s*:\s*(.+)", text)
    flags = sorted(set(re.findall(r"\b(avx\w*)", text)))
    return f"{model.group(1) if model else platform.processor()}, {os.cpu_count()} cores, flags {' '.join(flags)}"


def ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[order[j + 1]] == values[order[i]]:
            j += 1
        result[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho (0 when either side is constant)."""
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


# -- the degradations --------------------------------------------------------------------------------


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image,
        cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)


def gain(image: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    mean = image.reshape(-1, 3).mean(axis=0)
    return np.clip(mean + (image.astype(np.float32) - mean) * factor + 0.5, 0, 255).astype(np.uint8)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return image if sigma == 0 else cv2.GaussianBlur(image, (0, 0), sigma)


def light_gradient(image: np.ndarray, strength: float) -> np.ndarray:
    """Light falling from left to right: the left edge times (1 - s), the right edge times (1 + s)."""
    w = image.shape[1]
    ramp = 1 + strength * (2 * np.arange(w, dtype=np.float32) / (w - 1) - 1)
    return np.clip(image.astype(np.float32) * ramp[None, :, None], 0, 255).astype(np.uint8)


def colour_cast(image: np.ndarray, strength: float) -> np.ndarray:
    """A warm white balance: red up, blue down, by ``strength``. (A cold one drives CIELAB b below
    0 within a step or two, where OFIQ's raw natural colour jumps to 100: a cliff, not a slope.)"""
    out = image.astype(np.float32)
    out[..., 2] *= 1 + strength
    out[..., 0] *= 1 - strength
    return np.clip(out, 0, 255).astype(np.uint8)


def cut(side: str) -> Callable[[np.ndarray, float], np.ndarray]:
    """The frame cut by ``share`` of its size on one side: the face moves toward that edge."""

    def apply(image: np.ndarray, share: float) -> np.ndarray:
        h, w = image.shape[:2]
        dx, dy = round(share * w), round(share * h)
        return {"left": image[:, dx:], "right": image[:, : w - dx], "above": image[dy:], "below": image[: h - dy]}[side]

    return apply


@dataclass
class Ladder:
    name: str
    levels: Sequence[float]
    degrade: Callable[[np.ndarray, float], np.ndarray]
    measure: str  # NAME (0-100) or NAME_raw
    sign: int  # the expected sign of rho between the level and the measure
    values: list[list[Optional[float]]] = field(default_factory=list)  # per face, per level

    def read(self, result: Optional[FaceMeasures]) -> Optional[float]:
        if result is None:
            return None
        if self.measure.endswith("_raw"):
            return result.raw[self.measure[:-4]]
        return result.values[self.measure]


LADDERS = [
    Ladder("rotation -30..30 deg", [-30, -20, -10, 0, 10, 20, 30], rotate, "head_pose_roll_raw", +1),
    Ladder("downscale 1..0.4", [1, 0.85, 0.7, 0.55, 0.4], scale, "inter_eye_distance_raw", +1),
    Ladder(
        "darkening, brightening x0.15..x4", [0.15, 0.3, 0.5, 0.7, 1, 1.4, 2, 2.8, 4], gain, "luminance_mean_raw", +1
    ),
    Ladder("contrast 1..0.15", [1, 0.75, 0.5, 0.3, 0.15], contrast, "dynamic_range_raw", +1),
    Ladder("Gaussian blur sigma 0..3 px", [0, 0.5, 1, 1.5, 2, 3], blur, "sharpness_raw", -1),
    Ladder(
        "light gradient left to right 0..0.8",
        [0, 0.2, 0.4, 0.6, 0.8],
        light_gradient,
        "illumination_uniformity_raw",
        -1,
    ),
    Ladder("colour cast (warm) 0..0.6", [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], colour_cast, "natural_colour_raw", +1),
    Ladder("frame cut on the left 0..0.3", [0, 0.08, 0.16, 0.24, 0.3], cut("left"), "leftward_crop_raw", -1),
    Ladder("frame cut on the right 0..0.3", [0, 0.08, 0.16, 0.24, 0.3], cut("right"), "rightward_crop_raw", -1),
    Ladder("frame cut above 0..0.3", [0, 0.08, 0.16, 0.24, 0.3], cut("above"), "margin_above_raw", -1),
    Ladder("frame cut below 0..0.25", [0, 0.06, 0.12, 0.18, 0.25], cut("below"), "margin_below_raw", -1),
]


def measured(aligner: FaceAligner, images: list[np.ndarray]) -> list[Optional[FaceMeasures]]:
    """The main face's measures of each image (None where no face is found), as score --measures."""
    out: list[Optional[FaceMeasures]] = []
    for image, found in zip(images, aligner.locate_batch(images)):
        if isinstance(found, ImageError):
            out.append(None)
            continue
        face = found[0]
        out.append(measure_face(image, face.landmarks, [d.box for d in face.detections]))
    return out


def photos(count: int) -> list[Path]:
    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    return [sorted(p.iterdir())[0] for p in people[:count]]


def alone(image: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """The face cut out with a margin of half its box, so that it is the photo's only face."""
    x1, y1, x2, y2 = box
    m = 0.5 * max(x2 - x1, y2 - y1)
    h, w = image.shape[:2]
    return image[max(int(y1 - m), 0) : min(int(y2 + m), h), max(int(x1 - m), 0) : min(int(x2 + m), w)]


def run_ladders(paths: list[Path]) -> bool:
    aligner = FaceAligner(device="cpu", threads=1)
    flips: list[tuple[float, float]] = []
    one, two = [], []
    darkest, brightest, original_under, original_over = [], [], [], []
    used = 0
    started = time.perf_counter()
    for path in paths:
        image = read_image(path)
        base = measured(aligner, [image])[0]
        if base is None:
            continue
        used += 1
        for ladder in LADDERS:
            results = measured(aligner, [ladder.degrade(image, level) for level in ladder.levels])
            ladder.values.append([ladder.read(r) for r in results])
            if ladder.name.startswith("darkening"):
                original_under.append(base.values["under_exposure_prevention"])
                original_over.append(base.values["over_exposure_prevention"])
                if results[0] is not None:
                    darkest.append(results[0].values["under_exposure_prevention"])
                if results[-1] is not None:
                    brightest.append(results[-1].values["over_exposure_prevention"])
        flipped = measured(aligner, [image[:, ::-1].copy()])[0]
        if flipped is not None:
            flips.append(
                (
                    flipped.raw["head_pose_yaw"] + base.raw["head_pose_yaw"],
                    flipped.raw["head_pose_roll"] + base.raw["head_pose_roll"],
                )
            )
        face = aligner.locate(image)[0]
        single = alone(image, face.detection.box)
        pair = measured(aligner, [single, np.hstack([single, single])])
        if pair[0] is not None:
            one.append(pair[0].values["single_face_present"])
        if pair[1] is not None:
            two.append(pair[1].values["single_face_present"])
    print(f"{used} faces of {len(paths)} photos ({time.perf_counter() - started:.0f} s)\n")
    ok = True
    print(
        "rho/face: the median over faces of Spearman's rho between the step and the measure (the check: "
        "|rho| >= 0.9, the right sign); |rho|>=.9: the share of faces at which it holds; pooled: rho over all "
        "faces' changes from their own undegraded value (information); lost: steps without a face found"
    )
    print(f"{'ladder':38} {'measure':30} {'rho/face':>8} {'|rho|>=.9':>9} {'pooled':>7} {'lost':>5}  check")
    for ladder in LADDERS:
        per_face, pooled_x, pooled_y, lost = [], [], [], 0
        base_index = list(ladder.levels).index(1 if ladder.degrade in (scale, gain, contrast) else 0)
        for values in ladder.values:
            kept = [(lv, v) for lv, v in zip(ladder.levels, values) if v is not None]
            lost += len(values) - len(kept)
            if len(kept) >= 3:
                per_face.append(spearman([k[0] for k in kept], [k[1] for k in kept]))
            if values[base_index] is not None:
                pooled_x += [lv for lv, v in zip(ladder.levels, values) if v is not None]
                pooled_y += [v - values[base_index] for v in values if v is not None]
        median = statistics.median(per_face)
        share = np.mean([abs(r) >= 0.9 for r in per_face])
        pooled = spearman(pooled_x, pooled_y)
        check, passed = ladder_check(ladder, base_index)
        passed = passed and median * ladder.sign >= 0.9
        ok &= passed
        print(
            f"{ladder.name:38} {ladder.measure:30} {median:+8.3f} {share:9.0%} {pooled:+7.3f} {lost:5d}  "
            f"{check} {'PASS' if passed else 'FAIL'}"
        )
    yaw, roll = (statistics.median(abs(f[i]) for f in flips) for i in (0, 1))
    passed = yaw <= 4 and roll <= 4
    ok &= passed
    print(
        f"{'horizontal flip':38} {'head_pose_yaw_raw, _roll_raw':30} {'':>8} {'':>9} {'':>7} {len(paths) - len(flips):5d}  "
        f"median |yaw + yaw flipped| {yaw:.2f} deg, |roll + roll flipped| {roll:.2f} deg {'PASS' if passed else 'FAIL'}"
    )
    passed = statistics.median(darkest) < FLOORS["under_exposure_prevention"] <= statistics.median(
        original_under
    ) and statistics.median(brightest) < FLOORS["over_exposure_prevention"] <= statistics.median(original_over)
    ok &= passed
    print(
        f"{'exposure at the extremes':38} {'under/over_exposure_prevention':30} {'':>8} {'':>9} {'':>7} {'':>5}  "
        f"median under {statistics.median(original_under):.0f} -> {statistics.median(darkest):.0f} at x0.15, "
        f"over {statistics.median(original_over):.0f} -> {statistics.median(brightest):.0f} at x4 "
        f"(floor 50) {'PASS' if passed else 'FAIL'}"
    )
    passed = statistics.median(two) <= 10 and statistics.median(one) == 100
    ok &= passed
    print(
        f"{'one face, two side by side':38} {'single_face_present':30} {'':>8} {'':>9} {'':>7} "
        f"{2 * len(paths) - len(one) - len(two):5d}  median alone {statistics.median(one):.0f} "
        f"({np.mean([v == 100 for v in one]):.0%} at 100), two {statistics.median(two):.0f} "
        f"({np.mean([v <= 10 for v in two]):.0%} <= 10) {'PASS' if passed else 'FAIL'}"
    )
    return ok


def ladder_check(ladder: Ladder, base_index: int) -> tuple[str, bool]:
    """The ladder's own check beyond rho: roll tracks the angle, the eye distance the scale."""
    if ladder.degrade is rotate:
        errors = [
            v - f[base_index] - lv
            for f in ladder.values
            if f[base_index] is not None
            for lv, v in zip(ladder.levels, f)
            if v is not None and lv != 0
        ]
        median = statistics.median(abs(e) for e in errors)
        return f"median |d roll - angle| {median:.2f} deg", median <= 3
    if ladder.degrade is scale:
        errors = [
            (v / f[base_index] - lv) / lv
            for f in ladder.values
            if f[base_index] is not None
            for lv, v in zip(ladder.levels, f)
            if v is not None and lv != 1
        ]
        median = statistics.median(abs(e) for e in errors)
        return f"median |IED ratio - scale| / scale {median:.1%}", median <= 0.05
    if ladder.degrade is blur:
        columns = list(zip(*ladder.values))
        medians = ", ".join(
            f"{lv:g}: {statistics.median(v for v in c if v is not None):.3f}" for lv, c in zip(ladder.levels, columns)
        )
        return f"median raw by sigma {medians};", True
    return "", True


# -- the cost --------------------------------------------------------------------------------------------


def run_timing(paths: list[Path], rounds: int) -> None:
    """Seconds per image with and without measures, interleaved rounds (the order alternating), as
    wall time and as this process's CPU time (all its threads): on a machine shared with other
    jobs the CPU time is the steadier of the two."""
    plain, measuring = Scorer(device="cpu"), Scorer(device="cpu", measures=True)
    wall: dict[str, list[float]] = {"score": [], "score --measures": []}
    cpu: dict[str, list[float]] = {"score": [], "score --measures": []}
    with plain, measuring:
        for scorer in (plain, measuring):  # warm-up: sessions, thread pools, first-call costs
            list(scorer.score_paths(paths[:8]))
        for round_ in range(rounds):
            order = [("score", plain), ("score --measures", measuring)]
            for name, scorer in order if round_ % 2 == 0 else order[::-1]:
                started, started_cpu = time.perf_counter(), time.process_time()
                records = list(scorer.score_paths(paths))
                wall[name].append((time.perf_counter() - started) / len(records))
                cpu[name].append((time.process_time() - started_cpu) / len(records))
        threads = plain.threads
    print(f"\n{len(paths)} photos, {rounds} interleaved rounds, {threads} worker threads, CPU provider")
    for label, times in (("wall", wall), ("CPU", cpu)):
        ratios = [m / s for s, m in zip(times["score"], times["score --measures"])]
        for name, values in times.items():
            print(
                f"  {label:4} {name:18} {statistics.median(values) * 1000:7.1f} ms/image (median; rounds "
                + ", ".join(f"{v * 1000:.1f}" for v in values)
                + ")"
            )
        print(
            f"  {label:4} ratio --measures / score: median {statistics.median(ratios):.2f}x "
            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; target <= 1.3x)"
        )


# -- EDC -------------------------------------------------------------------------------------------------


def run_edc(out: Path) -> None:
    scores = out / "scores.csv"
    started = time.perf_counter()
    done = subprocess.run(
        FQE + ["score", str(LFW), "--measures", "-o", str(scores), "--no-progress"], capture_output=True, text=True
    )
    print(
        f"\nscore --measures on lfw-dev: {done.stderr.strip().splitlines()[-1]} ({time.perf_counter() - started:.0f} s)"
    )
    specs = [arg for name in MEASURES for arg in ("--quality-csv", f"{scores}:{name}")]
    evaluation = out / "evaluation"
    done = subprocess.run(FQE + ["evaluate", str(LFW), "-o", str(evaluation), *specs], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        raise SystemExit("evaluate failed")
    below_floor(scores)
    summary = json.loads((evaluation / "summary.json").read_text())
    for fmr, result in summary["fmr"].items():
        if not result.get("supported"):
            continue
        print(
            f"EDC at FMR {fmr} (threshold {result['threshold']:.3f}): normalised pAUC up to 20 % discarded, "
            "lower is better (1 = no better than keeping every comparison)"
        )
        rows = [
            (name.split(":")[-1], source["pauc"]["0.2"]["normalised"]) for name, source in result["sources"].items()
        ]
        for name, pauc in sorted(rows, key=lambda r: r[1]):
            print(f"  {name:30} {pauc:.3f}")


def below_floor(scores: Path) -> None:
    """How many lfw-dev faces each measure puts under its floor, and the median value."""
    import csv

    rows = [r for r in csv.DictReader(scores.open(encoding="utf-8")) if r["Q"]]
    print(f"{len(rows)} scored faces: per measure, the median 0-100 value and the share under its floor")
    for name in MEASURES:
        values = [int(r[name]) for r in rows if r[name] != ""]
        under = np.mean([v < FLOORS[name] for v in values]) if values else float("nan")
        print(
            f"  {name:30} median {statistics.median(values):5.0f}   under {FLOORS[name]}: {under:6.1%}"
            f"   not assessed: {len(rows) - len(values)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100, help="photos (one per person) for the ladders")
    parser.add_argument("--timing-images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-edc", action="store_true", help="skip the EDC (about 10 minutes on 2 cores)")
    parser.add_argument("--no-ladders", action="store_true")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument(
        "--out", type=Path, help="keep the EDC's scores.csv and evaluation here (default: a temporary folder)"
    )
    args = parser.parse_args()
    print(f"machine: {cpu_line()}; shared with other jobs while this ran: compare ratios, not absolute times")
    ok = True
    if not args.no_ladders:
        ok = run_ladders(photos(args.faces))
    if not args.no_timing:
        paths = sorted(p for d in sorted(LFW.iterdir()) if d.is_dir() for p in sorted(d.iterdir()))
        run_timing(paths[:: max(1, len(paths) // args.timing_images)][: args.timing_images], args.rounds)
    if not args.no_edc:
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            run_edc(args.out)
        else:
            with tempfile.TemporaryDirectory() as folder:
                run_edc(Path(folder))
    if not ok:
        raise SystemExit("some ladders failed their checks (FAIL above)")


if __name__ == "__main__":
    main()
