"""Real trained weights from an ONNX file into the project's own PyTorch network.

The default zoo model (faceplugin's MobileFaceNet) has the layout of ``fqe_export.mobilefacenet``
exactly: the same convolutions in the same order, PReLU after every non-linear one, residual adds
where shapes allow. Its exporter folded each BatchNorm into the preceding convolution, so the ONNX
graph holds a convolution weight and a bias and no BatchNorm. Mapping it onto the network:

- each Conv node's weight goes to the next ``nn.Conv2d`` of the network (in module order), checked
  for shape, group count, stride and padding;
- its bias goes to the BatchNorm after that convolution, made an identity (weight 1, running mean
  0, running variance 1 - eps, so that sqrt(var + eps) is exactly 1 in float32) plus that bias;
- each PRelu node's slope, shape (C, 1, 1), goes to the next ``nn.PReLU`` as (C,);
- anything left over on either side, or any mismatch, is an error: nothing is guessed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


class MappingError(Exception):
    """The ONNX graph does not match the network's layout."""


def _attribute(node: onnx.NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def conv_and_norm_pairs(network: nn.Module) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d]]:
    """Every convolution of the network in order, with the BatchNorm that follows it."""
    modules = list(network.named_modules())
    pairs = []
    for index, (name, module) in enumerate(modules):
        if isinstance(module, nn.Conv2d):
            following = [m for _, m in modules[index + 1 :] if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
            if not following or not isinstance(following[0], nn.BatchNorm2d):
                raise MappingError(f"{name} is not followed by a BatchNorm2d: cannot take a folded bias")
            pairs.append((name, module, following[0]))
    return pairs


@torch.no_grad()
def load_folded_onnx(network: nn.Module, onnx_path: Path) -> dict[str, int]:
    """Copy the ONNX file's Conv and PRelu initialisers into ``network`` (see the module docstring);
    returns counts of what was mapped."""
    model = onnx.load(str(onnx_path))
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    prelus = [n for n in model.graph.node if n.op_type == "PRelu"]
    pairs = conv_and_norm_pairs(network)
    activations = [m for m in network.modules() if isinstance(m, nn.PReLU)]
    if len(convs) != len(pairs) or len(prelus) != len(activations):
        raise MappingError(
            f"the ONNX graph has {len(convs)} Conv and {len(prelus)} PRelu nodes; the network has "
            f"{len(pairs)} convolutions and {len(activations)} PReLUs"
        )
    for node, (name, conv, norm) in zip(convs, pairs):
        weight = weights[node.input[1]]
        bias = weights[node.input[2]] if len(node.input) > 2 else np.zeros(weight.shape[0], np.float32)
        checks = {
            "weight shape": (tuple(weight.shape), tuple(conv.weight.shape)),
            "groups": (_attribute(node, "group", 1), conv.groups),
            "strides": (tuple(_attribute(node, "strides", [1, 1])), tuple(conv.stride)),
            "pads": (tuple(_attribute(node, "pads", [0, 0, 0, 0])[:2]), tuple(conv.padding)),
        }
        for what, (theirs, ours) in checks.items():
            if theirs != ours:
                raise MappingError(f"{name}: the ONNX Conv {node.output[0]} has {what} {theirs}, the network {ours}")
        if conv.bias is not None:
            raise MappingError(f"{name} has its own bias; expected a bias-free convolution before a BatchNorm")
        conv.weight.copy_(torch.from_numpy(np.array(weight)))
        norm.weight.fill_(1.0)
        norm.bias.copy_(torch.from_numpy(np.array(bias)))
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)
    for node, activation in zip(prelus, activations):
        slope = weights[node.input[1]]
        if slope.reshape(-1).shape != tuple(activation.weight.shape):
            raise MappingError(
                f"PRelu {node.output[0]} has slope shape {slope.shape}, the network's PReLU "
                f"{tuple(activation.weight.shape)}"
            )
        activation.weight.copy_(torch.from_numpy(np.array(slope).reshape(-1)))
    return {"convolutions": len(pairs), "prelus": len(activations)}
