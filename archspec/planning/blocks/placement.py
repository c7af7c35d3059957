"""What a layout is given: the block's place in its stage; and the two kinds of layout function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..nodes import Node, Shape


@dataclass(frozen=True)
class Placement:
    """What the stage asks of one block."""

    channels: int  # output channels
    stride: int = 1
    first_dilation: int = 1  # of the block's first 3×3 conv: a stage's first block keeps the previous dilation
    dilation: int = 1  # of its other 3×3 convs
    drop_path: float = 0.0  # stochastic depth rate


Layout = Callable[[str, Shape, Placement, Any], Node]  # (module name, input shape, placement, settings) → block
Transition = Callable[[Shape, Placement, Any], "Node | None"]  # a module between stages, before the first block
