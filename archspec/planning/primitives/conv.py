"""The 2-D convolution. MACs as the reference counts them: `out.numel() · in/groups · kh · kw`."""

from __future__ import annotations

from ..nodes import Node, Shape, ShapeError
from .record import Arg, Code, Cost, Op, Primitive, Tensor, keeps_input


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out  # torch: the last window starts inside


def spatial(what: str, x: Shape, kernel: int, stride: int, padding: int, dilation: int = 1,
            ceil: bool = False) -> tuple[int, int]:
    """The output height and width of a window of `kernel` sliding over `x`; an AS302 error below 1×1."""
    _, h, w = x
    oh, ow = out_size(h, kernel, stride, padding, dilation, ceil), out_size(w, kernel, stride, padding, dilation, ceil)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{what} {kernel}×{kernel}, stride {stride}, padding {padding} reduces {h}×{w} to {max(oh, 0)}×{max(ow, 0)}",
            "use a larger input size, or fewer stride-2 layers", code="AS302")
    return oh, ow


def _rule(x: Shape, a: dict) -> Cost:
    out, kernel = a["out_channels"], a["kernel_size"]
    oh, ow = spatial("conv", x, kernel, a["stride"], a["padding"], a["dilation"])
    per_output = a["in_channels"] // a["groups"] * kernel * kernel
    return (out, oh, ow), out * per_output + (out if a["bias"] else 0), out * oh * ow * per_output


def _tensors(a: dict) -> list[tuple[str, Tensor]]:
    out, k = a["out_channels"], a["kernel_size"]
    weight = Tensor((out, a["in_channels"] // a["groups"], k, k), True)
    return [("weight", weight)] + ([("bias", Tensor((out,), True))] if a["bias"] else [])


def _groups_divide(x: Shape, a: dict) -> ShapeError | None:
    c, out, groups = a["in_channels"], a["out_channels"], a["groups"]
    if c % groups or out % groups:
        return ShapeError(f"groups={groups} must divide both {c} input and {out} output channels",
                          "choose groups (or widths) so that they divide", code="AS303")
    return None


CONV = Primitive(
    "conv", "conv", "2-D convolution",
    Code("nn.Conv2d", ("in_channels", "out_channels", "kernel_size"),
         dict(stride=1, padding=0, dilation=1, groups=1, bias=True)),
    keeps_input, _rule, _tensors, check=_groups_divide, absorbs_norm=True,
    written=Op("2-D convolution", {"channels": Arg("int", required=True), "kernel": Arg("int", required=True),
                                   "stride": Arg("int", 1), "padding": Arg("int"), "dilation": Arg("int", 1),
                                   "groups": Arg("int", 1), "bias": Arg("bool", False)}))
RECORDS = (CONV,)


def conv(name: str, x: Shape, out: int, kernel: int, stride: int = 1, padding: int | None = None,
         groups: int = 1, dilation: int = 1, bias: bool = False) -> Node:
    """A conv of `out` channels on `x`; padding (kernel - 1) // 2 × dilation unless given."""
    if padding is None:
        padding = dilation * (kernel - 1) // 2
    return CONV.node(name, x, dict(in_channels=x[0], out_channels=out, kernel_size=kernel, stride=stride,
                                   padding=padding, dilation=dilation, groups=groups, bias=bias))
