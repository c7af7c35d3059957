"""Basic block (He et al. 2015): two 3×3 convs; SE (if any) before the add."""

from __future__ import annotations

from ..layers import Node, Shape, act, conv, norm
from .kind import ATTENTION, SHORTCUT, ZERO_INIT, Kind, Placement
from .residual import residual, squeeze


def plan(name: str, x: Shape, p: Placement, s) -> Node:
    bias = s.norm == "none"
    conv1 = conv("conv1", x, p.channels, 3, p.stride, dilation=p.first_dilation, bias=bias)
    conv2 = conv("conv2", conv1.shape, p.channels, 3, 1, dilation=p.dilation, bias=bias)
    y = conv2.shape
    main = [conv1, norm("bn1", s, conv1.shape), act(f"{s.act}1", s.act, conv1.shape),
            conv2, norm("bn2", s, y), squeeze(y, x, p.channels, s)]
    return residual(name, x, main, s, p, [act(f"{s.act}2", s.act, y)], KIND)


KIND = Kind(
    "basic", "two 3×3 convs, norm after each, act after the first and after the add (He et al. 2015; "
             "torchvision `BasicBlock`)",
    plan, (SHORTCUT, ZERO_INIT, *ATTENTION))
