"""The zero-pad shortcut (option A, He et al. 2015): subsample by the stride, append zero channels."""

from __future__ import annotations

from ..nodes import Node, Shape
from .record import Code, Primitive, keeps_nothing

ZEROPAD = Primitive("zeropad", "shortcut", "subsample by the stride, append zero channels; no parameters",
                    Code("ZeroPad", ("stride", "channels")), keeps_nothing,
                    rule=lambda x, a: ((x[0] + a["channels"], *(-(-d // a["stride"]) for d in x[1:])), 0, 0))
RECORDS = (ZEROPAD,)


def zeropad(name: str, x: Shape, channels: int, stride: int) -> Node:
    """`x` subsampled by `stride`, padded with zero channels up to `channels`."""
    return ZEROPAD.node(name, x, dict(stride=stride, channels=channels - x[0]))
