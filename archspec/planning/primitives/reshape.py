"""Views that reorder, merge or split dimensions, and the channel shuffle: no parameters, no MACs,
nothing saved."""

from __future__ import annotations

import math

from ..nodes import Node, Shape, ShapeError
from .record import Arg, Code, Cost, Op, Primitive, keeps_nothing, view


def _chunks(x: Shape, a: dict) -> Cost:
    c, chunks = x[0], a["chunks"]
    if c % chunks:
        raise ShapeError(f"split of {c} channels into {chunks} equal chunks: {chunks} does not divide {c}",
                         "choose chunks (or channels) so that they divide", "AS303")
    return (c // chunks, *x[1:]), 0, 0


def _shuffled(x: Shape, a: dict) -> Cost:
    if x[0] % a["groups"]:
        raise ShapeError(f"channel shuffle of {x[0]} channels in {a['groups']} groups: {a['groups']} does not "
                         f"divide {x[0]}", "choose groups (or channels) so that they divide", "AS303")
    return x, 0, 0


FLATTEN = Primitive("flatten", "reshape", "one vector per sample", Code("nn.Flatten"), view,
                    rule=lambda x, a: ((math.prod(x),), 0, 0), written=Op("flatten to a vector", {}))
PERMUTE = Primitive("permute", "reshape", "reorder the dimensions after the batch's", Code("Permute", ("dims",)),
                    view, rule=lambda x, a: (tuple(x[d] for d in a["dims"]), 0, 0))
IDENTITY = Primitive("identity", "reshape", "its input, unchanged", Code("nn.Identity"), view,
                     written=Op("its input, unchanged", {}))
# Its outputs are views of its input, as torch.chunk's (ShuffleNetV2's x.chunk(2, dim=1)).
SPLIT = Primitive("split", "reshape", "its input's channels in `chunks` equal parts, read as `name.0`, `name.1` …",
                  Code("Split", ("chunks",)), view, _chunks, outputs="chunks",
                  written=Op("its input's channels in equal chunks: read as `name.0`, `name.1`, ...",
                             {"chunks": Arg("int", required=True)}, outputs="chunks"))
# view, transpose, contiguous, view: one copy, as torchvision's channel_shuffle.
CHANNEL_SHUFFLE = Primitive("channel_shuffle", "reshape", "interleave the channels of `groups` groups "
                                                          "(ShuffleNet, Zhang et al. 2018)",
                            Code("ChannelShuffle", ("groups",)), keeps_nothing, _shuffled,
                            written=Op("channel shuffle", {"groups": Arg("int", required=True)}))
RECORDS = (FLATTEN, PERMUTE, IDENTITY, SPLIT, CHANNEL_SHUFFLE)


def flatten(name: str, x: Shape) -> Node:
    return FLATTEN.node(name, x, {})


def permute(name: str, x: Shape, dims: tuple[int, ...]) -> Node:
    """Reorder the dimensions (without the batch's): (1, 2, 0) takes C×H×W to H×W×C."""
    return PERMUTE.node(name, x, dict(dims=dims))
