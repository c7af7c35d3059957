"""Plan primitives: each function takes an input shape and returns a `Node`
with its output shape, parameter count and multiply-adds. No torch here.

MACs follow the reference counting: every conv `out.numel() * in/groups * kh * kw`,
every linear `out * in`; norms, activations, pools, adds and SE gating are free.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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

    `layer` names the failing primitive within what is being planned (e.g. "conv2"),
    when one does. `shape` is the output the network would have had, when planning can
    go on past this mistake to find the next one. `key` names the block setting at
    fault (e.g. "groups"), so that the error can point at it.
    """

    def __init__(self, message: str, hint: str = "", code: str = "AS301", shape: Shape | None = None,
                 key: str | None = None, layer: str = ""):
        super().__init__(message)
        self.message, self.hint, self.code, self.shape, self.key, self.layer = message, hint, code, shape, key, layer
        self.node: Node | None = None  # the layer as planned anyway, for an error that planning got past


_found: ContextVar[list[ShapeError] | None] = ContextVar("found", default=None)


@contextmanager
def collecting() -> Iterator[list[ShapeError]]:
    """Collect, instead of raising, the errors after which a layer's output is still known
    (channels that do not divide): the planner goes on and reports every one in one run."""
    found: list[ShapeError] = []
    token = _found.set(found)
    try:
        yield found
    finally:
        _found.reset(token)


def _got_past(error: ShapeError, node: Node) -> Node:
    """`node` as if it were valid, with `error` collected; raised when nothing collects."""
    found = _found.get()
    if found is None:
        raise error
    error.node = node
    found.append(error)
    return node


def container(name: str, kind: str, children: list[Node | None], **args) -> Node:
    kids = [c for c in children if c is not None]
    label = args.pop("label", "")
    return Node(name, kind, kids[-1].shape, sum(c.params for c in kids), sum(c.macs for c in kids), args, kids, label)


def sequential(name: str, children: list[Node | None], label: str = "") -> Node:
    return container(name, "sequential", children, label=label)


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out  # torch: the last window starts inside


def _spatial(name: str, what: str, x: Shape, kernel: int, stride: int, padding: int, dilation: int = 1,
             ceil: bool = False) -> tuple[int, int]:
    _, h, w = x
    oh, ow = (_out_size(s, kernel, stride, padding, dilation, ceil) for s in (h, w))
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{what} {kernel}×{kernel}, stride {stride}, padding {padding} reduces {h}×{w} to {max(oh, 0)}×{max(ow, 0)}",
            "use a larger input size, or fewer stride-2 layers",
            code="AS302", layer=name,
        )
    return oh, ow


