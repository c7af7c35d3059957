"""Bottleneck block: 1×1 reduce, 3×3 (grouped for ResNeXt), 1×1 expand; SE (if any) before the add.

The stride goes on the 3×3 conv (torchvision's v1.5) or, with `stride_on: 1x1`, on
the first 1×1 (the paper's v1). The inner width is `width:` or channels / 4.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import KINDS, Kind
from ..nodes import Node, Shape
from ..primitives.act import act
from ..primitives.conv import conv
from ..primitives.norm import norm
from .placement import Placement
from .residual import attention, conv_groups, inner_width, residual

if TYPE_CHECKING:
    from ..kinds import Settings


def layout(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    return bottleneck(name, x, p, s, inner_width(p.channels, s, 0.25, int), KINDS["bottleneck"])


def bottleneck(name: str, x: Shape, p: Placement, s: Settings, width: int, kind: Kind,
               se_after_3x3: bool = False) -> Node:
    """The bottleneck layout, shared with the RegNet block (which puts its SE after the 3×3)."""
    groups = conv_groups(width, s)
    bias = s.norm == "none"
    stride1, stride2 = (p.stride, 1) if s.stride_on == "1x1" else (1, p.stride)
    conv1 = conv("conv1", x, width, 1, stride1, bias=bias)
    conv2 = conv("conv2", conv1.shape, width, 3, stride2, groups=groups, dilation=p.first_dilation, bias=bias)
    conv3 = conv("conv3", conv2.shape, p.channels, 1, 1, bias=bias)
    se = attention(conv2.shape if se_after_3x3 else conv3.shape, x, p.channels, s)
    main = [conv1, norm("bn1", s, conv1.shape), act(f"{s.act}1", s.act, conv1.shape),
            conv2, norm("bn2", s, conv2.shape), act(f"{s.act}2", s.act, conv2.shape),
            se if se_after_3x3 else None,
            conv3, norm("bn3", s, conv3.shape),
            None if se_after_3x3 else se]
    return residual(name, x, main, s, p, [act(f"{s.act}3", s.act, conv3.shape)], kind)


LAYOUTS = {"bottleneck": layout}
