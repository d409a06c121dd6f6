"""Scoring 10M to 1B images on Ray Data, with the same rows a single machine gives.

    from fqe_onnx.ray import score_dataset
    score_dataset("s3://bucket/faces/", "s3://bucket/scores.parquet", model="faceplugin-mobilefacenet")

- ``ScoreImages`` is the ``map_batches`` callable class: each actor builds its own Scorer (ONNX
  Runtime sessions cannot be pickled), on the actor's CPUs (runtime and OpenCV threads set to them),
  and scores each batch of paths with the same per-image code as ``fqe-onnx score``: our decoder and
  framing, one error row per bad file with the same error kinds, nothing dropped.
- Inputs: a folder, a list file, or a URI that pyarrow's filesystems read (``s3://``, ``gs://``,
  local paths); rows are named relative to the folder (or as listed), as ``score`` names them.
- Output: a folder of Parquet part files with the fixed schema of ``fqe_onnx.table`` (engine-facing
  column names) and the contract's hash in every file's metadata.
- Resume: a rerun skips the paths already in the destination's readable part files; a part file
  that cannot be read (a killed driver's last write) is deleted first, so no row is lost or doubled.
  Ray retries a batch whose actor died (``max_restarts``, ``max_task_retries``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .errors import FqeError, ImageError
from .sources import IMAGE_EXTENSIONS, is_image_name, printable

#: Rows each actor scores per call (one Ray batch; the Scorer splits it into its own batches).
RAY_BATCH = 64


def import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise FqeError("the Ray engine needs Ray Data: pip install 'ray[data]' (the ray extra)") from None
    return ray


def _filesystem(uri: str) -> tuple[Any, str]:
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(uri)
    except (ValueError, OSError):  # a plain local path
        return fs.LocalFileSystem(), os.path.abspath(uri)


@dataclass(frozen=True)
class Input:
    path: str  # as the filesystem reads it
    name: str  # relative to the source root, as `score` names it
    identity: str


def list_inputs(
    source: str, from_list: Optional[str] = None, extensions: tuple[str, ...] = IMAGE_EXTENSIONS
) -> tuple[str, list[Input]]:
    """(the source's filesystem URI root, its images in sorted order: files with one of ``extensions``)."""
    filesystem, root = _filesystem(source)
    if from_list is not None:
        with open(from_list, encoding="utf-8", errors="surrogateescape") as handle:
            names = [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
    else:
        from pyarrow import fs

        info = filesystem.get_file_info(root)
        if info.type == fs.FileType.NotFound:
            raise FqeError(f"no such file or folder: {source}")
        if info.type == fs.FileType.File:
            return source, [Input(root, printable(os.path.basename(root)), "")]
        found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
        names = sorted(
            f.path[len(root) :].lstrip("/")
            for f in found
            if f.type == fs.FileType.File and is_image_name(f.path, extensions)
        )
    inputs = []
    for name in names:
        parts = name.split("/")
        inputs.append(
            Input(f"{root.rstrip('/')}/{name}", printable(name), printable(parts[0]) if len(parts) > 1 else "")
        )
    return source, inputs


class ScoreImages:
    """The ``map_batches`` callable: a Scorer per actor, built in the actor; batches of paths in,
    rows of the fixed schema out."""

    def __init__(
        self,
        source: str,
        model: Optional[str] = None,
        device: str = "cpu",
        align: str = "auto",
        threads: int = 1,
        max_pixels: int = 50_000_000,
        overrides: Optional[dict] = None,
        settings: Optional[dict] = None,
        faces: str = "main",
    ) -> None:
        import cv2
        from pyarrow import fs

        from .scorer import Scorer
        from .table import run_metadata

        cv2.setNumThreads(threads)
        self.filesystem, _ = _filesystem(source)
        self.local = isinstance(self.filesystem, fs.LocalFileSystem)
        self.scorer = Scorer(
            model, device=device, align=align, threads=threads, max_pixels=max_pixels, faces=faces, **(overrides or {})
        )
        self.metadata = run_metadata(self.scorer.contract, settings or {})

    def _load(self, path: str) -> tuple[np.ndarray, str]:
        """Local files through our own safe reader (no FIFO hangs); others through pyarrow, capped."""
        from .decode import MAX_BYTES, decode_image, load_file

        if self.local:
            return load_file(path, self.scorer.limits)
        try:
            with self.filesystem.open_input_stream(path) as stream:
                data = stream.read(MAX_BYTES + 1)
        except (OSError, ValueError) as exc:
            raise ImageError(f"cannot read file: {exc}", "unreadable") from exc
        if len(data) > MAX_BYTES:
            raise ImageError(f"file is over the limit of {MAX_BYTES / 2**20:g} MiB", "too-large")
        return decode_image(data, self.scorer.limits)

    def __call__(self, batch: dict[str, np.ndarray]) -> Any:
        from .table import records_table

        items = [
            (str(name), str(identity), lambda p=str(path): self._load(p))
            for path, name, identity in zip(batch["source_path"], batch["path"], batch["identity"])
        ]
        return records_table(self.scorer.score_items(items), self.metadata)


def done_paths(destination: str) -> set[str]:
    """Paths already in the destination's part files; unreadable part files are deleted."""
    import pyarrow.parquet as pq
    from pyarrow import fs

    filesystem, root = _filesystem(destination)
    if filesystem.get_file_info(root).type == fs.FileType.NotFound:
        return set()
    done: set[str] = set()
    for info in filesystem.get_file_info(fs.FileSelector(root, recursive=True)):
        if info.type != fs.FileType.File or not info.path.endswith(".parquet"):
            continue
        try:
            done.update(pq.read_table(info.path, columns=["path"], filesystem=filesystem).column("path").to_pylist())
        except (OSError, ValueError):  # torn by a killed driver: its rows are scored again
            filesystem.delete_file(info.path)
    return done


def score_dataset(
    source: str,
    destination: str,
    *,
    model: Optional[str] = None,
    device: str = "cpu",
    align: str = "auto",
    from_list: Optional[str] = None,
    actors: Optional[int] = None,
    cpus_per_actor: float = 1,
    batch_size: int = RAY_BATCH,
    max_pixels: int = 50_000_000,
    address: Optional[str] = None,
    udf: type = ScoreImages,
    extensions: Optional[tuple[str, ...]] = None,
    faces: str = "main",
    **overrides: Any,
) -> dict[str, int]:
    """Score every image of ``source`` into Parquet part files under ``destination`` on Ray Data,
    skipping the paths already there; returns counts (inputs, already done, scored now).
    ``extensions`` (default ``IMAGE_EXTENSIONS``) and ``faces`` (main or all) as for ``score``.

    Without ``address`` a local Ray is started on this machine's cores, bound to loopback. ``udf``
    is the map_batches class (``ScoreImages`` or a subclass of it)."""
    ray = import_ray()
    _, inputs = list_inputs(source, from_list, extensions or IMAGE_EXTENSIONS)
    done = done_paths(destination)
    todo = [i for i in inputs if i.name not in done]
    counts = {"inputs": len(inputs), "already": len(inputs) - len(todo), "scored": len(todo)}
    if not todo:
        return counts
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    # leave a CPU for reading and writing blocks: two 1-CPU actors on 2 cores starve the rest and hang
    actors = actors or max(1, int((cpus - 1) // cpus_per_actor))
    settings = {
        "model": model or "default",
        "align": align,
        "max_pixels": max_pixels,
        "faces": faces,
        "overrides": json.loads(json.dumps(overrides, default=list)),
    }
    dataset = ray.data.from_items([{"source_path": i.path, "path": i.name, "identity": i.identity} for i in todo])
    scored = dataset.map_batches(
        udf,
        batch_size=batch_size,
        concurrency=actors,
        num_cpus=cpus_per_actor,
        batch_format="numpy",
        fn_constructor_kwargs={
            "source": source,
            "model": model,
            "device": device,
            "align": align,
            "threads": max(1, int(cpus_per_actor)),
            "max_pixels": max_pixels,
            "overrides": overrides,
            "settings": settings,
            "faces": faces,
        },
        max_restarts=-1,
        max_task_retries=-1,
    )
    scored.write_parquet(destination)
    return counts


def count_errors(destination: str) -> tuple[int, int]:
    """(rows, error rows) in the destination's part files."""
    import pyarrow.parquet as pq

    filesystem, root = _filesystem(destination)
    table = pq.read_table(root, columns=["error_kind"], filesystem=filesystem)
    kinds = table.column("error_kind").to_pylist()
    return len(kinds), sum(1 for k in kinds if k)
