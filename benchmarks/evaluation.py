"""What q is worth on LFW, and whether Q can read as a match probability (default model, NO options).

1. EDC (fqe_onnx.evaluation, as ``fqe-onnx evaluate`` runs it): FNMR at FMR 1e-3 and the normalised
   pAUC(0..20%) of q against a seeded random quality and the variance of the Laplacian.
2. The utility calibration, fitted on half of the identities and judged on the other half. LFW's
   aligned faces almost never fail at FMR 1e-3, so the probes are the originals plus degraded copies
   (the recipe below); the references are the originals. Prints the fitted x0, w, the held-out
   reliability table and ECE, and the same for the shipped calibration read as a probability.
3. Grey: how q and Q shift when each image is converted to grey (and back to 3 channels).

Recipe for the degraded probes (seeded): each original gets COPIES copies, each with one family
drawn at random and a level drawn uniformly: Gaussian blur sigma 0.5..4 px; Gaussian noise std
3..60; down-scaling by 1.5..10 (area) and back (linear); JPEG quality 2..40; exposure gain 0.1..0.7
or 1.3..4. Written as PNG (JPEG for the JPEG family) beside the originals' names.

    python benchmarks/evaluation.py [--copies 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from fqe_onnx import Scorer
from fqe_onnx.demo import downscale, exposure, gaussian_blur, gaussian_noise, jpeg
from fqe_onnx.evaluation.run import format_evaluation, run_evaluation
from fqe_onnx.evaluation.utility import fit_utility, format_reliability, reliability, utility_data
from fqe_onnx.quality import norm_to_score
from fqe_onnx.sources import find_images
from verification import LFW_DEV
from fqe_onnx.machine import describe_line

FAMILIES = {
    "blur": (0.5, 4.0, gaussian_blur),
    "noise": (3.0, 60.0, gaussian_noise),
    "downscale": (1.5, 10.0, downscale),
    "jpeg": (2.0, 40.0, jpeg),
    "dark": (0.1, 0.7, exposure),
    "bright": (1.3, 4.0, exposure),
}


def build_probe_set(out: Path, copies: int, seed: int) -> None:
    """out/IDENTITY/NAME.jpg (the original, a reference) and out/IDENTITY/NAME__FAMILY_LEVEL.png copies."""
    rng = np.random.default_rng(seed)
    for source in find_images(LFW_DEV):
        image = cv2.imread(str(source.path))
        folder = out / source.identity
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(source.name).stem
        (folder / f"{stem}.jpg").write_bytes(source.path.read_bytes())
        for _ in range(copies):
            family = list(FAMILIES)[rng.integers(len(FAMILIES))]
            low, high, apply = FAMILIES[family]
            level = float(rng.uniform(low, high))
            degraded = (
                apply(image, int(level))
                if family == "jpeg"
                else (apply(image, level, int(rng.integers(1 << 30))) if family == "noise" else apply(image, level))
            )
            cv2.imwrite(str(folder / f"{stem}__{family}_{level:.2f}.png"), degraded)


def split_identities(sources, seed: int):
    names = sorted({s.identity for s in sources})
    held_out = set(np.random.default_rng(seed).permutation(names)[: len(names) // 2].tolist())
    return [s for s in sources if s.identity not in held_out], [s for s in sources if s.identity in held_out]


def grey_shift(scorer: Scorer) -> str:
    sources = find_images(LFW_DEV)
    images = [cv2.imread(str(s.path)) for s in sources]
    greys = [cv2.cvtColor(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) for im in images]
    colour = list(scorer.score_arrays(images))
    grey = list(scorer.score_arrays(greys))
    pairs = [(c, g) for c, g in zip(colour, grey) if c.ok and g.ok]
    dq = np.array([g.q - c.q for c, g in pairs])
    dQ = np.array([g.Q - c.Q for c, g in pairs])
    return (
        f"grey copies of {len(pairs)} LFW images: q higher than the colour original in {np.mean(dq > 0):.1%}; "
        f"median change q {np.median(dq):+.3f}, Q {np.median(dQ):+.0f}; largest rise Q {dQ.max():+d}, "
        f"largest fall Q {dQ.min():+d}"
    )


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with Scorer(device="cpu") as scorer:  # the default model, --align auto: what a user gets
        print("1. EDC on ../shared/data/lfw-dev (fqe-onnx evaluate, defaults)")
        evaluation, *_ = run_evaluation(str(LFW_DEV), scorer)
        print(format_evaluation(evaluation.summary), flush=True)

        print(f"\n2. utility calibration: originals as references, originals + {args.copies} degraded copies as probes")
        with tempfile.TemporaryDirectory(prefix="fqe-utility-") as tmp:
            build_probe_set(Path(tmp), args.copies, args.seed)
            train, held_out = split_identities(find_images(tmp), args.seed)
            fit = utility_data(scorer, train, references="*[0-9].jpg", seed=args.seed)
            calibration = fit_utility(fit.q, fit.targets.successes, fit.targets.trials)
            print(
                f"fit on {fit.info['identities']} identities ({fit.info['probes']} probes, {fit.info['failed_images']} "
                f"images without a face, {fit.info['comparisons']} comparisons; threshold {fit.threshold:.4f} at "
                f"FMR 1e-3): x0 = {calibration.x0:.4f}, w = {calibration.w:.4f}"
            )
            test = utility_data(scorer, held_out, references="*[0-9].jpg", threshold=fit.threshold, seed=args.seed)
            print(
                f"held out: {test.info['identities']} identities, {test.info['probes']} probes, "
                f"{test.info['failed_images']} images without a face"
            )
            rows, ece = reliability(test.q, test.targets.successes, test.targets.trials, calibration)
            print(format_reliability(rows, ece))
            shipped = scorer.contract.calibration
            rows, ece_shipped = reliability(test.q, test.targets.successes, test.targets.trials, shipped)
            print(
                f"the shipped calibration (x0 = {shipped.x0:g}, w = {shipped.w:g}) read as a probability on the "
                f"same held-out probes: ECE {ece_shipped:.4f}"
            )
            clean = np.array([norm_to_score(v, calibration) for v in fit.q])
            print(
                f"Q under the utility fit, training probes: median {np.median(clean):.0f}, "
                f"{np.mean(clean >= 90):.0%} at 90 or above",
                flush=True,
            )

        print("\n3. " + grey_shift(scorer))


if __name__ == "__main__":
    main()
