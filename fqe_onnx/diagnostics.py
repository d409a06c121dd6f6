"""Checks that say when a run's scores are useless, and counts of how its images were framed.

The same checks back the CLI's warnings, ``run()``'s ``warnings.warn`` and ``calibrate``.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Optional, Sequence

import numpy as np

from .quality import collapse_share

#: At least this share of a run's scores identical, or near the ends of the scale, is a warning ...
USELESS_SHARE = 0.95
#: ... where "near the ends" means within this many points of 0 or 100 ...
END_MARGIN = 5
#: ... for runs of at least this many scored images.
MIN_IMAGES = 20

CALIBRATE_HINT = (
    "fit a calibration on representative faces: 'fqe-onnx calibrate REFERENCE_FOLDER --model MODEL -o CALIBRATED.onnx'"
)


def score_warning(scores: Sequence[int], calibration_method: str = "") -> Optional[str]:
    """A warning text when a run's Q values carry no information, else None.

    Fires when 95% or more of the scores are identical, or sit within 5 points of either end of
    the scale (0..5 or 95..100), for runs of 20 scored images or more. Under a utility (match
    probability) calibration, a run of faces that nearly all match is said to be just that."""
    if len(scores) < MIN_IMAGES:
        return None
    values = np.asarray(scores)
    at_ends = float(np.mean((values <= END_MARGIN) | (values >= 100 - END_MARGIN)))
    same, value = collapse_share(list(scores))
    if same >= USELESS_SHARE:
        what = f"{same:.0%} of {len(values)} images got Q={value}"
    elif at_ends >= USELESS_SHARE:
        low, high = int(np.sum(values <= END_MARGIN)), int(np.sum(values >= 100 - END_MARGIN))
        what = f"{at_ends:.0%} of {len(values)} images scored within {END_MARGIN} of an end ({low} at 0..{END_MARGIN}, {high} at {100 - END_MARGIN}..100)"
    else:
        return None
    if calibration_method == "utility" and float(np.mean(values >= 100 - END_MARGIN)) >= USELESS_SHARE:
        return (
            f"scores collapsed at the top: {what}. Under this model's match-probability calibration that "
            "means nearly every face is expected to match at its FMR; Q does not rank such faces: compare "
            "the q column, or score with a rank calibration (e.g. faceplugin-mobilefacenet-quantile)"
        )
    return (
        f"scores collapsed: {what}. Either the faces are not framed the way the model needs (check the "
        "mode column; the default --align auto aligns them), or the model's norms lie outside its "
        f"calibration's useful range (compare the q column): {CALIBRATE_HINT}"
    )


def tally(values: Iterable[str]) -> str:
    """'aligned 1990, as-is 12' for the non-empty values, most common first; 'none' if there are none."""
    counts = Counter(v for v in values if v)
    return ", ".join(f"{value} {count}" for value, count in counts.most_common()) or "none"
