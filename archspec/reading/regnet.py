"""RegNet's design space (Radosavovic et al. 2020, section 3.3) → explicit stages.

Pure Python, and the same arithmetic as torchvision's `BlockParams.from_init_params`
(widths quantised to multiples of 8, then made compatible with the group width), so
a generated spec equals torchvision's `regnet_*` models.
"""

from __future__ import annotations

import math
from itertools import groupby

QUANTUM = 8  # every block width is a multiple of this (the paper's q)


def block_widths(depth: int, w0: int, wa: float, wm: float) -> list[int]:
    """Per-block widths: the linear ramp u_j = w0 + wa·j snapped to w0·wm^k, quantised."""
    widths = []
    for j in range(depth):
        k = round(math.log((w0 + wa * j) / w0) / math.log(wm))
        widths.append(int(round(w0 * wm ** k / QUANTUM) * QUANTUM))
    return widths


def make_divisible(value: float, divisor: int) -> int:
    """torchvision's `_make_divisible`: the nearest multiple of `divisor`, at least `divisor`, and
    never more than 10 % below `value` (RegNet's group widths; `scale:`'s channels)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def stages(depth: int, w0: int, wa: float, wm: float, group_width: int,
           bottleneck_ratio: float = 1.0) -> list[dict]:
    """Consecutive blocks of equal width form a stage; each stage's width and group
    width are then adjusted so that the group width divides the inner width."""
    out = []
    for width, run in groupby(block_widths(depth, w0, wa, wm)):
        inner = int(width * bottleneck_ratio)
        group = min(group_width, inner)
        inner = make_divisible(inner, group)
        out.append(dict(depth=len(list(run)), channels=int(inner / bottleneck_ratio), stride=2,
                        group_width=group, bottleneck_ratio=bottleneck_ratio))
    return out
