"""Plan primitives: each function takes an input shape and returns a `Node`
with its output shape, parameter count and multiply-adds. No torch here.

MACs follow the reference counting: every conv `out.numel() * in/groups * kh * kw`,
every linear `out * in`; norms, activations, pools and adds are free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Shape = tuple[int, ...]  # (C, H, W) for feature maps, (F,) after flatten


@dataclass
class Node:
    """One module of the network to be: a primitive layer or a container of nodes."""

    name: str  # the module's attribute name in its parent
    kind: str  # what `compile` builds: "conv", "batchnorm", "sequential", "residual", ...
    shape: Shape  # output shape, without the batch dimension
    params: int = 0
    macs: int = 0
    args: dict = field(default_factory=dict)  # everything `compile` needs to build the module
    children: list[Node] = field(default_factory=list)
    label: str = ""  # what the summary calls it, when not `kind` (e.g. "bottleneck")


class ShapeError(Exception):
    """A layer cannot be applied to its input; the planner adds where in the spec.

    `shape` is the output the network would have had, when planning can go on
    past this mistake to find the next one.
    """

    def __init__(self, message: str, hint: str = "", code: str = "AS301", shape: Shape | None = None):
        super().__init__(message)
        self.message, self.hint, self.code, self.shape = message, hint, code, shape


def fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def container(name: str, kind: str, children: list[Node | None], **args) -> Node:
    kids = [c for c in children if c is not None]
    label = args.pop("label", "")
    return Node(name, kind, kids[-1].shape, sum(c.params for c in kids), sum(c.macs for c in kids), args, kids, label)


def sequential(name: str, children: list[Node | None], label: str = "") -> Node:
    return container(name, "sequential", children, label=label)


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    return (-(-span // stride) if ceil else span // stride) + 1


def _spatial(name: str, what: str, x: Shape, kernel: int, stride: int, padding: int, dilation: int = 1) -> tuple[int, int]:
    _, h, w = x
    oh, ow = (_out_size(s, kernel, stride, padding, dilation) for s in (h, w))
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{name} ({what} {kernel}×{kernel}, stride {stride}, padding {padding}) reduces {h}×{w} to {max(oh, 0)}×{max(ow, 0)}",
            "use a larger input size, or fewer stride-2 layers",
            code="AS302",
        )
    return oh, ow


def conv(name: str, x: Shape, out: int, kernel: int, stride: int = 1, padding: int | None = None,
         groups: int = 1, dilation: int = 1, bias: bool = False) -> Node:
    c = x[0]
    if padding is None:
        padding = dilation * (kernel - 1) // 2
    if c % groups or out % groups:
        raise ShapeError(f"{name}: groups={groups} must divide both {c} input and {out} output channels",
                         "choose groups (or widths) so that they divide", code="AS303")
    oh, ow = _spatial(name, "conv", x, kernel, stride, padding, dilation)
    per_output = (c // groups) * kernel * kernel
    return Node(name, "conv", (out, oh, ow), out * per_output + (out if bias else 0), out * oh * ow * per_output,
                dict(in_channels=c, out_channels=out, kernel_size=kernel, stride=stride, padding=padding,
                     dilation=dilation, groups=groups, bias=bias))


def norm(name: str, kind: str, x: Shape) -> Node | None:
    """A norm layer after a conv, or None for `norm: none`."""
    if kind == "none":
        return None
    return Node(name, kind, x, 2 * x[0], 0, dict(num_features=x[0]))


def act(name: str, kind: str, x: Shape) -> Node | None:
    """An activation, or None for `act: none`."""
    return None if kind == "none" else Node(name, kind, x)


def pool(name: str, kind: str, x: Shape, kernel: int, stride: int, padding: int) -> Node:
    """A windowed pool: kind "maxpool" or "avgpool"."""
    oh, ow = _spatial(name, kind[:3] + " pool", x, kernel, stride, padding)
    return Node(name, kind, (x[0], oh, ow), args=dict(kernel_size=kernel, stride=stride, padding=padding))


def global_pool(name: str, kind: str, x: Shape) -> Node:
    """Pool every channel to 1×1: kind "global_avgpool" or "global_maxpool"."""
    return Node(name, kind, (x[0], 1, 1))


def flatten(name: str, x: Shape) -> Node:
    size = 1
    for d in x:
        size *= d
    return Node(name, "flatten", (size,))


def dropout(name: str, x: Shape, p: float) -> Node | None:
    return Node(name, "dropout", x, args=dict(p=p)) if p > 0 else None


def linear(name: str, x: Shape, out: int) -> Node:
    (features,) = x
    return Node(name, "linear", (out,), features * out + out, features * out, dict(in_features=features, out_features=out))
