"""The scorer: images in, one record per image out, in input order, streaming.

Decoding and preprocessing run in a small thread pool one batch ahead of inference (OpenCV and
ONNX Runtime both release the GIL). A bad image becomes a record with an error; the batch goes on.
"""

from __future__ import annotations

import math
import os
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from itertools import count, islice
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np

from .contract import Contract
from .decode import as_bgr_image, read_image
from .errors import FqeError, ImageError
from .preprocess import prepare
from .quality import collapse_share, norm_to_score
from .session import EmbeddingModel, ModelSource
from .sources import ImageSource, find_images, read_list

COLUMNS = ("path", "identity", "q", "Q", "error")
ALIGN_COLUMNS = COLUMNS + ("mode",)
#: Share of identical scores above which a run is said to have collapsed.
COLLAPSE_SHARE = 0.95
COLLAPSE_MIN_IMAGES = 20


@dataclass(frozen=True)
class Record:
    """One scored image: raw norm ``q`` and score ``Q`` (None with a non-empty ``error`` on failure)."""

    path: str
    identity: str
    q: Optional[float]
    Q: Optional[int]
    error: str = ""
    mode: str = ""  # with an aligner: "aligned" or "passthrough"

    @property
    def ok(self) -> bool:
        return not self.error

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def collapse_message(scores: Sequence[int]) -> Optional[str]:
    """A warning text when at least 95% of a run's scores are identical (20 images or more)."""
    if len(scores) < COLLAPSE_MIN_IMAGES:
        return None
    share, value = collapse_share(list(scores))
    if share < COLLAPSE_SHARE:
        return None
    return (
        f"scores collapsed: {share:.0%} of {len(scores)} images got Q={value}; the model's norms lie "
        "outside the calibration's useful range. Compare the q column, or fit a calibration with "
        "'fqe-onnx calibrate REFERENCE_FOLDER --model MODEL -o CALIBRATED.onnx'"
    )


