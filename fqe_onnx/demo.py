"""The embedded demo: one real face, a ladder of degradations, and how the score follows them.

The face is the public-domain ``astronaut`` photo that scikit-image ships (Eileen Collins, NASA),
aligned onto the model's face template (ArcFace's 112x112 one by default) by a fixed similarity
transform from five landmarks that were measured once (with the face detector and 68-point landmark
models of the same npm package as the default model) and are kept here as constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from .align.template import ARCFACE_SIZE, ARCFACE_TEMPLATE_112, warp_to_template
from .errors import FqeError

#: Left eye, right eye, nose tip, left and right mouth corner in the 512x512 astronaut photo (x, y).
ASTRONAUT_POINTS = np.array(
    [[204.3, 100.5], [247.2, 103.2], [224.5, 127.1], [203.7, 139.8], [243.6, 142.0]], dtype=np.float64
)


def astronaut_bgr() -> np.ndarray:
    """The astronaut photo as BGR uint8 (needs scikit-image, the demo extra)."""
    try:
        from skimage import data
    except ImportError:
        raise FqeError("the demo face comes from scikit-image: pip install scikit-image (the demo extra)") from None
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def demo_face(
    template: Optional[np.ndarray] = None, size_hw: tuple[int, int] = (ARCFACE_SIZE, ARCFACE_SIZE)
) -> np.ndarray:
    """The BGR demo face on ``template`` at ``size_hw`` (default: ArcFace's 112x112 template)."""
    template = ARCFACE_TEMPLATE_112 if template is None else template
    return warp_to_template(astronaut_bgr(), ASTRONAUT_POINTS, template, size_hw)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)


def gaussian_noise(image: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, std, size=image.shape)
    return np.clip(image.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Shrink by ``factor`` and scale back up: the detail a low-resolution capture would have."""
    height, width = image.shape[:2]
    small = cv2.resize(
        image, (max(1, round(width / factor)), max(1, round(height / factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def jpeg(image: np.ndarray, quality: float) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise FqeError("JPEG encoding failed")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if decoded is None:
        raise FqeError("JPEG decoding failed")
    return decoded


def exposure(image: np.ndarray, gain: float) -> np.ndarray:
    """Multiply linear-ish intensity by ``gain`` (<1 under-, >1 over-exposed), clipping at 255."""
    return np.clip(image.astype(np.float64) * gain, 0, 255).round().astype(np.uint8)


def occlude_from_bottom(image: np.ndarray, fraction: float) -> np.ndarray:
    """Cover the lower ``fraction`` of the face with flat grey (a scarf or mask)."""
    out = image.copy()
    height = image.shape[0]
    out[height - round(height * fraction) :] = 128
    return out


@dataclass(frozen=True)
class Family:
    name: str
    parameter: str
    levels: tuple[float, ...]
    apply: Callable[[np.ndarray, float], np.ndarray]
    asserted: bool = True  # whether the score is expected to fall with severity


FAMILIES = (
    Family("blur", "Gaussian sigma (px)", (1.0, 1.5, 2.0, 2.5, 3.0, 4.0), gaussian_blur),
    Family("noise", "Gaussian noise std (grey levels)", (5, 10, 20, 30, 45, 60), gaussian_noise),
    Family("downscale", "shrink factor", (2, 3, 4, 5, 6, 10), downscale),
    Family("jpeg", "JPEG quality", (30, 15, 8, 5, 3, 1), jpeg),
    Family("underexposure", "intensity gain", (0.7, 0.5, 0.35, 0.25, 0.15, 0.08), exposure),
    Family("overexposure", "intensity gain", (1.3, 1.6, 2.0, 2.5, 3.0, 4.0), exposure),
    Family(
        "occlusion",
        "covered fraction, from the chin up",
        (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
        occlude_from_bottom,
        asserted=False,
    ),
)


@dataclass
class FamilyResult:
    family: Family
    q: list[float] = field(default_factory=list)  # per level, severity increasing
    Q: list[int] = field(default_factory=list)


@dataclass
class DemoResult:
    clean_q: float
    clean_Q: int
    families: list[FamilyResult]
    provider: str


def run_demo(model: Optional[str] = None, out_dir: Optional[Path] = None, device: str = "auto") -> DemoResult:
    """Score the clean demo face and every degraded version; write the images to ``out_dir`` if given."""
    from .scorer import Scorer

    with Scorer(model, device=device, align="auto") as scorer:  # model-sized crops are scored as they are
        face = demo_face(scorer.framer.template, scorer.framer.size_hw)
        ladders = [(family, [family.apply(face, level) for level in family.levels]) for family in FAMILIES]
        images = [face] + [image for _, images in ladders for image in images]
        records = list(scorer.score_arrays(images))
        provider = scorer.provider
    failed = [r for r in records if not r.ok]
    if failed:
        raise FqeError(f"demo image {failed[0].path} failed: {failed[0].error}")
    results, index = [], 1
    for family, family_images in ladders:
        chunk = records[index : index + len(family_images)]
        index += len(family_images)
        results.append(FamilyResult(family, [r.q for r in chunk], [r.Q for r in chunk]))  # type: ignore[misc]  # all ok: checked above
    if out_dir is not None:
        write_images(out_dir, face, ladders)
    return DemoResult(records[0].q, records[0].Q, results, provider)  # type: ignore[arg-type]  # ok: checked above


def write_images(out_dir: Path, face: np.ndarray, ladders: list) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / "clean.png"), face)
    for family, images in ladders:
        folder = out_dir / family.name
        folder.mkdir(exist_ok=True)
        for level, image in zip(family.levels, images):
            cv2.imwrite(str(folder / f"{family.name}_{level:g}.png"), image)


def format_demo(result: DemoResult) -> str:
    """A compact table per family: parameter values, q and Q, clean first."""
    lines = [f"clean aligned face: q = {result.clean_q:.3f}, Q = {result.clean_Q}  ({result.provider})", ""]
    for fr in result.families:
        note = "" if fr.family.asserted else "  (shown, not asserted: norms react weakly to occlusion)"
        lines.append(f"{fr.family.name}: {fr.family.parameter}{note}")
        cells = [("clean", f"{result.clean_q:.2f}", str(result.clean_Q))] + [
            (f"{level:g}", f"{q:.2f}", str(Q)) for level, q, Q in zip(fr.family.levels, fr.q, fr.Q)
        ]
        for label, column in (("level", 0), ("q", 1), ("Q", 2)):
            lines.append(f"  {label:<6}" + "".join(f"{cell[column]:>7}" for cell in cells))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
