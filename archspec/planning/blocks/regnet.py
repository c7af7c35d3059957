"""RegNet X and Y blocks (Radosavovic et al. 2020): a bottleneck whose inner width is
round(channels × bottleneck_ratio) (default 1), whose 3×3 conv has `group_width`
channels per group, and, with `se:` (RegNetY), an SE after the 3×3 conv. torchvision's
`ResBottleneckBlock`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import KINDS
from ..nodes import Node, Shape
from .bottleneck import bottleneck
from .placement import Placement
from .residual import inner_width

if TYPE_CHECKING:
    from ..kinds import Settings


def layout(name: str, x: Shape, p: Placement, s: Settings) -> Node:
    width = inner_width(p.channels, s, 1.0, lambda v: int(round(v)))
    return bottleneck(name, x, p, s, width, KINDS["regnet"], se_after_3x3=True)


LAYOUTS = {"regnet": layout}