class Scorer:
    """Build once from a model (a file, a zoo name, the model's bytes, or None for the default zoo
    model), then score paths, arrays or folders.

    ``overrides`` are keyword arguments of ``fqe_onnx.contract.with_overrides`` (e.g.
    ``geometry="ofiq"``, ``channel_order="RGB"``, ``calibration={"x0": 23, "w": 2.6}``).
    ``workers`` threads decode and preprocess ahead of inference (0: all in the calling thread).
    With an ``aligner`` (``fqe_onnx.aligner.FaceAligner``) every image is first reduced to its main
    face warped onto the 112x112 template, and scored with the ``aligned112`` geometry.
    """

    def __init__(
        self,
        model: Optional[ModelSource] = None,
        *,
        device: str = "auto",
        batch_size: int = 32,
        workers: Optional[int] = None,
        aligner: Any = None,
        **overrides: Any,
    ) -> None:
        if batch_size < 1:
            raise FqeError(f"batch size must be at least 1, got {batch_size}")
        if aligner is not None:
            given = [name for name in ("geometry", "resize", "crop") if overrides.get(name) is not None]
            if given:
                raise FqeError(f"aligned faces are scored as 112x112 crops: {', '.join(given)} does not apply with alignment")
            overrides = {**overrides, "geometry": "aligned112"}
        from .zoo import resolve_model

        self.aligner = aligner
        source = model if isinstance(model, bytes) else resolve_model(model)
        self.model = EmbeddingModel(source, device=device, overrides=overrides)
        self.batch_size = batch_size
        self.workers = min(4, os.cpu_count() or 1) if workers is None else workers
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 0 else None

    @property
    def contract(self) -> Contract:
        return self.model.contract

    @property
    def provider(self) -> str:
        """The ONNX Runtime execution provider that runs the model."""
        return self.model.provider

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "Scorer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the core loop: prepare ahead, infer per batch, one record per item, in order --------------

    def _prepare(self, load: Callable[[], np.ndarray]) -> tuple[np.ndarray | str, str]:
        """(model input, mode), or (error text, mode) for an image that cannot be used."""
        mode = ""
        try:
            image = load()
            if self.aligner is not None:
                image, mode = self.aligner.main_face_crop(image)
            return prepare(image, self.contract.preprocess), mode
        except ImageError as exc:
            return str(exc), mode
        except cv2.error as exc:
            return f"OpenCV error: {exc.err}", mode

    def _score(self, items: Iterable[tuple[str, str, Callable[[], np.ndarray]]]) -> Iterator[Record]:
        pending: Optional[tuple[list[Any], list[Any]]] = None
        for chunk in _chunks(items, self.batch_size):
            loads = [load for _, _, load in chunk]
            if self._pool is not None:
                prepared: list[Any] = [self._pool.submit(self._prepare, load) for load in loads]
            else:
                prepared = [self._prepare(load) for load in loads]
            if pending is not None:
                yield from self._infer(*pending)
            pending = (chunk, prepared)
        if pending is not None:
            yield from self._infer(*pending)

    def _infer(self, chunk: list[tuple[str, str, Any]], prepared: list[Any]) -> Iterator[Record]:
        results = [p.result() if isinstance(p, Future) else p for p in prepared]
        tensors = [tensor for tensor, _ in results]
        modes = [mode for _, mode in results]
        good = [i for i, t in enumerate(tensors) if isinstance(t, np.ndarray)]
        norms = self.model.norms(np.stack([tensors[i] for i in good])) if good else np.empty(0)
        q_by_index = dict(zip(good, norms.tolist()))
        calibration = self.contract.calibration
        for i, (name, identity, _) in enumerate(chunk):
            if i not in q_by_index:
                yield Record(name, identity, None, None, tensors[i], modes[i])
                continue
            q = q_by_index[i]
            if not math.isfinite(q):
                yield Record(name, identity, None, None, f"non-finite model output (q = {q})", modes[i])
            else:
                yield Record(name, identity, q, norm_to_score(q, calibration), "", modes[i])

    # -- public entry points -------------------------------------------------------------------------

    def score_sources(self, sources: Iterable[ImageSource]) -> Iterator[Record]:
        """Score ImageSources (from ``find_images``/``read_list``), yielding records in order."""
        return self._score((s.name, s.identity, lambda s=s: read_image(s.path)) for s in sources)

    def score_paths(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record]:
        """Score image files, yielding one record per path, in order (``path`` as given)."""
        return self._score((str(p), "", lambda p=p: read_image(p)) for p in paths)

    def score_arrays(
        self, images: Iterable[np.ndarray], names: Optional[Iterable[str]] = None
    ) -> Iterator[Record]:
        """Score in-memory BGR uint8 images (HxWx3, or HxW grey); records are named by ``names``
        or by their index."""
        names_iter = iter(names) if names is not None else map(str, count())
        return self._score((next(names_iter), "", lambda a=a: as_bgr_image(a)) for a in images)

    def score_array(self, image: np.ndarray) -> Record:
        """Score one in-memory BGR uint8 image."""
        return next(self.score_arrays([image]))

    def score_folder(self, root: str | os.PathLike[str]) -> Iterator[Record]:
        """Score every image under ``root`` (see ``find_images``)."""
        return self.score_sources(find_images(root))


def run(
    image_root: str | os.PathLike[str],
    model: Optional[ModelSource] = None,
    device: str = "auto",
    batch_size: int = 32,
    from_list: str | os.PathLike[str] | None = None,
    align: bool = False,
    **overrides: Any,
) -> Any:
    """Score a folder (or one image, or a list file) and return a pandas DataFrame with columns
    ``path, identity, q, Q, error`` (and ``mode`` when ``align``: faces found and aligned first).
    ``model`` is a file, a zoo name, or None for the default model. Needs the ``pandas`` extra."""
    try:
        import pandas as pd
    except ImportError:
        raise FqeError("fqe_onnx.run returns a pandas DataFrame: pip install pandas (the pandas extra)") from None
    sources = read_list(from_list, image_root) if from_list is not None else find_images(image_root)
    from .aligner import optional_aligner

    with Scorer(model, device=device, batch_size=batch_size, aligner=optional_aligner(align, device),
                **overrides) as scorer:
        records = [r.as_dict() for r in scorer.score_sources(sources)]
    frame = pd.DataFrame.from_records(records, columns=list(ALIGN_COLUMNS if align else COLUMNS))
    frame["Q"] = frame["Q"].astype("Int64")
    message = collapse_message([r["Q"] for r in records if r["Q"] is not None])
    if message:
        warnings.warn(message, stacklevel=2)
    return frame
