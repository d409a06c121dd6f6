"""The torch twin of the default zoo model: the project's MobileFaceNet with faceplugin's trained
weights, proven equal to the ONNX file on the demo ladder. Used by tools/zoo_checkpoint.py, the
torch-side tests and the speed benchmark's PyTorch baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fqe_onnx.demo import FAMILIES, demo_face
from fqe_onnx.modelprep.faceplugin import FACEPLUGIN_CONTRACT
from fqe_onnx.preprocess import prepare_crop
from fqe_onnx.session import create_session
from fqe_onnx.zoo import FR_FEATURE, raw_file

from .mobilefacenet import MobileFaceNet
from .onnx_weights import load_folded_onnx


def build_twin() -> tuple[torch.nn.Module, Path, dict[str, int]]:
    """(network in eval mode with the zoo weights, the raw ONNX file, mapping counts)."""
    raw = raw_file(FR_FEATURE)
    network = MobileFaceNet(512)
    counts = load_folded_onnx(network, raw)
    return network.eval(), raw, counts


def ladder_tensors() -> np.ndarray:
    """The demo face and every rung of its degradation ladders, as the zoo contract's model inputs."""
    face = demo_face()
    images = [face] + [family.apply(face, level) for family in FAMILIES for level in family.levels]
    return np.stack([prepare_crop(image, FACEPLUGIN_CONTRACT.preprocess) for image in images])


def ladder_difference(network: torch.nn.Module, onnx_file: Path) -> float:
    """Max |torch - ONNX Runtime| over the embeddings of the demo ladder (the file run one image at a time)."""
    batch = ladder_tensors()
    session, _ = create_session(onnx_file, "cpu")
    name = session.get_inputs()[0].name
    reference = np.concatenate([session.run(None, {name: batch[i : i + 1]})[0] for i in range(len(batch))])
    with torch.no_grad():
        ours = network(torch.from_numpy(batch)).numpy()
    return float(np.abs(ours - reference.reshape(ours.shape)).max())
