"""Basic block (He et al. 2015): two 3×3 convs; SE (if any) before the add."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import KINDS
from ..nodes import Node, Shape
from ..primitives.act import act
from ..primitives.conv import conv
from ..primitives.norm import norm
from .placement import Placement
from .residual import attention, residual

if TYPE_CHECKING:
    from ..kinds import Settings


def layout(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    bias = s.norm == "none"
    conv1 = conv("conv1", x, p.channels, 3, p.stride, dilation=p.first_dilation, bias=bias)
    conv2 = conv("conv2", conv1.shape, p.channels, 3, 1, dilation=p.dilation, bias=bias)
    y = conv2.shape
    main = [conv1, norm("bn1", s, conv1.shape), act(f"{s.act}1", s.act, conv1.shape),
            conv2, norm("bn2", s, y), attention(y, x, p.channels, s)]
    return residual(name, x, main, s, p, [act(f"{s.act}2", s.act, y)], KINDS["basic"])


LAYOUTS = {"basic": layout}
