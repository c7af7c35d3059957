"""ConvNeXt block (Liu et al. 2022): 7×7 depthwise conv → LayerNorm over the channels → MLP
(1×1, `expand` × wider, act, back), each 1×1 a linear layer on the channels-last map as in
torchvision → layer scale → drop path, added to the input. Between stages a norm and a
strided conv (kernel = stride) change the size and width, in place of a strided block."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import KINDS
from ..nodes import Node, Shape, sequential
from ..primitives.act import act
from ..primitives.conv import conv
from ..primitives.linear import linear
from ..primitives.norm import layernorm, norm
from ..primitives.reshape import permute
from ..primitives.scale import layer_scale
from .inverted_residual import odd_kernel
from .placement import Placement
from .residual import residual

if TYPE_CHECKING:
    from ..kinds import Settings


def layout(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    c = x[0]
    dw = conv("conv1", x, c, odd_kernel(s), groups=c, dilation=p.first_dilation, bias=True)
    last = permute("permute1", dw.shape, (1, 2, 0))  # C×H×W → H×W×C: the norm and MLP act per pixel
    fc1 = linear("fc1", last.shape, int(round(c * s.expand)))
    fc2 = linear("fc2", fc1.shape, c)
    back = permute("permute2", fc2.shape, (2, 0, 1))
    scale = layer_scale("layer_scale", back.shape, s.layer_scale) if s.layer_scale else None
    main = [dw, last, layernorm("norm", last.shape, s.norm_eps), fc1, act(s.act, s.act, fc1.shape), fc2, back,
            scale]
    return residual(name, x, main, s, p, [], KINDS["convnext"])


def downsample(x: Shape, p: Placement, s: Settings) -> Node | None:
    """Norm, then a conv of kernel and stride `stride` (1×1 where only the width changes)."""
    if p.stride == 1 and x[0] == p.channels:
        return None
    strided = conv("1", x, p.channels, p.stride, p.stride, padding=0, bias=True)
    return sequential("downsample", [norm("0", s, x), strided])


LAYOUTS = {"convnext": layout}
TRANSITIONS = {"convnext": downsample}
