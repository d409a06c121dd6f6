"""Build a bundle from a model file (or zoo name) and run it on a BGR image: the Python face of the bundle."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import numpy as np

ModelLike = Union[str, "os.PathLike[str]", None]


def make_bundle(model: ModelLike = None, *, pixels: str = "bgr", align: str = "auto", embedding: bool = False) -> Any:
    """The bundle ModelProto of ``model`` (a file, a zoo name, or None for the default model) with the
    pinned detector and landmark models."""
    from ..modelfile import load_model_proto, proto_contract
    from ..zoo import aligner_models, resolve_model
    from .assemble import build_bundle

    proto = load_model_proto(resolve_model(model))
    contract, _ = proto_contract(proto)
    detector_path, landmark_path = aligner_models()
    return build_bundle(
        proto,
        contract,
        load_model_proto(detector_path),
        load_model_proto(landmark_path),
        pixel_layout=pixels,
        align=align,
        embedding=embedding,
    )


def write_bundle(out: Union[str, "os.PathLike[str]"], model: ModelLike = None, **options: Any) -> Any:
    """Build the bundle and write it to ``out`` atomically; returns the ModelProto."""
    from ..fs import write_atomically

    bundle = make_bundle(model, **options)
    write_atomically(out, bundle.SerializeToString())
    return bundle


def bgr_to_layout(bgr: np.ndarray, pixels: str) -> np.ndarray:
    """A BGR uint8 image in the bundle's pixel layout (what an app would pass)."""
    if pixels == "bgr":
        return bgr
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    if pixels == "rgb":
        return rgb
    return np.concatenate([rgb, np.full(bgr.shape[:2] + (1,), 255, np.uint8)], axis=2)


class BundleSession:
    """An ONNX Runtime session on a bundle; ``run`` gives its outputs for one image as a dict."""

    def __init__(self, bundle: Any, threads: Optional[int] = 1) -> None:
        import onnxruntime as ort

        from .assemble import read_bundle_info

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        data = bundle if isinstance(bundle, (bytes, str)) else bundle.SerializeToString()
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.info = read_bundle_info(self.session.get_modelmeta().custom_metadata_map) or {}
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, bgr: np.ndarray) -> dict[str, np.ndarray]:
        """The bundle's outputs for one BGR uint8 image (converted to its pixel layout)."""
        image = bgr_to_layout(np.ascontiguousarray(bgr), self.info.get("pixels", "bgr"))
        return dict(zip(self.outputs, self.session.run(None, {"image": image})))
