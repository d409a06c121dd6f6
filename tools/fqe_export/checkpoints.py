"""Loading real checkpoints into a network: nesting, prefixes and heads are found, not assumed.

A checkpoint may be a bare state dict or nest it under keys such as ``state_dict`` or ``model``;
its keys may carry ``module.`` (DataParallel), ``features.`` (MagFace), ``backbone.`` and the like;
it may hold a classifier head the embedding network does not have. The prefix kept is the one under
which the most keys match the network's own names and shapes; everything else is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

NESTING_KEYS = ("state_dict", "model", "model_state_dict", "backbone", "net", "network", "weights")
IGNORED_MISSING = ("num_batches_tracked",)


class CheckpointError(Exception):
    """The checkpoint does not provide what the network needs."""


@dataclass
class LoadReport:
    prefix: str
    loaded: int
    unexpected: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"loaded {self.loaded} tensors (checkpoint prefix stripped: {self.prefix or 'none'})"]
        if self.unexpected:
            lines.append(
                f"ignored {len(self.unexpected)} keys the network does not use: "
                + ", ".join(self.unexpected[:8])
                + (" ..." if len(self.unexpected) > 8 else "")
            )
        if self.shape_mismatch:
            lines.append("ignored keys with other shapes: " + ", ".join(self.shape_mismatch[:8]))
        return "\n".join(lines)


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap(checkpoint: Any) -> dict[str, torch.Tensor]:
    """Descend through nesting keys (and whole pickled modules) to the tensor dictionary."""
    if isinstance(checkpoint, nn.Module):
        return checkpoint.state_dict()
    seen = 0
    while not _is_state_dict(checkpoint):
        seen += 1
        if not isinstance(checkpoint, Mapping) or seen > 5:
            raise CheckpointError(
                "no state dict found in the checkpoint (expected a dict of tensors, possibly "
                f"nested under one of: {', '.join(NESTING_KEYS)})"
            )
        nested = [k for k in NESTING_KEYS if k in checkpoint]
        if nested:
            checkpoint = checkpoint[nested[0]]
        else:
            tensors = {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
            if not tensors:
                raise CheckpointError(
                    f"no state dict found in the checkpoint; top-level keys: {', '.join(map(str, checkpoint))}"
                )
            checkpoint = tensors
        if isinstance(checkpoint, nn.Module):
            return checkpoint.state_dict()
    return dict(checkpoint)


def _candidate_prefixes(keys: list[str]) -> set[str]:
    prefixes = {""}
    for key in keys:
        parts = key.split(".")
        for n in range(1, min(4, len(parts))):
            prefixes.add(".".join(parts[:n]) + ".")
    return prefixes


def match_state_dict(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], LoadReport]:
    """Map checkpoint keys onto the network's: the prefix with the most name-and-shape matches wins."""
    keys = list(source)

    def matches(prefix: str) -> int:
        return sum(
            1
            for k in keys
            if k.startswith(prefix)
            and k[len(prefix) :] in target
            and tuple(source[k].shape) == tuple(target[k[len(prefix) :]].shape)
        )

    prefix = max(sorted(_candidate_prefixes(keys), key=len), key=matches)
    mapped, report = {}, LoadReport(prefix=prefix, loaded=0)
    for key in keys:
        name = key[len(prefix) :] if key.startswith(prefix) else None
        if name is None or name not in target:
            report.unexpected.append(key)
        elif tuple(source[key].shape) != tuple(target[name].shape):
            report.shape_mismatch.append(f"{key} {tuple(source[key].shape)} vs {tuple(target[name].shape)}")
        else:
            mapped[name] = source[key]
    report.loaded = len(mapped)
    return mapped, report


def load_weights(network: nn.Module, checkpoint: Any) -> LoadReport:
    """Load a checkpoint (path, dict or module) into ``network``; fail naming every missing weight."""
    if isinstance(checkpoint, (str, Path)):
        checkpoint = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    target = network.state_dict()
    mapped, report = match_state_dict(unwrap(checkpoint), target)
    missing = [k for k in target if k not in mapped and not k.endswith(IGNORED_MISSING)]
    if missing:
        shown = ", ".join(missing[:10]) + (f" ... ({len(missing)} in all)" if len(missing) > 10 else "")
        detail = f"; with other shapes: {', '.join(report.shape_mismatch[:5])}" if report.shape_mismatch else ""
        raise CheckpointError(f"the checkpoint lacks weights the network needs: {shown}{detail}")
    network.load_state_dict(mapped, strict=False)
    return report
