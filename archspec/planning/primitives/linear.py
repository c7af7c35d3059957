"""The linear layer, over the last dimension: on a channels-last map it costs as a 1×1 conv."""

from __future__ import annotations

import math

from ..nodes import Node, Shape
from .record import Arg, Code, Op, Primitive, Tensor, keeps_input


def _tensors(a: dict) -> list[tuple[str, Tensor]]:
    out = a["out_features"]
    return [("weight", Tensor((out, a["in_features"]), True)), ("bias", Tensor((out,), True))]


LINEAR = Primitive(
    "linear", "linear", "a linear map of the last dimension, with a bias",
    Code("nn.Linear", ("in_features", "out_features")), keeps_input,
    rule=lambda x, a: ((*x[:-1], a["out_features"]), (a["in_features"] + 1) * a["out_features"],
                       math.prod(x[:-1]) * a["in_features"] * a["out_features"]),
    tensors=_tensors,
    written=Op("fully connected layer", {"features": Arg("int", required=True), "bias": Arg("bool", True)}))
RECORDS = (LINEAR,)


def linear(name: str, x: Shape, out: int) -> Node:
    return LINEAR.node(name, x, dict(in_features=x[-1], out_features=out))
