"""Block kinds, one file each. A block function takes the block's module name,
its input shape, its `Placement` in the stage (output channels, stride, dilation,
drop-path rate) and the stage's settings, and returns the block's plan `Node`.
Add a kind: write its file, add it to BLOCKS."""

from __future__ import annotations

from collections.abc import Callable

from ..layers import Node, Shape
from . import basic, bottleneck, preact, regnet
from .residual import Placement

BlockFn = Callable[[str, Shape, Placement, "object"], Node]

BLOCKS: dict[str, BlockFn] = {
    "basic": basic.plan,
    "bottleneck": bottleneck.plan,
    "preact_basic": preact.plan_basic,
    "preact_bottleneck": preact.plan_bottleneck,
    "regnet": regnet.plan,
}
PREACT = {"preact_basic", "preact_bottleneck"}  # no norm/act in the stem; a final norm/act before the head

__all__ = ["BLOCKS", "PREACT", "BlockFn", "Placement"]
