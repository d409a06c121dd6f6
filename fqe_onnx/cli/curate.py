"""``fqe-onnx curate``: the command over ``fqe_onnx.curation`` (embed once, search, decide, write)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Optional

import click

from .options import (
    UsageOrModelError,
    align_option,
    contract_options,
    device_option,
    fail,
    model_option,
    output_folder_option,
)
from ..errors import FqeError

STORE_NAME = "embeddings.npy"


def embed_into_store(
    root: str,
    out: Path,
    model: Optional[str],
    device: str,
    batch_size: Optional[int],
    align: str,
    max_pixels: int,
    overrides: dict[str, Any],
    progress: bool,
) -> Path:
    """Embed every image under ROOT once, into OUT/embeddings.npy (+ index); returns its path."""
    from ..scorer import Scorer
    from ..sources import find_images
    from ..curation.store import StoreWriter

    sources = find_images(root)
    if not sources:
        raise FqeError(f"no images in {root}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / STORE_NAME
    scorer = Scorer(model, device=device, batch_size=batch_size, align=align, max_pixels=max_pixels, **overrides)
    click.echo(f"embedding {len(sources)} images on {scorer.provider}, --align {align}", err=True)
    bar = click.progressbar(length=len(sources), file=sys.stderr, label="embedding") if progress else None
    with scorer, bar or contextlib.nullcontext(), StoreWriter(path, len(sources)) as writer:
        for _ in writer.tee(scorer.embed_sources(sources)):
            if bar is not None:
                bar.update(1)
    return path


@click.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@output_folder_option(
    "Folder for curation.csv, identities.csv, findings.csv, summary.json, review.html and the embeddings."
)
@click.option(
    "--embeddings",
    type=click.Path(exists=True, dir_okay=False),
    help="Reuse embeddings (OUT/embeddings.npy of an earlier run, or score --embeddings-out FILE) "
    "instead of embedding ROOT again.",
)
@click.option(
    "--min-Q",
    "min_q",
    type=click.FloatRange(min=0, max=101),
    default=0,
    show_default=True,
    help="Images below this Q are low-quality (reject).",
)
@click.option(
    "--max-fnmr",
    type=click.FloatRange(min=0, max=1, max_open=True),
    help="Also low-quality: images below the Q that the data's own EDC needs for the FNMR of the "
    "remaining mated comparisons (at FMR 1e-3) to fall to this.",
)
@click.option(
    "--search-far",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=1e-3,
    show_default=True,
    help="Per-image false-alarm rate of the whole look-alike search: the chance that an "
    "image with no look-alike gets one (and per folder, of same-person-as).",
)
@click.option(
    "--own-fmr",
    type=click.FloatRange(min=0, max=0.5, min_open=True),
    default=1e-2,
    show_default=True,
    help="Share of other people's images that would pass as an identity's own (the own-identity check).",
)
@click.option(
    "--duplicate-similarity",
    type=click.FloatRange(min=-1, max=1),
    default=0.94,
    show_default=True,
    help="Near-identical copies (re-encoded, resized, slightly cropped) are at least this similar.",
)
@click.option(
    "--index",
    type=click.Choice(["exact", "faiss"]),
    default="exact",
    show_default=True,
    help="exact: every pair, in blocks; faiss: an approximate IVF index (the curate extra), for very large sets.",
)
@click.option("--page/--no-page", default=True, help="Write review.html (thumbnails read from ROOT).")
@click.option(
    "--decisions",
    type=click.Path(exists=True, dir_okay=False),
    help="A decisions.csv downloaded from an earlier review page: its marks go into findings.csv, and the page "
    "shows only the findings not yet confirmed or rejected.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: embed on Ray Data (the ray extra) into OUT/embeddings/ (Parquet part files; a rerun "
    "skips what is there), then search here.",
)
@click.option("--address", help="With --engine ray: the cluster to join (default: start a local Ray on loopback).")
@model_option
@device_option
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Images per inference call (default: 4 on CPU, 32 on CUDA)."
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Refuse images whose header declares more pixels (decompression bombs).",
)
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
@align_option
@contract_options
def curate(
    root: str,
    out: Path,
    embeddings: Optional[str],
    min_q: float,
    max_fnmr: Optional[float],
    search_far: float,
    own_fmr: float,
    duplicate_similarity: float,
    index: str,
    page: bool,
    decisions: Optional[str],
    engine: str,
    address: Optional[str],
    model: Optional[str],
    device: str,
    batch_size: Optional[int],
    max_pixels: int,
    progress: bool,
    align: str,
    overrides: dict[str, Any],
) -> None:
    """Find the mislabelled, duplicated and merged faces of ROOT/IDENTITY/IMAGE: a decision (keep,
    review, reject) and stable reasons per image and per identity folder, each question once as a
    ranked finding, and a review page to mark them on."""
    from ..fs import write_atomically
    from ..curation.files import write_tables
    from ..curation.marks import read_marks
    from ..curation.pipeline import Settings, apply_marks, curate as run_curation, describe, summary
    from ..curation.store import read_store

    try:
        marks = read_marks(decisions) if decisions else {}  # before the embedding: a bad file fails at once
        if embeddings:
            store_path = Path(embeddings)
        elif engine == "ray":
            from ..curation.ray import embed_on_ray

            store_path = out / "embeddings"
            counts = embed_on_ray(root, str(store_path), model, device, align, max_pixels, address, overrides)
            click.echo(
                f"{counts['inputs']} images: {counts['already']} already in {store_path}, "
                f"{counts['scored']} embedded now on Ray",
                err=True,
            )
        else:
            store_path = embed_into_store(root, out, model, device, batch_size, align, max_pixels, overrides, progress)
        store = read_store(store_path)
        settings = Settings(
            search_far=search_far,
            own_fmr=own_fmr,
            min_Q=min_q,
            max_fnmr=max_fnmr,
            duplicate_similarity=duplicate_similarity,
            index=index,
        )
        bar = click.progressbar(length=len(store.records), file=sys.stderr, label="searching") if progress else None
        with bar or contextlib.nullcontext():
            result = run_curation(store, settings, progress=bar.update if bar else None)
        apply_marks(result, marks)
        info = summary(result)
        info["embeddings"] = str(store_path)
        written = write_tables(result, out, info)
        if page:
            from ..curation.page import build_page

            html = build_page(result, Path(root), f"fqe-onnx curation of {Path(root).name}")
            write_atomically(out / "review.html", html.encode("utf-8"))
            written.append(out / "review.html")
    except FqeError as exc:
        raise fail(exc) from exc
    except OSError as exc:
        raise UsageOrModelError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    click.echo(describe(info), err=True)
    click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
