"""The scorer: images in, one record per image out, in input order, streaming.

The structure measured fastest on CPU (benchmarks/speed.py): ``threads`` worker threads, one per
core this process may use, each taking a whole chunk of ``batch_size`` images through decoding,
framing, preprocessing and inference, with ONNX Runtime itself on one thread per call (its own
intra-op threading costs more than it gives on this model). The images of a chunk that need
aligning go through the face detector and landmark models together. OpenCV and ONNX Runtime release
the GIL. At most two chunks per thread are in flight, so memory stays bounded. Two error boundaries keep one input from costing
others: anything that goes wrong while one image is read, framed and prepared becomes that image's
error row; an ONNX Runtime failure on a batch retries its images one at a time, so only the images
that really fail get error rows. A model that fails on every image stops the run (ModelError).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import deque
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import count, islice
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import numpy as np

from .align.aligner import face_geometry
from .align.framing import MODE_ALIGNED, Framer
from .contract import Contract
from .decode import MAX_PIXELS, Limits, as_bgr_image, load_file
from .errors import FqeError, ImageError, ModelError
from .quality import norm_to_score
from .records import Record
from .session import EmbeddingModel, ModelSource, available_cores, parse_device
from .sources import ImageSource, find_images

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    """A record, the model's raw output row for it and the model input it came from (None when the
    image failed): for callers that need the embedding or the framed face besides the score."""

    record: Record
    embedding: Optional[np.ndarray]
    tensor: Optional[np.ndarray]


Loader = Callable[[], tuple[np.ndarray, str]]
#: What one item needs: its name, identity and a loader returning (BGR image, format). A fourth
#: element, when present, says whether this item gets the measures (else the scorer's ``measures``).
Item = Union[tuple[str, str, Loader], tuple[str, str, Loader, bool]]


@dataclass(frozen=True)
class Prepared:
    """One image ready for the model (``tensor``) or not (``error``), with what is known of it."""

    tensor: Optional[np.ndarray]
    error: Optional[ImageError]
    mode: str = ""
    format: str = ""
    geometry: Optional[dict[str, Any]] = None  # an aligned face's Record fields (face, box, face_score, eye_distance)
    measures: Optional[dict[str, Any]] = None  # an aligned face's measure cells, when asked for


def _failed(exc: Exception, mode: str, fmt: str) -> Prepared:
    """The error row of an image that could not be prepared: its ImageError, or any other exception
    (a bug or a library failure on this input) as kind ``internal``."""
    if isinstance(exc, ImageError):
        return Prepared(None, exc, mode, fmt or exc.format)
    log.debug("preparing an image failed", exc_info=exc)
    return Prepared(None, ImageError(f"{type(exc).__name__}: {exc}", "internal"), mode, fmt)


def _model_failed(name: str, identity: str, prepared: Prepared, kind: str, message: str) -> Scored:
    """The row of a prepared image or face the model could not score: its geometry and measures kept."""
    record = Record(
        name,
        identity,
        None,
        None,
        prepared.mode,
        prepared.format,
        kind,
        message,
        **(prepared.geometry or {}),
        measures=prepared.measures,
    )
    return Scored(record, None, None)


#: ``faces``: ``main`` scores each image's main face (the biggest; see ``select_main_face``), ``all``
#: every confident face, one record each, in detector-score order.
FACES = ("main", "all")


def _measure_cells(image: np.ndarray, face: Any) -> Optional[dict[str, Any]]:
    """The measure cells of one located face; None (empty cells, a warning) if computing them fails,
    so that the face keeps its score."""
    from .measures.compute import measure_face

    try:
        return measure_face(image, face.landmarks, [d.box for d in face.detections]).columns()
    except Exception as exc:  # a bug or an odd input must not cost the face its score
        log.warning("the measures of a face failed (its measure cells are empty): %s: %s", type(exc).__name__, exc)
        return None


def _each_alone(call: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``call(item)`` for each item on its own, or the exception it raised: after a batched call
    failed, this finds the items at fault."""
    results: list[Any] = []
    for item in items:
        try:
            results.append(call(item))
        except Exception as exc:  # onnxruntime and OpenCV raise their own types
            results.append(exc)
    return results


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _named(images: Iterable[np.ndarray], names: Optional[Iterable[str]]) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image) pairs; FqeError when ``names`` runs out before ``images``."""
    names_iter = iter(names) if names is not None else map(str, count())
    for position, image in enumerate(images):
        name = next(names_iter, None)
        if name is None:
            raise FqeError(f"score_arrays: image {position} has no name (fewer names than images)")
        yield name, image


class Scorer:
    """Build once from a model (a file, a zoo name, the model's bytes, or None for the default zoo
    model), then score paths, arrays or folders.

    ``align`` (``auto``, ``always`` or ``never``; see ``fqe_onnx.align.framing``) says how each
    image is framed: by default a face already at the model's input size is used as it is and any
    other image has its main face aligned onto the model's template. ``aligner`` replaces the
    default ``FaceAligner``. ``overrides`` are keyword arguments of
    ``fqe_onnx.contract.with_overrides`` (e.g. ``geometry="ofiq"``, ``channel_order="RGB"``,
    ``calibration={"x0": 23, "w": 2.6}``). ``threads`` worker threads (default: the cores this
    process may use; 0 or 1: all in the calling thread) each score whole chunks of ``batch_size``
    images (default 4 on the CPU, 32 on CUDA). ``max_pixels`` refuses larger images from their header.
    ``precision="fp16"`` converts the model to half precision as it loads (for CUDA; inputs and
    outputs stay float32); ``io_binding`` binds each batch's input and output instead of passing
    arrays (it spares staging copies on a GPU). ``faces="all"`` gives one record per confident face
    of each aligned image (key: path and ``face``) instead of its main face; an image without a
    face is still one ``no-face`` record. ``measures=True`` adds the ISO/IEC 29794-5 component
    measures (``fqe_onnx.measures``) to every aligned face's record; it costs nothing when off.
    After ``close()`` the scorer refuses to score.
    """

    def __init__(
        self,
        model: Optional[ModelSource] = None,
        *,
        device: str = "auto",
        batch_size: Optional[int] = None,
        threads: Optional[int] = None,
        align: Union[str, bool] = "auto",
        aligner: Any = None,
        max_pixels: int = MAX_PIXELS,
        precision: str = "fp32",
        io_binding: bool = False,
        faces: str = "main",
        measures: bool = False,
        **overrides: Any,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise FqeError(f"batch size must be at least 1, got {batch_size}")
        if threads is not None and threads < 0:
            raise FqeError(f"threads must be 0 or more, got {threads}")
        if max_pixels < 1:
            raise FqeError(f"max_pixels must be at least 1, got {max_pixels}")
        if faces not in FACES:
            raise FqeError(f"faces must be one of {', '.join(FACES)}, got {faces!r}")
        self.faces = faces
        self.measures = bool(measures)
        from .zoo import resolve_model

        parse_device(device)  # a bad device name fails before anything is loaded
        source = model if isinstance(model, bytes) else resolve_model(model)
        self.threads = available_cores() if threads is None else threads
        self.model = EmbeddingModel(
            source, device=device, overrides=overrides, threads=1, precision=precision, io_binding=io_binding
        )
        # the small fixed-shape detector and landmark models run faster on ONNX Runtime's CPU provider
        # than on OpenVINO in this structure (benchmarks/speed.py): they stay there
        detector_device = "cpu" if self.model.provider == "OpenVINO" else device
        self.framer = Framer(self.model.contract.preprocess, align, aligner=aligner, device=detector_device, threads=1)
        self.limits = Limits(max_pixels=max_pixels)
        on_gpu = self.model.provider != "CPUExecutionProvider"
        self.batch_size = batch_size or (32 if on_gpu else 4)
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._closed = threading.Event()
        self._model_worked = False  # whether any image has gone through the model
        self._one_at_a_time = False  # set when a batch failed but its images alone did not

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
        """Stop scoring: iterations in progress end with an FqeError at their next batch."""
        self._closed.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "Scorer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise FqeError("this Scorer is closed; build a new one")

    # -- per image: read, frame, prepare; anything that goes wrong is this image's error ------------

    def _prepare_chunk(
        self, loads: list[Callable[[], tuple[np.ndarray, str]]], measured: Optional[list[bool]] = None
    ) -> list[list[Prepared]]:
        """Read and frame a chunk's images: per image, one Prepared per face to score (one for the
        main face, an error, or an image not aligned). Those to align go through the aligner
        together (one detector call and one landmark call); the others are prepared one by one.
        Aligned faces of the images ``measured`` flags get their measure cells."""
        ready: list[Optional[list[Prepared]]] = []
        to_align: list[tuple[int, np.ndarray, str]] = []  # (position in the chunk, image, format)
        for position, load in enumerate(loads):
            mode = fmt = ""
            try:
                image, fmt = load()
                mode = self.framer.mode_for(image)
                if mode == MODE_ALIGNED:
                    to_align.append((position, image, fmt))
                    ready.append(None)
                else:
                    ready.append([Prepared(self.framer.tensor(image, mode), None, mode, fmt)])
            except Exception as exc:
                ready.append([_failed(exc, mode, fmt)])
        if to_align:
            aligned = self._align([image for _, image, _ in to_align])
            for (position, image, fmt), result in zip(to_align, aligned):
                wanted = measured[position] if measured is not None else self.measures
                ready[position] = (
                    [_failed(result, MODE_ALIGNED, fmt)]
                    if isinstance(result, Exception)
                    else [
                        Prepared(
                            tensor,
                            None,
                            MODE_ALIGNED,
                            fmt,
                            face_geometry(face),
                            _measure_cells(image, face) if wanted else None,
                        )
                        for face, tensor in result
                    ]
                )
        return ready  # type: ignore[return-value]  # every position is filled by now

    def _align(self, images: list[np.ndarray]) -> list[Union[list[tuple[Any, np.ndarray]], Exception]]:
        """(located face, model input) of the images' faces to score, or each image's exception. When
        the batched call fails, the images are retried one at a time so that only the one at fault
        gets an error."""
        all_faces = self.faces == "all"
        try:
            return list(self.framer.aligned_faces(images, all_faces))
        except Exception as exc:
            if len(images) == 1:
                return [exc]
            log.debug("aligning a batch of %d failed (%s); retrying one image at a time", len(images), exc)
        return _each_alone(lambda image: self.framer.aligned_faces([image], all_faces)[0], images)

    def _score(self, items: Iterable[Item]) -> Iterator[Scored]:
        self._check_open()
        pool = self._pool
        if pool is None:
            for chunk in _chunks(items, self.batch_size):
                self._check_open()
                yield from self._score_chunk(chunk)
            return
        pending: deque[Future] = deque()
        for chunk in _chunks(items, self.batch_size):
            self._check_open()
            try:
                pending.append(pool.submit(self._score_chunk, chunk))
            except RuntimeError:  # shut down by close() in another thread
                raise FqeError("this Scorer was closed while scoring") from None
            if len(pending) >= 2 * self.threads:
                yield from self._result(pending.popleft())
        while pending:
            yield from self._result(pending.popleft())

    def _result(self, future: Future) -> list[Scored]:
        try:
            return future.result()
        except CancelledError:  # close() in another thread cancelled what was queued
            raise FqeError("this Scorer was closed while scoring") from None

    def _score_chunk(self, chunk: list[Item]) -> list[Scored]:
        """One chunk, start to end, in one thread: read and frame each image, then one runtime call."""
        measured = [bool(item[3]) if len(item) > 3 else self.measures for item in chunk]
        return list(self._infer(chunk, self._prepare_chunk([item[2] for item in chunk], measured)))

    # -- per batch: one runtime call, retried one image at a time when it fails ----------------------

    def _run(self, tensors: list[np.ndarray]) -> list[Union[np.ndarray, Exception]]:
        """Model output rows for the tensors, or the exception for each that failed on its own."""
        if not self._one_at_a_time or len(tensors) == 1:
            try:
                outputs = self.model.run(np.stack(tensors))
                self._model_worked = True
                return list(outputs)
            except Exception as exc:  # onnxruntime raises its own types; ModelError for bad shapes
                if len(tensors) == 1:
                    return self._single_failed([exc])
                log.debug("a batch of %d failed (%s); retrying one image at a time", len(tensors), exc)
        results = _each_alone(lambda tensor: self.model.run(tensor[None])[0], tensors)
        worked = [r for r in results if isinstance(r, np.ndarray)]
        if len(worked) == len(results) and not self._one_at_a_time:  # the batch failed, none of its images did
            self._one_at_a_time = True
            log.warning(
                "the model fails on batches but not on single images (a batch axis declared dynamic "
                "but fixed inside the graph?): running one image at a time from now on"
            )
        self._model_worked = self._model_worked or bool(worked)
        return results if worked else self._single_failed([r for r in results if isinstance(r, Exception)], results)

    def _single_failed(self, errors: list[Exception], results: Optional[list[Any]] = None) -> list[Any]:
        """Images that failed alone: error rows, unless the model has never worked (then it is the model)."""
        if not self._model_worked:
            raise ModelError(
                f"the model fails on every image so far: {type(errors[0]).__name__}: {errors[0]}"
            ) from errors[0]
        return results if results is not None else list(errors)

    def _infer(self, chunk: list[Item], prepared: list[list[Prepared]]) -> Iterator[Scored]:
        """The chunk's records: one per image, or per face with ``faces="all"``, in input order."""
        rows = [(item[0], item[1], p) for item, faces in zip(chunk, prepared) for p in faces]
        good = [i for i, (_, _, p) in enumerate(rows) if p.tensor is not None]
        outputs = dict(zip(good, self._run([rows[i][2].tensor for i in good]))) if good else {}  # type: ignore[misc]  # good: rows with a tensor
        calibration = self.contract.calibration
        for i, (name, identity, p) in enumerate(rows):
            if p.error is not None:
                yield Scored(
                    Record(name, identity, None, None, p.mode, p.format, p.error.kind, str(p.error)), None, None
                )
                continue
            output = outputs[i]
            if isinstance(output, Exception):
                message = f"ONNX Runtime failed on this image: {type(output).__name__}: {output}"
                yield _model_failed(name, identity, p, "model-error", message)
                continue
            q = float(self.model.norms_of(output[None])[0])
            if not math.isfinite(q):
                yield _model_failed(name, identity, p, "bad-output", f"non-finite model output (q = {q})")
            else:
                yield Scored(
                    Record(
                        name,
                        identity,
                        q,
                        norm_to_score(q, calibration),
                        p.mode,
                        p.format,
                        **(p.geometry or {}),
                        measures=p.measures,
                    ),
                    output,
                    p.tensor,
                )

    # -- public entry points -------------------------------------------------------------------------

    def _source_item(self, source: ImageSource) -> Item:
        if source.error is not None:
            error = source.error

            def fail() -> tuple[np.ndarray, str]:
                raise error

            return source.name, source.identity, fail
        return source.name, source.identity, lambda: load_file(source.path, self.limits)

    def embed_sources(self, sources: Iterable[ImageSource]) -> Iterator[Scored]:
        """One ``Scored`` (record, embedding, model input) per source, in order: for callers that need
        the embedding itself (verification, evaluation) besides its norm."""
        return self._score(self._source_item(s) for s in sources)

    def score_sources(self, sources: Iterable[ImageSource]) -> Iterator[Record]:
        """Score ImageSources (from ``find_images``/``read_list``), yielding records in order."""
        return (scored.record for scored in self.embed_sources(sources))

    def score_items(self, items: Iterable[Item]) -> Iterator[Record]:
        """Score (name, identity, loader) items, where ``loader()`` returns (BGR uint8 image, format)
        or raises ImageError: for images that come from elsewhere than local files (object storage)."""
        return (scored.record for scored in self._score(items))

    def embed_items(self, items: Iterable[Item]) -> Iterator[Scored]:
        """``score_items`` with the embedding and model input of each image (``Scored``): for the
        HTTP service, whose uploads are bytes in memory, and for curation."""
        return self._score(items)

    def score_paths(self, paths: Iterable[Union[str, "os.PathLike[str]"]]) -> Iterator[Record]:
        """Score image files, yielding one record per path, in order (``path`` as given)."""
        items = ((str(p), "", lambda p=p: load_file(p, self.limits)) for p in paths)
        return (scored.record for scored in self._score(items))

    def score_arrays(self, images: Iterable[np.ndarray], names: Optional[Iterable[str]] = None) -> Iterator[Record]:
        """Score in-memory BGR uint8 images (HxWx3, or HxW grey); records are named by ``names``
        (at least one per image) or by their index."""
        items = ((name, "", lambda a=a: (as_bgr_image(a, self.limits), "")) for name, a in _named(images, names))
        return (scored.record for scored in self._score(items))

    def score_array(self, image: np.ndarray) -> Record:
        """Score one in-memory BGR uint8 image (with ``faces="all"``: its first face's record; use
        ``score_arrays`` for every face)."""
        return next(self.score_arrays([image]))

    def score_folder(self, root: Union[str, "os.PathLike[str]"]) -> Iterator[Record]:
        """Score every image under ``root`` (see ``find_images``)."""
        return self.score_sources(find_images(root))
