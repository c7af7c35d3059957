"""What every residual block shares: its inner width and groups, its attention (SE or
ECA), the shortcut and the add."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...units import dims
from ..kinds import Kind
from ..nodes import Node, Shape, ShapeError, container, sequential
from ..primitives import role
from ..primitives.attention import eca, squeeze_excite
from ..primitives.conv import conv
from ..primitives.norm import norm
from ..primitives.pool import pool
from ..primitives.regularize import drop_path
from ..primitives.shortcut import zeropad as zeropad_node
from .placement import Placement

if TYPE_CHECKING:
    from ..kinds import Settings


def inner_width(channels: int, s: Settings, default_ratio: float, rounding: Callable[[float], int]) -> int:
    """The width of a bottleneck's 3×3 conv: `width:`, else channels × bottleneck_ratio, rounded."""
    if s.width:
        return s.width
    ratio = s.bottleneck_ratio or default_ratio
    width = rounding(channels * ratio)
    if width < 1:
        said = "/ 4" if ratio == 0.25 else f"× {ratio:g}"
        raise ShapeError(f"bottleneck width is channels {said} = {channels * ratio:g}", "set `width:` or more channels",
                         code="AS303", key="bottleneck_ratio" if s.bottleneck_ratio else None)
    return width


def conv_groups(width: int, s: Settings) -> int:
    """Groups of the 3×3 conv, from `groups:` or `group_width:`; each must divide the width."""
    if s.groups and s.group_width:
        raise ShapeError("both groups and group_width are set", "set one of them", code="AS305", key="group_width")
    if s.group_width:
        if width % s.group_width:
            raise ShapeError(f"group_width {s.group_width} does not divide the inner width {width}",
                             "choose a group width that divides `width`", code="AS303", key="group_width")
        return width // s.group_width
    groups = s.groups or 1
    if width % groups:
        raise ShapeError(f"groups={groups} does not divide the inner width {width}",
                         "choose groups that divide `width`", code="AS303", key="groups")
    return groups


def attention(at: Shape, x: Shape, channels: int, s: Settings) -> Node | None:
    """The attention of a block with input `x` and `channels` outputs, acting on `at`: ECA, or
    an SE, or None when `se: 0`.

    SE reduced channels = se × base (the block's output, its input with `se_base: in`, or
    the width `at` it acts on with `mid`), rounded to the nearest multiple of `se_divisor`,
    halves up, plus one divisor where that fell below `se_round_limit` × the exact value
    (timm's and torchvision's make_divisible)."""
    if s.eca:
        if s.se:
            raise ShapeError("both eca and se are set", "choose one attention: `se: 0` or `eca: false`",
                             code="AS305", key="eca")
        return eca("se", at)
    if not s.se:
        return None
    base = {"in": x[0], "out": channels, "mid": at[0]}[s.se_base]
    exact = base * s.se
    reduced = int(exact / s.se_divisor + 0.5) * s.se_divisor
    if reduced < s.se_round_limit * exact:
        reduced += s.se_divisor
    if reduced < 1:
        raise ShapeError(f"squeeze-excitation ratio {s.se:g} of {base} channels rounds to 0 channels",
                         "raise `se:`, or lower `se_divisor:`", code="AS304", key="se")
    return squeeze_excite("se", at, reduced, s.se_act, s.se_gate)


def _why(x: Shape, y: Shape, stride: int) -> str:
    reasons = [f"stride {stride}"] if stride != 1 else []
    if x[0] != y[0]:
        reasons.append("channels change")
    return ", ".join(reasons) or "sizes change"


def projection(x: Shape, y: Shape, stride: int, s: Settings, with_norm: bool) -> Node:
    """Option B/C: 1×1 conv with the block's stride, then norm (torchvision's `downsample`)."""
    proj = conv("0", x, y[0], 1, stride, padding=0, bias=s.norm == "none")
    return sequential("downsample", [proj, norm("1", s, proj.shape) if with_norm else None])


def avgpool_projection(x: Shape, y: Shape, stride: int, s: Settings, with_norm: bool) -> Node:
    """ResNet-D (He et al. 2019): average-pool by the stride (ceil mode, padding not counted),
    then 1×1 conv + norm; no pool at stride 1. Named as timm's: pool 0, conv 1, norm 2."""
    pooled = pool("0", "avgpool", x, stride, stride, 0, ceil=True) if stride > 1 else None
    proj = conv("1", pooled.shape if pooled else x, y[0], 1, 1, padding=0, bias=s.norm == "none")
    return sequential("downsample", [pooled, proj, norm("2", s, proj.shape) if with_norm else None])


def zeropad(x: Shape, y: Shape, stride: int) -> Node | None:
    """Option A: subsample by the stride, append zero channels. No parameters."""
    if y[0] < x[0]:
        raise ShapeError(f"zeropad shortcut cannot reduce {x[0]} channels to {y[0]}",
                         "use `shortcut: auto` or `projection`", shape=y)
    if x == y:
        return None
    return zeropad_node("downsample", x, y[0], stride)


def shortcut(x: Shape, y: Shape, stride: int, s: Settings, with_norm: bool = True) -> Node | None:
    """The shortcut module (None for identity) of a block mapping `x` to `y`."""
    kind = s.shortcut
    if kind == "identity" or (kind in ("auto", "zeropad", "avgpool") and x == y):
        if x != y:
            raise ShapeError(f"identity shortcut cannot carry {dims(x)} to {dims(y)} ({_why(x, y, stride)})",
                             "use `shortcut: auto` or `projection`", shape=y)
        return None
    if kind == "zeropad":
        return zeropad(x, y, stride)
    if kind == "avgpool":
        return avgpool_projection(x, y, stride, s, with_norm)
    return projection(x, y, stride, s, with_norm)  # auto with a change, or projection


def residual(name: str, x: Shape, main: list[Node | None], s: Settings, p: Placement, post: list[Node | None], kind: Kind,
             pre: list[Node | None] = ()) -> Node:
    """`post(main(pre(x)) + shortcut(x))`, with a drop-path at the end of `main`; with
    `shortcut: none`, just `post(main(pre(x)))`. A pre-activated block (`pre` given)
    feeds its shortcut module, if any, the pre-activated input; no norm follows that
    shortcut's conv (He et al. 2016; timm's ResNetV2). A kind that adds only where the
    block keeps its input's shape (`add: same_shape`) has no shortcut module."""
    pre = [n for n in pre if n is not None]
    y = [n for n in main if n is not None][-1].shape
    adds = s.shortcut != "none" if kind.add == "always" else x == y
    main = [n for n in [*main, drop_path("drop_path", y, p.drop_path if adds else 0)] if n is not None]
    short = None if not adds or kind.add != "always" else shortcut(x, y, p.stride, s, with_norm=not pre)
    if short is not None and short.shape != y:
        raise ShapeError(f"{s.shortcut} shortcut gives {dims(short.shape)} but the block gives {dims(y)}",
                         "check the block's stride and padding", shape=y)
    # zero_init_residual zeroes the last conv or norm of the branch: the last norm in a
    # post-activated block (Goyal et al. 2017), the last conv in a pre-activated one
    last = [n.name for n in main if role(n) in ("conv", "norm")] if s.zero_init_residual and adds else []
    return container(
        name, "residual", [*pre, *main, short, *post], label=kind.name,
        pre=[n.name for n in pre], main=[n.name for n in main], shortcut=short.name if short else None,
        add=adds, post=[n.name for n in post if n is not None],
        zero_init=last[-1] if last else None,
    )
