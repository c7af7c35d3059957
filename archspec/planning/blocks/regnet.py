"""RegNet X and Y blocks (Radosavovic et al. 2020): a bottleneck whose inner width is
round(channels × bottleneck_ratio) (default 1), whose 3×3 conv has `group_width`
channels per group, and, with `se:` (RegNetY), an SE after the 3×3 conv. torchvision's
`ResBottleneckBlock`."""

from __future__ import annotations

from ..layers import Node, Shape
from .bottleneck import bottleneck
from .kind import ATTENTION, BOTTLENECK, SHORTCUT, ZERO_INIT, Kind, Placement
from .residual import inner_width


def plan(name: str, x: Shape, p: Placement, s) -> Node:
    width = inner_width(p.channels, s, 1.0, lambda v: int(round(v)))
    return bottleneck(name, x, p, s, width, KIND, se_after_3x3=True)


KIND = Kind(
    "regnet", "RegNet X block: bottleneck with inner width round(channels × `bottleneck_ratio`, default 1) and "
              "`group_width` channels per group; with `se:` the RegNet Y block, SE after the 3×3 (Radosavovic et "
              "al. 2020; torchvision `ResBottleneckBlock`)",
    plan, (SHORTCUT, ZERO_INIT, *ATTENTION, *BOTTLENECK), init="regnet")
