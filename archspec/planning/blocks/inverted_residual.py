"""Inverted residual blocks: MobileNetV2 (Sandler et al. 2018), MobileNetV3 (Howard et al.
2019) and EfficientNet's MBConv (Tan & Le 2019); and the fused MBConv of EfficientNetV2
(Tan & Le 2021). The input is added back only where the block keeps its shape.

Names by role, whichever convs a block has: `conv1`/`bn1` the expansion, `conv2`/`bn2`
the depthwise conv, `se`, `conv3`/`bn3` the linear projection (no activation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import KINDS
from ..nodes import Node, Shape, ShapeError
from ..primitives.act import act
from ..primitives.conv import conv
from ..primitives.norm import norm
from .placement import Placement
from .residual import attention, residual

if TYPE_CHECKING:
    from ..kinds import Settings


def expanded_width(x: Shape, s: Settings) -> int:
    """`width:`, else round(input channels × expand) (torchvision's MobileNetV2 rounding)."""
    if s.width:
        return s.width
    width = int(round(x[0] * s.expand))
    if width < 1:
        raise ShapeError(f"expand {s.expand:g} of {x[0]} input channels rounds to 0 channels",
                         "raise `expand:` (1 means no expansion conv), or set `width:`", code="AS311", key="expand")
    return width


def odd_kernel(s: Settings) -> int:
    if s.kernel % 2 == 0:
        raise ShapeError(f"kernel {s.kernel} is even: the conv could not keep the map centred",
                         "use an odd kernel: 3, 5 or 7", code="AS310", key="kernel")
    return s.kernel


def _conv_norm_act(n: int, x: Shape, out: int, kernel: int, s: Settings, stride: int = 1, groups: int = 1,
                   dilation: int = 1, activate: bool = True) -> list[Node | None]:
    c = conv(f"conv{n}", x, out, kernel, stride, groups=groups, dilation=dilation, bias=s.norm == "none")
    return [c, norm(f"bn{n}", s, c.shape), act(f"{s.act}{n}", s.act, c.shape) if activate else None]


def layout(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    """1×1 expand (none when the width equals the input's) → k×k depthwise (the stride) → SE → 1×1 project."""
    width, kernel = expanded_width(x, s), odd_kernel(s)
    expand = _conv_norm_act(1, x, width, 1, s) if width != x[0] else []
    mid = expand[0].shape if expand else x
    depthwise = _conv_norm_act(2, mid, width, kernel, s, p.stride, groups=width, dilation=p.first_dilation)
    se = attention(depthwise[0].shape, x, p.channels, s)
    project = _conv_norm_act(3, depthwise[0].shape, p.channels, 1, s, activate=False)
    return residual(name, x, [*expand, *depthwise, se, *project], s, p, [], KINDS["inverted_residual"])


def layout_fused(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    """k×k expand carrying the stride → SE → 1×1 project; at expand 1 a single k×k conv, norm and act."""
    width, kernel = expanded_width(x, s), odd_kernel(s)
    if width == x[0]:
        return residual(name, x, _conv_norm_act(1, x, p.channels, kernel, s, p.stride, dilation=p.first_dilation),
                        s, p, [], KINDS["fused_inverted_residual"])
    expand = _conv_norm_act(1, x, width, kernel, s, p.stride, dilation=p.first_dilation)
    se = attention(expand[0].shape, x, p.channels, s)
    project = _conv_norm_act(3, expand[0].shape, p.channels, 1, s, activate=False)
    return residual(name, x, [*expand, se, *project], s, p, [], KINDS["fused_inverted_residual"])



LAYOUTS = {"inverted_residual": layout, "fused_inverted_residual": layout_fused}
