"""Basic block (He et al. 2015): two 3×3 convs."""

from __future__ import annotations

from ..layers import Node, Shape, act, conv, norm
from .residual import residual


def plan(name: str, x: Shape, channels: int, stride: int, s) -> Node:
    bias = s.norm == "none"
    conv1 = conv("conv1", x, channels, 3, stride, bias=bias)
    conv2 = conv("conv2", conv1.shape, channels, 3, 1, bias=bias)
    y = conv2.shape
    main = [conv1, norm("bn1", s.norm, conv1.shape), act(f"{s.act}1", s.act, conv1.shape),
            conv2, norm("bn2", s.norm, y)]
    return residual(name, x, main, s, stride, [act(f"{s.act}2", s.act, y)], "basic")
