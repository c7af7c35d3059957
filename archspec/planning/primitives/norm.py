"""Norms: batch, group and layer norm. They cost no MACs in the reference counting."""

from __future__ import annotations

import math

from ..nodes import Node, Shape, ShapeError
from .record import Arg, Code, Op, Primitive, Tensor


def _affine(c: int) -> list[tuple[str, Tensor]]:
    return [("weight", Tensor((c,), True)), ("bias", Tensor((c,), True))]


def _batchnorm_saves(w, node: Node, x):
    """The input, and the batch's mean and inverse std per channel (in the model's dtype)."""
    c = node.shape[0]
    w.keep(x, w.new((c,), per_sample=False), w.new((c,), per_sample=False))
    return w.new(node.shape)


def _groupnorm_saves(w, node: Node, x):
    """The input, and the mean and inverse std of each sample's groups."""
    groups = node.args["num_groups"]
    w.keep(x, w.new((groups,)), w.new((groups,)))
    return w.new(node.shape)


def _layernorm_saves(w, node: Node, x):
    """The input, and the mean and inverse std of each vector over the last dimension."""
    vectors = node.shape[:-1]
    w.keep(x, w.new(vectors), w.new(vectors))
    return w.new(node.shape)


def _layernorm2d_saves(w, node: Node, x):
    """The input, and the mean and inverse std of each pixel's channels."""
    vectors = node.shape[1:]
    w.keep(x, w.new(vectors), w.new(vectors))
    return w.new(node.shape)


def _groups_split(x: Shape, a: dict) -> ShapeError | None:
    groups, c = a["num_groups"], a["num_channels"]
    if c % groups:
        return ShapeError(f"groupnorm with {groups} groups cannot split {c} channels",
                          f"set `norm_groups:` to a divisor of {c} such as {math.gcd(groups, c)}, or change the "
                          "channels", code="AS307", key="norm_groups")
    return None


BATCHNORM = Primitive(
    "batchnorm", "norm", "batch norm over each channel, with running statistics",
    Code("nn.BatchNorm2d", ("num_features",), dict(eps=1e-5, momentum=0.1)), _batchnorm_saves,
    rule=lambda x, a: (x, 2 * a["num_features"], 0),
    tensors=lambda a: [*_affine(a["num_features"]), ("running_mean", Tensor((a["num_features"],), False)),
                       ("running_var", Tensor((a["num_features"],), False)),
                       ("num_batches_tracked", Tensor((), False))],
    folds=True, written=Op("batch norm", {}))
GROUPNORM = Primitive(
    "groupnorm", "norm", "group norm (Wu & He 2018)",
    Code("nn.GroupNorm", ("num_groups", "num_channels"), dict(eps=1e-5)), _groupnorm_saves,
    rule=lambda x, a: (x, 2 * a["num_channels"], 0), tensors=lambda a: _affine(a["num_channels"]), check=_groups_split,
    written=Op("group norm", {"groups": Arg("int")}))
LAYERNORM = Primitive(
    "layernorm", "norm", "layer norm over the last dimension (channels-last maps, features)",
    Code("nn.LayerNorm", ("normalized_shape",), dict(eps=1e-5)), _layernorm_saves,
    rule=lambda x, a: (x, 2 * a["normalized_shape"], 0), tensors=lambda a: _affine(a["normalized_shape"]),
    written=Op("layer norm over the channels", {}))
LAYERNORM2D = Primitive(
    "layernorm2d", "norm", "layer norm over each pixel's channels (torchvision's and timm's LayerNorm2d)",
    Code("LayerNorm2d", ("normalized_shape",), dict(eps=1e-5)), _layernorm2d_saves,
    rule=lambda x, a: (x, 2 * a["normalized_shape"], 0), tensors=lambda a: _affine(a["normalized_shape"]))
RECORDS = (BATCHNORM, GROUPNORM, LAYERNORM, LAYERNORM2D)


def norm(name: str, settings, x: Shape) -> Node | None:
    """The norm of `settings.norm` over `x`'s channels (a C×H×W map), or None for `norm: none`.
    `layernorm` normalises each pixel over its channels (torchvision's LayerNorm2d)."""
    kind, c, eps = settings.norm, x[0], settings.norm_eps
    if kind == "none":
        return None
    if kind == "groupnorm":
        return GROUPNORM.node(name, x, dict(num_groups=settings.norm_groups, num_channels=c, eps=eps))
    if kind == "layernorm":
        return LAYERNORM2D.node(name, x, dict(normalized_shape=c, eps=eps))
    return BATCHNORM.node(name, x, dict(num_features=c, eps=eps, momentum=settings.norm_momentum))


def layernorm(name: str, x: Shape, eps: float) -> Node:
    """LayerNorm over the last dimension (channels-last maps, or features)."""
    return LAYERNORM.node(name, x, dict(normalized_shape=x[-1], eps=eps))
