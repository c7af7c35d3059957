"""Bottleneck block: 1×1 reduce, 3×3 (with the stride: torchvision's v1.5), 1×1 expand."""

from __future__ import annotations

from ..layers import Node, ShapeError, Shape, act, conv, norm
from .residual import residual


def plan(name: str, x: Shape, channels: int, stride: int, s) -> Node:
    width = s.width or channels // 4
    if width < 1:
        raise ShapeError(f"bottleneck width is channels / 4 = {channels / 4:g}", "set `width:` or more channels",
                         code="AS303")
    bias = s.norm == "none"
    conv1 = conv("conv1", x, width, 1, 1, bias=bias)
    conv2 = conv("conv2", conv1.shape, width, 3, stride, bias=bias)
    conv3 = conv("conv3", conv2.shape, channels, 1, 1, bias=bias)
    main = [conv1, norm("bn1", s.norm, conv1.shape), act(f"{s.act}1", s.act, conv1.shape),
            conv2, norm("bn2", s.norm, conv2.shape), act(f"{s.act}2", s.act, conv2.shape),
            conv3, norm("bn3", s.norm, conv3.shape)]
    return residual(name, x, main, s, stride, [act(f"{s.act}3", s.act, conv3.shape)], "bottleneck")
