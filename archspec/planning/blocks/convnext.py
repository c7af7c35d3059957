"""ConvNeXt block (Liu et al. 2022): 7×7 depthwise conv → LayerNorm over the channels → MLP
(1×1, `expand` × wider, act, back), each 1×1 a linear layer on the channels-last map as in
torchvision → layer scale → drop path, added to the input. Between stages a norm and a
strided conv (kernel = stride) change the size and width, in place of a strided block."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Lt

from .. import layers as L
from ..layers import Node, Shape
from .inverted_residual import odd_kernel
from .kind import EXPAND, KERNEL, Kind, Placement, Setting
from .residual import residual

LAYER_SCALE = Setting("layer_scale", Annotated[float, Ge(0), Lt(1)], 1e-6,
                      "initial per-channel scale of the block's branch (ConvNeXt; 0: no layer scale)")


def plan(name: str, x: Shape, p: Placement, s) -> Node:
    c = x[0]
    dw = L.conv("conv1", x, c, odd_kernel(s), groups=c, dilation=p.first_dilation, bias=True)
    last = L.permute("permute1", dw.shape, (1, 2, 0))  # C×H×W → H×W×C: the norm and MLP act per pixel
    fc1 = L.linear("fc1", last.shape, int(round(c * s.expand)))
    fc2 = L.linear("fc2", fc1.shape, c)
    back = L.permute("permute2", fc2.shape, (2, 0, 1))
    scale = L.layer_scale("layer_scale", back.shape, s.layer_scale) if s.layer_scale else None
    main = [dw, last, L.layernorm("norm", last.shape, s.norm_eps), fc1, L.act(s.act, s.act, fc1.shape), fc2, back,
            scale]
    return residual(name, x, main, s, p, [], KIND)


def downsample(x: Shape, p: Placement, s) -> Node | None:
    """Norm, then a conv of kernel and stride `stride` (1×1 where only the width changes)."""
    if p.stride == 1 and x[0] == p.channels:
        return None
    conv = L.conv("1", x, p.channels, p.stride, p.stride, padding=0, bias=True)
    return L.sequential("downsample", [L.norm("0", s, x), conv])


KIND = Kind(
    "convnext", "`kernel`×`kernel` (7) depthwise conv → LayerNorm → MLP of `expand` (4) × the channels with act → "
                "layer scale, added to the input; a norm and a strided conv between stages (Liu et al. 2022; "
                "torchvision `CNBlock`)",
    plan, (KERNEL, EXPAND, LAYER_SCALE), defaults={"kernel": 7, "expand": 4.0}, add="same_shape", init="convnext",
    transition=downsample)
