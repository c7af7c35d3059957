"""Block kinds, one file each. A block function takes the block's module name,
its input shape, output channels, stride and the stage's settings, and returns
the block's plan `Node`. Add a kind: write its file, add it to BLOCKS."""

from __future__ import annotations

from collections.abc import Callable

from ..layers import Node, Shape
from . import basic, bottleneck

BlockFn = Callable[[str, Shape, int, int, "object"], Node]

BLOCKS: dict[str, BlockFn] = {
    "basic": basic.plan,
    "bottleneck": bottleneck.plan,
}
