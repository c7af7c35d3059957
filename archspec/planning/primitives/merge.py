"""Merges of several maps: sum, product (a gate), concatenation over the channels. No parameters,
no MACs; torch.cat once per merge, as torchvision's."""

from __future__ import annotations

from ..nodes import Node, Shape, ShapeError
from ...units import dims
from .record import MANY, Code, Cost, Op, Primitive


def _shown(xs: list[Shape]) -> str:
    return " and ".join(dims(x) for x in xs)


def _same(xs: list[Shape], a: dict) -> Cost:
    if any(x != xs[0] for x in xs):
        raise ShapeError(f"add of {_shown(xs)}: an add takes maps of one shape",
                         "check the strides and channels of its inputs", "AS301")
    return xs[0], 0, 0


def _broadcast(xs: list[Shape], a: dict) -> Cost:
    """One shape, each input equal to it or 1 along each dimension (a C×1×1 gate on a C×H×W map)."""
    if len({len(x) for x in xs}) == 1:
        out = tuple(max(d) for d in zip(*xs))
        if all(d in (1, o) for x in xs for d, o in zip(x, out)):
            return out, 0, 0
    raise ShapeError(f"mul of {_shown(xs)}: a product takes maps of one shape, or a C×1×1 gate of the same "
                     "channels", "check the channels and sizes of its inputs", "AS301")


def _stacked(xs: list[Shape], a: dict) -> Cost:
    if len({x[1:] for x in xs}) > 1:
        raise ShapeError(f"concat of {_shown(xs)}: maps of different sizes",
                         "concatenate maps of one height and width: check the strides of its inputs", "AS301")
    return (sum(x[0] for x in xs), *xs[0][1:]), 0, 0


def _sum_saves(w, node: Node, xs):
    """A sum or a concatenation keeps nothing (the gradient needs only sizes); of one map, it is that map."""
    return xs[0] if len(xs) == 1 else w.new(node.shape)


def _product_saves(w, node: Node, xs):
    """Each product keeps both its factors: the inputs, and the partial products after the first."""
    out = xs[0]
    for x in xs[1:]:
        w.keep(out, x)
        out = w.new(node.shape)
    return out


ADD = Primitive("add", "merge", "the sum of its inputs, of one shape", Code("Add"), _sum_saves, _same, merges=True,
                written=Op("sum of its inputs", {}, MANY))
MUL = Primitive("mul", "merge", "the product of its inputs (a C×1×1 map gates the channels of a C×H×W one)",
                Code("Mul"), _product_saves, _broadcast, merges=True, written=Op("product of its inputs", {}, MANY))
CONCAT = Primitive("concat", "merge", "its inputs side by side over the channels (one height and width)",
                   Code("Concat"), _sum_saves, _stacked, merges=True,
                   written=Op("its inputs concatenated over the channels", {}, MANY))
RECORDS = (ADD, MUL, CONCAT)
