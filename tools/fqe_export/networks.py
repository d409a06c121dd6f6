"""Building the network to export: a built-in architecture, or any nn.Module from 'module.path:factory'."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

from torch import nn

from .iresnet import DEPTHS, iresnet
from .mobilefacenet import MobileFaceNet

ARCHITECTURES: dict[str, Callable[[int], nn.Module]] = {
    **{name: (lambda size, name=name: iresnet(name, size)) for name in DEPTHS},
    "mobilefacenet": lambda size: MobileFaceNet(size),
}


def build_architecture(name: str, embedding_size: int = 512) -> nn.Module:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; built in: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](embedding_size)


def build_from_factory(spec: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Import ``module.path:factory`` (the current folder is importable) and call it with ``kwargs``."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected 'module.path:factory', got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    factory = getattr(importlib.import_module(module_name), attribute, None)
    if factory is None:
        raise ValueError(f"{module_name} has no attribute {attribute!r}")
    network = factory(**(kwargs or {}))
    if not isinstance(network, nn.Module):
        raise ValueError(f"{spec} returned {type(network).__name__}, not a torch.nn.Module")
    return network
