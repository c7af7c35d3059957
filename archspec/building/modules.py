"""The modules torch does not have, each defined once: `compile` builds them, and `eject` copies
their source text (it reads this file without importing it, so it needs no torch).

Each definition here is self-contained, needing only `torch`, `nn` and `F` (and the
definitions a primitive's record lists before it), since eject copies it as it is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "hardswish": nn.Hardswish,
               "hardsigmoid": nn.Hardsigmoid, "sigmoid": nn.Sigmoid}


class SqueezeExcite(nn.Module):
    """Squeeze-excitation (Hu et al. 2018): gate each channel by its global average; the names
    (`fc1`, `fc2`) are timm's and torchvision's."""

    def __init__(self, channels: int, reduced: int, act: str = "relu", gate: str = "sigmoid"):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = ACTIVATIONS[act](inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = ACTIVATIONS[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al. 2020): a 1-D conv across the pooled channels gates each channel; timm's
    `EcaModule` (`conv`)."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))
        return x * y.sigmoid().view(x.shape[0], -1, 1, 1)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map (torchvision's and timm's LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """Reorder the dimensions after the batch's."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = (0, *(d + 1 for d in dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)


class LayerScale(nn.Module):
    """A learned per-channel scale (Touvron et al. 2021), as ConvNeXt's `layer_scale`."""

    def __init__(self, channels: int, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels, 1, 1) * init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * x


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a sample's branch with probability p and scale
    the kept ones by 1 / (1 - p); the identity in eval mode (as timm's DropPath)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ZeroPad(nn.Module):
    """Option A shortcut (He et al. 2015): subsample by the stride, append zero channels."""

    def __init__(self, stride: int, channels: int):
        super().__init__()
        self.stride, self.channels = stride, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, channels=+{self.channels}"
