"""Make the documentation's pictures (docs/images/) with the real programs, in Debian's chromium.

    .venv/bin/python scripts/screenshots.py [--lfw DIR] [--only report,curation,browser,edc]

- report.png: `fqe-onnx demo --out`, `fqe-onnx score` and `fqe-onnx report` on the demo's images
  (the public-domain astronaut photo and its degraded copies), the slider moved to Q 50, in chromium;
- curation.png: `fqe-onnx curate` on label errors planted with two public-domain portraits (the
  astronaut, and matplotlib's Grace Hopper) among the LFW development set's folders (--lfw), its
  review page in chromium; the LFW folders curate flags on its own are left out, so the page shows
  the public-domain faces only (about 3 minutes);
- browser.png: examples/browser served from 127.0.0.1 with a bundle from `fqe-onnx bundle --pixels
  rgba`, the astronaut photo given to its file input, in chromium;
- edc.png: the plot `fqe-onnx evaluate` writes, for the LFW development set (--lfw, default
  $FQE_LFW_DEV or ../shared/data/lfw-dev; about 3 minutes on 2 cores). The plot holds no face.

Each picture is kept small (a palette PNG under 200 KB; tests/test_docs_site.py checks). Needs the
test setup (`bash scripts/test.sh`: the package with its extras, chromium, the examples' npm ci).
Faces shown are public-domain portraits only, never LFW's.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
FQE = str(Path(sys.executable).parent / "fqe-onnx")
MAX_BYTES = 200_000

sys.path.insert(0, str(ROOT / "tests"))
from browser import chromium_page  # noqa: E402  (tests/browser.py: how the tests launch chromium)


def fqe(work: Path, *args: str, check: bool = True) -> None:
    """``fqe-onnx ARGS`` in ``work`` (relative paths, so the pages name no temporary folder)."""
    subprocess.run([FQE, *args], cwd=work, check=check, stdout=subprocess.DEVNULL)


def save_small(png: bytes, name: str, width: int = 1000) -> Path:
    """A palette PNG at most ``width`` wide: screenshots of pages compress well at 256 colours."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    out = IMAGES / name
    for colours in (256, 128, 64):
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, optimize=True
        )
        if out.stat().st_size <= MAX_BYTES:
            break
    print(f"{out.relative_to(ROOT)}: {image.width}x{image.height}, {out.stat().st_size // 1024} KiB")
    return out


def report(work: Path) -> None:
    fqe(work, "demo", "--out", "demo")
    fqe(work, "score", "demo", "-o", "scores.csv", "--no-progress")
    fqe(work, "report", "scores.csv", "--images", "demo", "-o", "report.html", "--count", "8")
    with chromium_page({"width": 1200, "height": 1400}) as (page, log):
        page.goto((work / "report.html").as_uri())
        page.wait_for_load_state("load")
        page.evaluate("""() => { const cut = document.querySelector('#q-cut'); cut.value = 50;
                                 cut.dispatchEvent(new Event('input', {bubbles: true})); }""")
        shot = page.screenshot(full_page=False)
    assert log.unexpected() == [], log.unexpected()
    save_small(shot, "report.png")


def public_domain_photos() -> dict[str, "np.ndarray"]:
    """The two public-domain portraits the packages ship: scikit-image's astronaut (Eileen Collins,
    NASA) and matplotlib's Grace Hopper (US Navy)."""
    import cv2
    import matplotlib.cbook

    from fqe_onnx.demo import astronaut_bgr

    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return {"collins": astronaut_bgr(), "hopper": hopper}


