"""Pools: windowed max and average pools, and global pools to 1×1. No parameters, no MACs."""

from __future__ import annotations

from ..nodes import Node, Shape
from .conv import spatial
from .record import INDEX_BYTES, Arg, Code, Cost, Op, Primitive, keeps_input, keeps_nothing


def _window(what: str):
    def rule(x: Shape, a: dict) -> Cost:
        return (x[0], *spatial(what, x, a["kernel_size"], a["stride"], a["padding"], ceil=a.get("ceil_mode", False))), 0, 0
    return rule


def _maxpool_saves(w, node: Node, x):
    """The input and the int64 index of each maximum."""
    w.keep(x, w.new(node.shape, INDEX_BYTES))
    return w.new(node.shape)


_WINDOW = {"kernel": Arg("int", required=True), "stride": Arg("int"), "padding": Arg("int", 0),
           "ceil_mode": Arg("bool", False)}  # what a spec's node writes: stride None is the kernel
MAXPOOL = Primitive("maxpool", "pool", "max over each window",
                    Code("nn.MaxPool2d", ("kernel_size",), dict(padding=0, ceil_mode=False)), _maxpool_saves,
                    _window("max pool"), written=Op("max pool", _WINDOW))
AVGPOOL = Primitive("avgpool", "pool", "average over each window",
                    Code("nn.AvgPool2d", ("kernel_size",), dict(padding=0, ceil_mode=False, count_include_pad=True)),
                    keeps_input, _window("avg pool"), written=Op("average pool", _WINDOW))
GLOBAL_AVGPOOL = Primitive("global_avgpool", "pool", "average of each channel, to 1×1",
                           Code("nn.AdaptiveAvgPool2d", ("output_size",), fixed={"output_size": 1}), keeps_nothing,
                           lambda x, a: ((x[0], 1, 1), 0, 0), written=Op("average over the whole map", {}))
GLOBAL_MAXPOOL = Primitive("global_maxpool", "pool", "max of each channel, to 1×1",
                           Code("nn.AdaptiveMaxPool2d", ("output_size",), fixed={"output_size": 1}), _maxpool_saves,
                           lambda x, a: ((x[0], 1, 1), 0, 0), written=Op("maximum over the whole map", {}))
ADAPTIVE_AVGPOOL = Primitive("adaptive_avgpool", "pool", "average over each of an output_size grid of windows",
                             Code("nn.AdaptiveAvgPool2d", ("output_size",)), keeps_input,
                             lambda x, a: ((x[0], *a["output_size"]), 0, 0))
ADAPTIVE_MAXPOOL = Primitive("adaptive_maxpool", "pool", "max over each of an output_size grid of windows",
                             Code("nn.AdaptiveMaxPool2d", ("output_size",)), _maxpool_saves,
                             lambda x, a: ((x[0], *a["output_size"]), 0, 0))
RECORDS = (MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL, GLOBAL_MAXPOOL, ADAPTIVE_AVGPOOL, ADAPTIVE_MAXPOOL)


def pool(name: str, kind: str, x: Shape, kernel: int, stride: int, padding: int, ceil: bool = False) -> Node:
    """A windowed pool: kind "maxpool" or "avgpool" (`ceil`: ceil mode, padding not counted in averages)."""
    args = dict(kernel_size=kernel, stride=stride, padding=padding)
    if ceil:
        args.update(ceil_mode=True, **({"count_include_pad": False} if kind == "avgpool" else {}))
    return (MAXPOOL if kind == "maxpool" else AVGPOOL).node(name, x, args)


def global_pool(name: str, kind: str, x: Shape) -> Node:
    """Pool every channel to 1×1: kind "global_avgpool" or "global_maxpool"."""
    return (GLOBAL_AVGPOOL if kind == "global_avgpool" else GLOBAL_MAXPOOL).node(name, x, {})


def adaptive_pool(name: str, kind: str, x: Shape, size: tuple[int, int]) -> Node:
    """Pool every channel to `size` (height, width) windows (torch's adaptive pools): kind "avg" or "max";
    to 1×1, the global pool."""
    if tuple(size) == (1, 1):
        return global_pool(name, f"global_{kind}pool", x)
    return (ADAPTIVE_AVGPOOL if kind == "avg" else ADAPTIVE_MAXPOOL).node(name, x, dict(output_size=tuple(size)))
