"""``fqe_onnx.run``: the original entry point, a pandas table of every image's scores."""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional, Union

from .diagnostics import score_warning
from .errors import FqeError
from .measure_catalog import MEASURES
from .records import columns
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
    measures: bool = False,
    **overrides: Any,
) -> Any:
    """Score a folder (or one image, or a list file) and return a pandas DataFrame with the columns
    of ``fqe_onnx.records.columns``. ``model`` is a file, a zoo name, or None for the default model;
    ``align`` is auto, always or never, ``faces`` main or all (one row per face; see ``Scorer``);
    ``measures`` adds the ISO/IEC 29794-5 measure columns (``fqe_onnx.measures``).
    Warns (``warnings``) when the scores carry no information. Needs the ``pandas`` extra."""
    try:
        import pandas as pd
    except ImportError:
        raise FqeError("fqe_onnx.run returns a pandas DataFrame: pip install pandas (the pandas extra)") from None
    sources = read_list(from_list, image_root) if from_list is not None else find_images(image_root)
    with Scorer(
        model, device=device, batch_size=batch_size, align=align, faces=faces, measures=measures, **overrides
    ) as scorer:
        records = [r.as_dict(measures) for r in scorer.score_sources(sources)]
        method = scorer.contract.calibration_info.get("method", "")
    frame = pd.DataFrame.from_records(records, columns=list(columns(measures)))
    for column in ("Q", "face") + (MEASURES if measures else ()):
        frame[column] = frame[column].astype("Int64")
    message = score_warning([r["Q"] for r in records if r["Q"] is not None], method)
    if message:
        warnings.warn(message, stacklevel=2)
    return frame
