"""``fqe_onnx.run``: the original entry point, a pandas table of every image's scores."""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional, Union

from .diagnostics import score_warning
from .errors import FqeError
from .records import COLUMNS
from .scorer import Scorer
from .session import ModelSource
from .sources import find_images, read_list


def run(
    image_root: Union[str, "os.PathLike[str]"],
    model: Optional[ModelSource] = None,
    device: str = "auto",
    batch_size: Optional[int] = None,
    from_list: Union[str, "os.PathLike[str]", None] = None,
    align: Union[str, bool] = "auto",
    faces: str = "main",
    **overrides: Any,
) -> Any:
    """Score a folder (or one image, or a list file) and return a pandas DataFrame with the columns
    of ``fqe_onnx.records.COLUMNS``. ``model`` is a file, a zoo name, or None for the default model;
    ``align`` is auto, always or never, ``faces`` main or all (one row per face; see ``Scorer``).
    Warns (``warnings``) when the scores carry no information. Needs the ``pandas`` extra."""
    try:
        import pandas as pd
    except ImportError:
        raise FqeError("fqe_onnx.run returns a pandas DataFrame: pip install pandas (the pandas extra)") from None
    sources = read_list(from_list, image_root) if from_list is not None else find_images(image_root)
    with Scorer(model, device=device, batch_size=batch_size, align=align, faces=faces, **overrides) as scorer:
        records = [r.as_dict() for r in scorer.score_sources(sources)]
        method = scorer.contract.calibration_info.get("method", "")
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    frame["Q"] = frame["Q"].astype("Int64")
    frame["face"] = frame["face"].astype("Int64")
    message = score_warning([r["Q"] for r in records if r["Q"] is not None], method)
    if message:
        warnings.warn(message, stacklevel=2)
    return frame
