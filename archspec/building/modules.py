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


class Add(nn.Module):
    """The sum of its inputs, of one shape."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(nn.Module):
    """The product of its inputs; a N×C×1×1 gate scales the channels of a N×C×H×W map."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Its inputs side by side over the channels: one torch.cat."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return xs[0] if len(xs) == 1 else torch.cat(xs, 1)


class Split(nn.Module):
    """The channels in `chunks` equal parts, views of the input (ShuffleNetV2's `x.chunk(2, dim=1)`)."""

    def __init__(self, chunks: int):
        super().__init__()
        self.chunks = chunks

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return x.chunk(self.chunks, dim=1)

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}"


class ChannelShuffle(nn.Module):
    """Interleave the channels of `groups` groups, as torchvision's `channel_shuffle` (one copy)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Upsample(nn.Module):
    """Nearest or bilinear upsampling by `scale`, or to the size of a second input (as FPNs do)."""

    def __init__(self, scale: int | None = None, mode: str = "nearest"):
        super().__init__()
        self.scale, self.mode = scale, mode

    def forward(self, x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        size = None if like is None else like.shape[-2:]
        corners = False if self.mode == "bilinear" else None
        return F.interpolate(x, size=size, scale_factor=self.scale if like is None else None, mode=self.mode,
                             align_corners=corners)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}"
