"""Pre-activation blocks (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
each conv is preceded by norm → act, nothing follows the add. The network's stem has
no norm or act then, and a final norm → act precedes the head (see plan.py).
Layout of timm's `PreActBasic` / `PreActBottleneck` (ResNetV2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import KINDS
from ..nodes import Node, Shape
from ..primitives.act import act
from ..primitives.conv import conv
from ..primitives.norm import norm
from .placement import Placement
from .residual import attention, conv_groups, inner_width, residual

if TYPE_CHECKING:
    from ..kinds import Settings


def layout_basic(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    bias = s.norm == "none"
    pre = [norm("bn1", s, x), act(f"{s.act}1", s.act, x, inplace=s.norm != "none")]  # else it would act on x itself
    conv1 = conv("conv1", x, p.channels, 3, p.stride, dilation=p.first_dilation, bias=bias)
    conv2 = conv("conv2", conv1.shape, p.channels, 3, 1, dilation=p.dilation, bias=bias)
    main = [conv1, norm("bn2", s, conv1.shape), act(f"{s.act}2", s.act, conv1.shape),
            conv2, attention(conv2.shape, x, p.channels, s)]
    return residual(name, x, main, s, p, [], KINDS["preact_basic"], pre=pre)


def layout_bottleneck(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    width = inner_width(p.channels, s, 0.25, int)
    groups = conv_groups(width, s)
    bias = s.norm == "none"
    stride1, stride2 = (p.stride, 1) if s.stride_on == "1x1" else (1, p.stride)
    pre = [norm("bn1", s, x), act(f"{s.act}1", s.act, x, inplace=s.norm != "none")]  # else it would act on x itself
    conv1 = conv("conv1", x, width, 1, stride1, bias=bias)
    conv2 = conv("conv2", conv1.shape, width, 3, stride2, groups=groups, dilation=p.first_dilation, bias=bias)
    conv3 = conv("conv3", conv2.shape, p.channels, 1, 1, bias=bias)
    main = [conv1, norm("bn2", s, conv1.shape), act(f"{s.act}2", s.act, conv1.shape),
            conv2, norm("bn3", s, conv2.shape), act(f"{s.act}3", s.act, conv2.shape),
            conv3, attention(conv3.shape, x, p.channels, s)]
    return residual(name, x, main, s, p, [], KINDS["preact_bottleneck"], pre=pre)



LAYOUTS = {"preact_basic": layout_basic, "preact_bottleneck": layout_bottleneck}