def variants(photo: "np.ndarray", count: int, seed: int) -> list["np.ndarray"]:
    """``count`` different shots of one photo: a random square window (80-100% of the short side),
    a small rotation, a mirror now and then, and a mild blur, noise, JPEG or exposure change."""
    import cv2
    import numpy as np

    from fqe_onnx.demo import exposure, gaussian_blur, gaussian_noise, jpeg

    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    shots = []
    for _ in range(count):
        side = int(min(height, width) * rng.uniform(0.8, 1.0))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        turn = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(-8, 8)), 1.0)
        shot = cv2.warpAffine(
            photo[top : top + side, left : left + side], turn, (side, side), borderMode=cv2.BORDER_REFLECT
        )
        shot = cv2.resize(shot, (256, 256), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.3:
            shot = cv2.flip(shot, 1)
        change = rng.integers(4)
        shot = (
            gaussian_blur(shot, rng.uniform(0.5, 1.2))
            if change == 0
            else gaussian_noise(shot, rng.uniform(2, 6), seed=int(rng.integers(1 << 30)))
            if change == 1
            else jpeg(shot, rng.uniform(40, 90))
            if change == 2
            else exposure(shot, rng.uniform(0.8, 1.2))
        )
        shots.append(shot)
    return shots


def planted_errors(root: Path) -> list[str]:
    """Two public-domain people with three label errors: Collins also filed as ``collins_e`` (one
    person in two folders), a copy of a Collins photo filed under Hopper, and a folder of pictures
    with no face. Returns the folders written."""
    import cv2
    import numpy as np

    photos = public_domain_photos()
    folders = {
        "eileen_collins": variants(photos["collins"], 8, 1),
        "grace_hopper": variants(photos["hopper"], 8, 2),
        "collins_e": variants(photos["collins"], 5, 3),
    }
    folders["grace_hopper"].append(cv2.resize(folders["eileen_collins"][0], (208, 208), interpolation=cv2.INTER_AREA))
    for folder, shots in folders.items():
        (root / folder).mkdir(parents=True)
        for i, shot in enumerate(shots):
            cv2.imwrite(str(root / folder / f"{i + 1:02d}.jpg"), shot, [cv2.IMWRITE_JPEG_QUALITY, 92])
    rng = np.random.default_rng(0)
    (root / "landscapes").mkdir()
    for i in range(2):
        small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        cv2.imwrite(
            str(root / "landscapes" / f"{i + 1:02d}.png"), cv2.resize(small, (320, 240), interpolation=cv2.INTER_CUBIC)
        )
    return [*folders, "landscapes"]


def flagged_folders(curation_dir: Path) -> set[str]:
    """The identities with any image or folder decision other than keep."""
    import csv

    with open(curation_dir / "curation.csv", newline="") as handle:
        flagged = {row["identity"] for row in csv.DictReader(handle) if row["decision"] != "keep"}
    with open(curation_dir / "identities.csv", newline="") as handle:
        flagged |= {row["identity"] for row in csv.DictReader(handle) if row["decision"] != "keep"}
    return flagged


def curation(work: Path, lfw: Path) -> None:
    """The planted errors among the LFW development set's folders, which give the thresholds the
    data they are made for (hundreds of people). So that the picture shows public-domain faces only,
    the LFW folders that curate flags on their own are left out (a first run finds them), and the
    script refuses a page that flags anything but the planted folders."""
    if not lfw.is_dir():
        raise SystemExit(f"curation.png needs the LFW development set at {lfw} (--lfw DIR or FQE_LFW_DEV)")
    photos = work / "photos"
    photos.mkdir()
    for person in sorted(lfw.iterdir()):
        if person.is_dir():
            (photos / person.name).symlink_to(person.resolve(), target_is_directory=True)
    fqe(work, "curate", "photos", "-o", "lfw-alone", "--no-progress", "--no-page", check=False)
    for name in flagged_folders(work / "lfw-alone"):
        (photos / name).unlink()
    planted = planted_errors(photos)
    fqe(work, "curate", "photos", "-o", "curation", "--no-progress", check=False)
    others = flagged_folders(work / "curation") - set(planted)
    if others:
        raise SystemExit(f"curate flagged LFW folders too ({sorted(others)}): the page would show their faces")
    with chromium_page({"width": 1200, "height": 1300}) as (page, log):
        page.goto((work / "curation" / "review.html").as_uri())
        page.wait_for_load_state("load")
        shot = page.screenshot(full_page=False)
    assert log.unexpected() == [], log.unexpected()
    save_small(shot, "curation.png")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def browser(work: Path) -> None:
    import cv2

    from fqe_onnx.demo import astronaut_bgr

    example = ROOT / "examples" / "browser"
    site = work / "browser-site"
    site.mkdir()
    for name in ("index.html", "app.mjs", "node_modules"):
        (site / name).symlink_to(example / name)
    fqe(work, "bundle", "--pixels", "rgba", "-o", str(site / "bundle.onnx"))
    photo = work / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with chromium_page({"width": 1000, "height": 1250}) as (page, log):
            page.goto(f"{origin}/index.html")
            page.wait_for_function("window.bundleReady === true", timeout=120_000)
            page.set_input_files("#file", str(photo))
            page.wait_for_function("document.querySelector('#result').textContent.includes('Q')", timeout=120_000)
            page.wait_for_timeout(500)
            shot = page.screenshot(full_page=True)
    finally:
        server.shutdown()
    assert log.unexpected(allowed=(origin,)) == [], log.unexpected(allowed=(origin,))
    save_small(shot, "browser.png")


def edc(work: Path, lfw: Path) -> None:
    if not lfw.is_dir():
        raise SystemExit(f"edc.png needs the LFW development set at {lfw} (--lfw DIR or FQE_LFW_DEV)")
    out = work / "evaluation"
    fqe(work, "evaluate", str(lfw), "-o", str(out), "--target-fnmr", "0.01", "--max-discard", "0.05")
    save_small((out / "edc.png").read_bytes(), "edc.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lfw", type=Path, default=Path(os.environ.get("FQE_LFW_DEV", ROOT.parent / "shared" / "data" / "lfw-dev"))
    )
    parser.add_argument("--only", default="report,curation,browser,edc")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fqe-screenshots-"))
    try:
        for name in args.only.split(","):
            if name in ("edc", "curation"):
                {"edc": edc, "curation": curation}[name](work, args.lfw)
            else:
                {"report": report, "browser": browser}[name](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
