"""Model names: a path is used as it is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .errors import FqeError


def resolve_model(model: Optional[str | os.PathLike[str]]) -> Path:
    """A model argument to a file path."""
    if model is None:
        raise FqeError("no model given: pass --model PATH")
    return Path(model)
