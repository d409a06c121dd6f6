"""The scorer: images in, one record per image out, in input order, streaming.

Decoding, framing and preprocessing run in a small thread pool one batch ahead of inference
(OpenCV and ONNX Runtime both release the GIL). A bad image becomes a record with an error kind;
the batch goes on.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import count, islice
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import numpy as np

from .align.framing import Framer
from .contract import Contract
from .decode import as_bgr_image, read_image
from .errors import FqeError, ImageError
from .quality import norm_to_score
from .records import Record
from .session import EmbeddingModel, ModelSource
from .sources import ImageSource, find_images


#: A record and the model's raw output row for it (None when the image failed).
Scored = tuple[Record, Optional[np.ndarray]]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Scorer:
    """Build once from a model (a file, a zoo name, the model's bytes, or None for the default zoo
    model), then score paths, arrays or folders.

    ``align`` (``auto``, ``always`` or ``never``; see ``fqe_onnx.align.framing``) says how each
    image is framed: by default a face already at the model's input size is used as it is and any
    other image has its main face aligned onto the model's template. ``aligner`` replaces the
    default ``FaceAligner``. ``overrides`` are keyword arguments of
    ``fqe_onnx.contract.with_overrides`` (e.g. ``geometry="ofiq"``, ``channel_order="RGB"``,
    ``calibration={"x0": 23, "w": 2.6}``). ``workers`` threads decode and frame ahead of inference
    (0: all in the calling thread).
    """

    def __init__(
        self,
        model: Optional[ModelSource] = None,
        *,
        device: str = "auto",
        batch_size: int = 32,
        workers: Optional[int] = None,
        align: Union[str, bool] = "auto",
        aligner: Any = None,
        **overrides: Any,
    ) -> None:
        if batch_size < 1:
            raise FqeError(f"batch size must be at least 1, got {batch_size}")
        from .zoo import resolve_model

        source = model if isinstance(model, bytes) else resolve_model(model)
        self.model = EmbeddingModel(source, device=device, overrides=overrides)
        self.framer = Framer(self.model.contract.preprocess, align, aligner=aligner, device=device)
        self.batch_size = batch_size
        self.workers = min(4, os.cpu_count() or 1) if workers is None else workers
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 0 else None

    @property
    def contract(self) -> Contract:
        return self.model.contract

    @property
    def align(self) -> str:
        """How images are framed: auto, always or never."""
        return self.framer.align

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

    def _prepare(self, load: Callable[[], np.ndarray]) -> tuple[Union[np.ndarray, ImageError], str]:
        """(model input, mode), or (the error, mode so far) for an image that cannot be used."""
        mode = ""
        try:
            image = load()
            mode = self.framer.mode_for(image)
            return self.framer.tensor(image, mode), mode
        except ImageError as exc:
            return exc, mode

    def _score(self, items: Iterable[tuple[str, str, Callable[[], np.ndarray]]]) -> Iterator[Scored]:
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

    def _infer(self, chunk: list[tuple[str, str, Any]], prepared: list[Any]) -> Iterator[Scored]:
        results = [p.result() if isinstance(p, Future) else p for p in prepared]
        tensors = [tensor for tensor, _ in results]
        modes = [mode for _, mode in results]
        good = [i for i, t in enumerate(tensors) if isinstance(t, np.ndarray)]
        outputs = self.model.run(np.stack([tensors[i] for i in good])) if good else np.empty((0, 1))
        row_of = {index: row for row, index in enumerate(good)}
        norms = self.model.norms_of(outputs).tolist()
        calibration = self.contract.calibration
        for i, (name, identity, _) in enumerate(chunk):
            if i not in row_of:
                error = tensors[i]
                yield Record(name, identity, None, None, modes[i], error.kind, str(error)), None
                continue
            q = norms[row_of[i]]
            if not math.isfinite(q):
                yield Record(name, identity, None, None, modes[i], "bad-output", f"non-finite model output (q = {q})"), None
            else:
                yield Record(name, identity, q, norm_to_score(q, calibration), modes[i]), outputs[row_of[i]]

    # -- public entry points -------------------------------------------------------------------------

    def embed_sources(self, sources: Iterable[ImageSource]) -> Iterator[Scored]:
        """(record, the model's raw output row, or None on failure) per source, in order: for callers
        that need the embedding itself (verification, evaluation) besides its norm."""
        return self._score((s.name, s.identity, lambda s=s: read_image(s.path)) for s in sources)

    def score_sources(self, sources: Iterable[ImageSource]) -> Iterator[Record]:
        """Score ImageSources (from ``find_images``/``read_list``), yielding records in order."""
        return (record for record, _ in self.embed_sources(sources))

    def score_paths(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record]:
        """Score image files, yielding one record per path, in order (``path`` as given)."""
        return (record for record, _ in self._score((str(p), "", lambda p=p: read_image(p)) for p in paths))

    def score_arrays(
        self, images: Iterable[np.ndarray], names: Optional[Iterable[str]] = None
    ) -> Iterator[Record]:
        """Score in-memory BGR uint8 images (HxWx3, or HxW grey); records are named by ``names``
        or by their index."""
        names_iter = iter(names) if names is not None else map(str, count())
        return (record for record, _ in self._score((next(names_iter), "", lambda a=a: as_bgr_image(a)) for a in images))

    def score_array(self, image: np.ndarray) -> Record:
        """Score one in-memory BGR uint8 image."""
        return next(self.score_arrays([image]))

    def score_folder(self, root: str | os.PathLike[str]) -> Iterator[Record]:
        """Score every image under ``root`` (see ``find_images``)."""
        return self.score_sources(find_images(root))
