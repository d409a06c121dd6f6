"""``curate --engine ray``: the embeddings made on Ray Data through ``score``'s Ray path
(``fqe_onnx.ray.score_dataset``), into a folder of Parquet part files that is the store: the
same rows with an ``embedding`` column. A rerun skips the images already there."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ray import ScoreImages, score_dataset


class EmbedImages(ScoreImages):
    """``ScoreImages`` whose rows also carry each image's raw embedding (null for a failure)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> Any:
        import pyarrow as pa

        from ..table import records_table

        items = [
            (str(name), str(identity), lambda p=str(path): self._load(p))
            for path, name, identity in zip(batch["source_path"], batch["path"], batch["identity"])
        ]
        scored = list(self.scorer.embed_items(items))
        table = records_table([s.record for s in scored], self.metadata)
        vectors = [
            None if s.embedding is None else np.asarray(s.embedding, np.float32).reshape(-1).tolist() for s in scored
        ]
        return table.append_column("embedding", pa.array(vectors, type=pa.list_(pa.float32())))


def embed_on_ray(
    root: str,
    destination: str,
    model: Optional[str],
    device: str,
    align: str,
    max_pixels: int,
    address: Optional[str],
    overrides: dict[str, Any],
) -> dict[str, int]:
    """Embed ROOT's images on Ray Data into ``destination`` (a folder of Parquet part files)."""
    return score_dataset(
        root,
        destination,
        model=model,
        device=device,
        align=align,
        max_pixels=max_pixels,
        address=address,
        udf=EmbedImages,
        **overrides,
    )