def conv(name: str, x: Shape, out: int, kernel: int, stride: int = 1, padding: int | None = None,
         groups: int = 1, dilation: int = 1, bias: bool = False) -> Node:
    c = x[0]
    if padding is None:
        padding = dilation * (kernel - 1) // 2
    oh, ow = _spatial(name, "conv", x, kernel, stride, padding, dilation)
    per_output = (c // groups) * kernel * kernel
    node = Node(name, "conv", (out, oh, ow), out * per_output + (out if bias else 0), out * oh * ow * per_output,
                dict(in_channels=c, out_channels=out, kernel_size=kernel, stride=stride, padding=padding,
                     dilation=dilation, groups=groups, bias=bias))
    if c % groups or out % groups:
        return _got_past(ShapeError(f"groups={groups} must divide both {c} input and {out} output channels",
                                    "choose groups (or widths) so that they divide", code="AS303", layer=name), node)
    return node


def norm(name: str, settings, x: Shape) -> Node | None:
    """The norm of `settings.norm` over `x`'s channels (a C×H×W map), or None for `norm: none`.
    `layernorm` normalises each pixel over its channels (torchvision's LayerNorm2d)."""
    kind, c, eps = settings.norm, x[0], settings.norm_eps
    if kind == "none":
        return None
    if kind == "groupnorm":
        groups = settings.norm_groups
        node = Node(name, kind, x, 2 * c, 0, dict(num_groups=groups, num_channels=c, eps=eps))
        if c % groups:
            return _got_past(ShapeError(f"groupnorm with {groups} groups cannot split {c} channels",
                                        _norm_groups_hint(groups, c), code="AS307", key="norm_groups", layer=name),
                             node)
        return node
    if kind == "layernorm":
        return Node(name, "layernorm2d", x, 2 * c, 0, dict(normalized_shape=c, eps=eps))
    return Node(name, kind, x, 2 * c, 0, dict(num_features=c, eps=eps, momentum=settings.norm_momentum))


def layernorm(name: str, x: Shape, eps: float) -> Node:
    """LayerNorm over the last dimension (channels-last maps, or features)."""
    return Node(name, "layernorm", x, 2 * x[-1], 0, dict(normalized_shape=x[-1], eps=eps))


def permute(name: str, x: Shape, dims: tuple[int, ...]) -> Node:
    """Reorder the dimensions (without the batch's): (1, 2, 0) takes C×H×W to H×W×C."""
    return Node(name, "permute", tuple(x[d] for d in dims), args=dict(dims=dims))


def layer_scale(name: str, x: Shape, init: float) -> Node:
    """A learned per-channel scale of a C×H×W map, starting at `init` (Touvron et al. 2021; ConvNeXt)."""
    return Node(name, "layer_scale", x, x[0], 0, dict(channels=x[0], init=init))


def _norm_groups_hint(groups: int, channels: int) -> str:
    return f"set `norm_groups:` to a divisor of {channels} such as {math.gcd(groups, channels)}, or change the channels"


def act(name: str, kind: str, x: Shape, inplace: bool = True) -> Node | None:
    """An activation, or None for `act: none`. In place (less memory, as torchvision's) unless its
    input is needed afterwards: the caller says so."""
    if kind == "none":
        return None
    return Node(name, kind, x, args=dict(inplace=True) if inplace and kind != "gelu" else {})  # GELU has no in-place


def pool(name: str, kind: str, x: Shape, kernel: int, stride: int, padding: int, ceil: bool = False) -> Node:
    """A windowed pool: kind "maxpool" or "avgpool" (`ceil`: ceil mode, padding not counted in averages)."""
    oh, ow = _spatial(name, kind[:3] + " pool", x, kernel, stride, padding, ceil=ceil)
    args = dict(kernel_size=kernel, stride=stride, padding=padding)
    if ceil:
        args.update(ceil_mode=True, **({"count_include_pad": False} if kind == "avgpool" else {}))
    return Node(name, kind, (x[0], oh, ow), args=args)


def squeeze_excite(name: str, x: Shape, reduced: int, act: str = "relu", gate: str = "sigmoid") -> Node:
    """Squeeze-excitation (Hu et al. 2018): global average, 1×1 conv to `reduced`, act, 1×1 conv
    back, gate. Its convs act on 1×1 maps, so each costs in × out MACs."""
    c = x[0]
    return Node(name, "se", x, 2 * c * reduced + reduced + c, 2 * c * reduced,
                dict(channels=c, reduced=reduced, act=act, gate=gate))


def eca_kernel(channels: int) -> int:
    """ECA's kernel size: |log2(C) + 1| / 2, made odd, at least 3 (Wang et al. 2020; timm's rule)."""
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


def eca(name: str, x: Shape) -> Node:
    """Efficient channel attention: global average, a 1-D conv across the channels, sigmoid gate.
    The reference counting has no 1-D convs (Conv2d and Linear only): no MACs."""
    k = eca_kernel(x[0])
    return Node(name, "eca", x, k, 0, dict(kernel_size=k))


def drop_path(name: str, x: Shape, p: float) -> Node | None:
    """Stochastic depth (Huang et al. 2016): drop a sample's whole branch with probability p."""
    return Node(name, "drop_path", x, args=dict(p=p)) if p > 0 else None


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
    """A linear layer over the last dimension; on a channels-last map it costs as a 1×1 conv."""
    *lead, features = x
    positions = math.prod(lead)
    return Node(name, "linear", (*lead, out), features * out + out, positions * features * out,
                dict(in_features=features, out_features=out))
