"""Upsampling: nearest or bilinear, by a whole factor or to the size of a second input. No
parameters, no MACs; nothing saved (the gradient needs only the sizes)."""

from __future__ import annotations

import math

from ... import limits
from ...units import count, dims
from ..nodes import ShapeError
from .record import Arg, Code, Cost, Op, Primitive, keeps_nothing


def _rule(xs: list, a: dict) -> Cost:
    x, scale = xs[0], a.get("scale")
    if (scale is None) == (len(xs) == 1):
        raise ShapeError("upsample takes `scale:` or a second input whose size it takes, not both" if scale
                         else "upsample needs `scale:` or a second input whose size to take",
                         "write e.g. `scale: 2`, or `in: [x, skip]`", "AS301")
    if scale is None:
        return (x[0], *xs[1][1:]), 0, 0
    shape = (x[0], x[1] * scale, x[2] * scale)
    if math.prod(shape) > limits.MAX_MAP_ELEMENTS:  # it has no MACs: the MAC limit would never stop it
        raise ShapeError(f"a map of {count(math.prod(shape))} values ({dims(shape)}) is more than the planning "
                         f"limit of {count(limits.MAX_MAP_ELEMENTS)}",
                         "check the scale (limit: archspec.limits.MAX_MAP_ELEMENTS)", "AS601")
    return shape, 0, 0


UPSAMPLE = Primitive("upsample", "resample", "nearest or bilinear upsampling by `scale`, or to its second input's "
                                             "size", Code("Upsample", (), dict(scale=None, mode="nearest")),
                     lambda w, node, xs: keeps_nothing(w, node, xs[0]), _rule, merges=True,
                     written=Op("upsample by `scale`, or to its second input's size",
                                {"scale": Arg("int"), "mode": Arg(("nearest", "bilinear"), "nearest")}, (1, 2)))
RECORDS = (UPSAMPLE,)
