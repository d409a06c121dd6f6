"""How each image becomes its model's input: the one place that decides framing.

``align`` is ``auto``, ``always`` or ``never``, and the rule is per image, so an image gets the same
score whatever else is in its folder:

- ``auto`` (the default): an image already at the model's input size (its crop, 112x112 for every
  model we have) is taken as aligned and used as it is (mode ``as-is``); any other image has its
  main face detected and warped onto the model's template (mode ``aligned``).
- ``always``: every image is aligned.
- ``never``: the contract's geometry is applied as it is (mode ``geometry``); for a model with no
  contract that is the seed pipeline exactly.
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..contract import Preprocess
from ..errors import FqeError, ImageError
from ..preprocess import apply_geometry, prepare, prepare_crop
from .template import model_template

ALIGN_MODES = ("auto", "always", "never")
MODE_ALIGNED, MODE_AS_IS, MODE_GEOMETRY = "aligned", "as-is", "geometry"
MODES = (MODE_ALIGNED, MODE_AS_IS, MODE_GEOMETRY)
#: Median landmark offset (model input pixels) above which crops are said not to look aligned.
ALIGNED_TOLERANCE_PX = 8.0


def check_align(align: Union[str, bool]) -> str:
    """An ``align`` value as one of ALIGN_MODES (True and False, the old flag, mean always and never)."""
    if align is True or align is False:
        return "always" if align else "never"
    if align not in ALIGN_MODES:
        raise FqeError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    return align


class Framer:
    """Turns one BGR uint8 image into one model input under the ``align`` rule.

    ``aligner`` (a ``FaceAligner``) does the aligning; when not given, one is built from the pinned
    detector files the first time an image needs it (thread-safe), so a run of crops that are
    already aligned never loads the detector."""

    def __init__(
        self,
        preprocess: Preprocess,
        align: Union[str, bool] = "auto",
        aligner: Any = None,
        device: str = "cpu",
        threads: Optional[int] = None,
    ) -> None:
        self.align = check_align(align)
        self.preprocess = preprocess
        self.size_hw = preprocess.geometry.crop_size
        self.template = model_template(preprocess)
        self.device = device
        self.threads = threads
        self._aligner = aligner
        self._lock = threading.Lock()

    @property
    def aligner(self) -> Any:
        """The FaceAligner, built on first use."""
        if self._aligner is None:
            with self._lock:
                if self._aligner is None:
                    from .aligner import FaceAligner

                    self._aligner = FaceAligner(device=self.device, threads=self.threads)
        return self._aligner

    def mode_for(self, bgr: np.ndarray) -> str:
        """The mode this image gets: decided from the image alone."""
        if self.align == "never":
            return MODE_GEOMETRY
        if self.align == "auto" and bgr.shape[:2] == self.size_hw:
            return MODE_AS_IS
        return MODE_ALIGNED

    def aligned_tensors(self, images: Sequence[np.ndarray]) -> list[Union[np.ndarray, ImageError]]:
        """The model input of each image's main face aligned onto the template, or that image's
        ImageError (``no-face``): one detector call and one landmark call for all the images."""
        return [found if isinstance(found, ImageError) else found[0][1] for found in self.aligned_faces(images)]

    def aligned_faces(
        self, images: Sequence[np.ndarray], all_faces: bool = False
    ) -> list[Union[list[tuple[Any, np.ndarray]], ImageError]]:
        """Per image, (``LocatedFace``, model input) for its main face (or every face, best detector
        score first), or its ImageError (``no-face``): one detector and one landmark call for all."""
        found = self.aligner.faces_batch(images, all_faces=all_faces, template=self.template, size_hw=self.size_hw)
        return [
            faces
            if isinstance(faces, ImageError)
            else [(aligned.face, prepare_crop(aligned.crop, self.preprocess)) for aligned in faces]
            for faces in found
        ]

    def tensor(self, bgr: np.ndarray, mode: str) -> np.ndarray:
        """The model input for an image in ``mode``; raises ImageError (``no-face``) when aligning fails."""
        if mode == MODE_GEOMETRY:
            return prepare(bgr, self.preprocess)
        if mode == MODE_AS_IS:
            return prepare_crop(bgr, self.preprocess)
        (aligned,) = self.aligned_tensors([bgr])
        if isinstance(aligned, ImageError):
            raise aligned
        return aligned


def alignment_offsets(aligner: Any, crops: Sequence[np.ndarray], template: np.ndarray) -> list[float]:
    """Per crop (at the model's input size) with a face found: the median distance, in input pixels,
    between its five points and the template."""
    distances = []
    for crop in crops:
        try:
            (face,) = aligner.locate(crop)
        except ImageError:
            continue
        distances.append(float(np.median(np.linalg.norm(face.points - template, axis=1))))
    return distances


def geometry_warning(images: Sequence[np.ndarray], preprocess: Preprocess, aligner: Any) -> Optional[str]:
    """With ``align never``: a warning when images cut by the geometry do not look aligned to the
    model's template (median offset over ALIGNED_TOLERANCE_PX), else None."""
    if aligner is None:
        return None
    crops = [apply_geometry(image, preprocess.geometry) for image in images]
    offsets = alignment_offsets(aligner, crops, model_template(preprocess))
    if not offsets or float(np.median(offsets)) <= ALIGNED_TOLERANCE_PX:
        return None
    return (
        f"with --align never, the images do not look aligned to the model's face template after its geometry "
        f"(median landmark offset {np.median(offsets):.0f} px over {len(offsets)} images); scores and match "
        "thresholds then mean little: use the default --align auto, or --geometry/--crop to match your framing"
    )


def cached_aligner(device: str = "cpu") -> Any:
    """A FaceAligner if its models are already in the cache (no fetching), else None."""
    from ..zoo import FR_DETECT, FR_LANDMARK, cache_dir

    raw = cache_dir() / "raw"
    if not ((raw / FR_DETECT.file_name).is_file() and (raw / FR_LANDMARK.file_name).is_file()):
        return None
    from .aligner import FaceAligner

    try:
        return FaceAligner(device=device)
    except FqeError:  # a check that cannot run must never stop scoring
        return None


def sample_geometry_warning(paths: Sequence[Any], preprocess: Preprocess, sample: int = 5) -> Optional[str]:
    """``geometry_warning`` on the first few readable images of a run (only when the detector
    models are already cached: a warning never fetches anything)."""
    from ..decode import read_image

    aligner = cached_aligner()
    if aligner is None:
        return None
    images = []
    for path in paths[: sample * 2]:
        try:
            images.append(read_image(path))
        except ImageError:
            continue
        if len(images) == sample:
            break
    return geometry_warning(images, preprocess, aligner)
