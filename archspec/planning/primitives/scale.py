"""A learned per-channel scale (Touvron et al. 2021; ConvNeXt's layer scale)."""

from __future__ import annotations

from ..nodes import Node, Shape
from .record import Code, Primitive, Tensor, keeps_input

LAYER_SCALE = Primitive("layer_scale", "scale", "a learned per-channel scale of a C×H×W map, starting at `init`",
                        Code("LayerScale", ("channels", "init")), keeps_input,
                        rule=lambda x, a: (x, a["channels"], 0),
                        tensors=lambda a: [("gamma", Tensor((a["channels"], 1, 1), True))])
RECORDS = (LAYER_SCALE,)


def layer_scale(name: str, x: Shape, init: float) -> Node:
    return LAYER_SCALE.node(name, x, dict(channels=x[0], init=init))
