"""What every residual block shares: the shortcut and the add."""

from __future__ import annotations

from ..layers import Node, ShapeError, Shape, conv, container, fmt, norm, sequential


def _why(x: Shape, y: Shape, stride: int) -> str:
    reasons = [f"stride {stride}"] if stride != 1 else []
    if x[0] != y[0]:
        reasons.append("channels change")
    return ", ".join(reasons) or "sizes change"


def projection(x: Shape, y: Shape, stride: int, norm_kind: str) -> Node:
    """Option B/C: 1×1 conv with the block's stride, then norm (torchvision's `downsample`)."""
    proj = conv("0", x, y[0], 1, stride, padding=0, bias=norm_kind == "none")
    return sequential("downsample", [proj, norm("1", norm_kind, proj.shape)])


def zeropad(x: Shape, y: Shape, stride: int) -> Node | None:
    """Option A: subsample by the stride, append zero channels. No parameters."""
    if y[0] < x[0]:
        raise ShapeError(f"zeropad shortcut cannot reduce {x[0]} channels to {y[0]}",
                         "use `shortcut: auto` or `projection`", shape=y)
    if x == y:
        return None
    h, w = (-(-s // stride) for s in x[1:])
    return Node("downsample", "zeropad", (y[0], h, w), args=dict(stride=stride, channels=y[0] - x[0]))


def shortcut(kind: str, x: Shape, y: Shape, stride: int, norm_kind: str) -> Node | None:
    """The shortcut module (None for identity) of a block mapping `x` to `y`."""
    if kind == "identity" or (kind in ("auto", "zeropad") and x == y):
        if x != y:
            raise ShapeError(f"identity shortcut cannot carry {fmt(x)} to {fmt(y)} ({_why(x, y, stride)})",
                             "use `shortcut: auto` or `projection`", shape=y)
        return None
    if kind == "zeropad":
        return zeropad(x, y, stride)
    return projection(x, y, stride, norm_kind)  # auto with a change, or projection


def residual(name: str, x: Shape, main: list[Node | None], settings, stride: int,
             post: list[Node | None], label: str) -> Node:
    """`post(main(x) + shortcut(x))`; with `shortcut: none`, just `post(main(x))`."""
    main = [n for n in main if n is not None]
    y = main[-1].shape
    kind = settings.shortcut
    short = None if kind == "none" else shortcut(kind, x, y, stride, settings.norm)
    if short is not None and short.shape != y:
        raise ShapeError(f"{kind} shortcut gives {fmt(short.shape)} but the block gives {fmt(y)}",
                         "check the block's stride and padding", shape=y)
    norms = [n.name for n in main if n.kind == settings.norm]
    return container(
        name, "residual", [*main, short, *post], label=label,
        main=[n.name for n in main], shortcut=short.name if short else None, add=kind != "none",
        post=[n.name for n in post if n is not None],
        zero_init=norms[-1] if settings.zero_init_residual and norms and kind != "none" else None,
    )
