"""Views that reorder or merge dimensions: no parameters, no MACs, nothing saved."""

from __future__ import annotations

import math

from ..nodes import Node, Shape
from .record import Code, Primitive, view

FLATTEN = Primitive("flatten", "reshape", "one vector per sample", Code("nn.Flatten"), view,
                    rule=lambda x, a: ((math.prod(x),), 0, 0))
PERMUTE = Primitive("permute", "reshape", "reorder the dimensions after the batch's", Code("Permute", ("dims",)),
                    view, rule=lambda x, a: (tuple(x[d] for d in a["dims"]), 0, 0))
RECORDS = (FLATTEN, PERMUTE)


def flatten(name: str, x: Shape) -> Node:
    return FLATTEN.node(name, x, {})


def permute(name: str, x: Shape, dims: tuple[int, ...]) -> Node:
    """Reorder the dimensions (without the batch's): (1, 2, 0) takes C×H×W to H×W×C."""
    return PERMUTE.node(name, x, dict(dims=dims))
