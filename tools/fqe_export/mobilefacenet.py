"""MobileFaceNet (Chen et al. 2018): a 1M-parameter face embedding network for 112x112 inputs.

Written from the paper's table: conv3x3/2 (64), depthwise conv3x3 (64), bottleneck stages with
expansion 2 (5x 64, 7x 128 with stride-2 entries as in the paper), conv1x1 (512), a global depthwise
7x7 conv ("GDC"), and a linear 1x1 projection to the embedding with BatchNorm.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Module):
    """conv + BN (+ PReLU unless linear)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        linear: bool = False,
    ):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = None if linear else nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return x if self.prelu is None else self.prelu(x)


class Bottleneck(nn.Module):
    """Expand 1x1, depthwise 3x3 (stride), project 1x1 (linear); residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = ConvBlock(cin, hidden)
        self.depthwise = ConvBlock(hidden, hidden, 3, stride, 1, groups=hidden)
        self.project = ConvBlock(hidden, cout, linear=True)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 1
SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_size: int = 512):
        super().__init__()
        self.conv1 = ConvBlock(3, 64, 3, 2, 1)
        self.conv2_dw = ConvBlock(64, 64, 3, 1, 1, groups=64)
        blocks, cin = [], 64
        for t, c, n, s in SETTINGS:
            for i in range(n):
                blocks.append(Bottleneck(cin, c, s if i == 0 else 1, t))
                cin = c
        self.blocks = nn.Sequential(*blocks)
        self.conv_sep = ConvBlock(cin, 512)
        self.gdc = ConvBlock(512, 512, 7, 1, 0, groups=512, linear=True)
        self.linear = nn.Conv2d(512, embedding_size, 1, bias=False)
        self.bn = nn.BatchNorm2d(embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_sep(self.blocks(self.conv2_dw(self.conv1(x))))
        return torch.flatten(self.bn(self.linear(self.gdc(x))), 1)
