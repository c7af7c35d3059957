"""Stem and head layouts, one per type declared in kinds.py (STEMS, HEADS), as block kinds have
theirs in blocks/. A layout takes its part of the spec, the input shape, the network-wide
settings and whether the first (for a stem) or last (for a head) block pre-activates, and
returns the part's nodes. A `ShapeError` it raises names the layer (and, in `key`, the
setting) at fault; `at` the spec key under the part that holds it, where there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .kinds import HEADS, STEMS
from .nodes import Node, Shape, ShapeError, sequential
from .primitives.act import act
from .primitives.conv import conv
from .primitives.linear import linear
from .primitives.norm import norm
from .primitives.pool import adaptive_pool, global_pool, pool
from .primitives.regularize import dropout
from .primitives.reshape import flatten

if TYPE_CHECKING:
    from .kinds import Settings

PartLayout = Callable[[Any, Shape, "Settings", bool], list[Node]]  # (stem or head, input, defaults, preact) → nodes


def _present(nodes: list[Node | None]) -> list[Node]:
    return [n for n in nodes if n is not None]


def _stem_pool(stem, c: Node, d: Settings) -> Node | None:
    """After the stem's convs: a 3×3 stride-2 pool, or a strided conv + norm + act in its place
    (named as timm's replace_stem_pool)."""
    if stem.pool == "conv":
        strided = conv("0", c.shape, c.shape[0], 3, 2, bias=d.norm == "none")
        return sequential("maxpool", [strided, norm("1", d, strided.shape), act("2", d.act, strided.shape)])
    if stem.pool == "none":
        return None
    return pool("maxpool" if stem.pool == "max" else "pool", stem.pool + "pool", c.shape, 3, 2, 1)


def conv_stem(stem, x: Shape, d: Settings, preact: bool) -> list[Node]:
    """One conv, norm and act (none before a pre-activated block, which norms its input itself), pool."""
    c = conv("conv1", x, stem.channels, stem.kernel, stem.stride, padding=stem.padding, bias=d.norm == "none")
    activated = [] if preact else [norm("bn1", d, c.shape), act(d.act, d.act, c.shape)]
    return _present([c, *activated, _stem_pool(stem, c, d)])


def deep_stem(stem, x: Shape, d: Settings, preact: bool) -> list[Node]:
    """`conv1`: 3×3 convs with norm and act between, indexed as timm's deep stem (conv 0, norm 1,
    act 2, conv 3, ...); then norm, act and pool as the conv stem."""
    bias, nodes = d.norm == "none", []
    try:
        for k, channels in enumerate(stem.channels):
            if k:
                nodes += [norm(str(3 * k - 2), d, x), act(str(3 * k - 1), d.act, x)]
            c = conv(str(3 * k), x, channels, 3, stem.stride if k == 0 else 1, bias=bias)
            nodes.append(c)
            x = c.shape
    except ShapeError as e:
        e.layer = f"conv1.{e.layer}"
        raise
    c = sequential("conv1", nodes)
    activated = [] if preact else [norm("bn1", d, c.shape), act(d.act, d.act, c.shape)]
    return _present([c, *activated, _stem_pool(stem, c, d)])


def patchify_stem(stem, x: Shape, d: Settings, preact: bool) -> list[Node]:
    c = conv("conv1", x, stem.channels, stem.patch, stem.patch, padding=0, bias=True)
    return _present([c, norm("bn1", d, c.shape)])


def no_part(part, x: Shape, d: Settings, preact: bool) -> list[Node]:
    return []


def classifier_head(head, x: Shape, d: Settings, preact: bool) -> list[Node]:
    """[1×1 conv, norm, act] → pool → [norm] → flatten → [hidden linear, act, dropout]… → dropout → linear."""
    nodes: list[Node | None] = []
    if head.conv:
        c = conv("conv_head", x, head.conv, 1, bias=d.norm == "none")
        try:
            nodes += [c, norm("bn_head", d, c.shape), act(f"{d.act}_head", d.act, c.shape)]
        except ShapeError as e:
            e.at = ("conv",)
            raise
        x = c.shape
    if head.pool == "flatten" and head.pool_size != [1, 1]:
        e = ShapeError("`pool_size` is the size a pool gives, and `pool: flatten` has no pool",
                       "remove pool_size, or set `pool: avg` or `max`", "AS305", layer="flatten")
        e.at = ("pool_size",)
        raise e
    if head.pool != "flatten":
        pooled = adaptive_pool("avgpool" if head.pool == "avg" else "globalpool", head.pool, x, head.pool_size)
        nodes += [pooled, norm("head_norm", d, pooled.shape) if head.norm else None]
        x = pooled.shape
    nodes.append(flatten("flatten", x))
    x = nodes[-1].shape
    hidden_act = head.hidden_act or d.act
    for j, width in enumerate(head.hidden, 1):
        nodes.append(linear(f"fc{j}", x, width))
        x = nodes[-1].shape
        nodes.append(act(f"{hidden_act}_fc{j}", hidden_act, x))
        nodes.append(dropout(f"dropout_fc{j}", x, head.hidden_dropout))
    return _present(nodes + [dropout("dropout", x, head.dropout), linear("fc", x, head.classes)])


def conv_classifier_head(head, x: Shape, d: Settings, preact: bool) -> list[Node]:
    """dropout → 1×1 conv to the classes, with a bias → act → global average pool → flatten (SqueezeNet's
    `classifier`: its logits pass the act)."""
    c = conv("classifier", x, head.classes, 1, bias=True)
    pooled = global_pool("avgpool", "global_avgpool", c.shape)
    return _present([dropout("dropout", x, head.dropout), c, act(f"{head.act}_head", head.act, c.shape), pooled,
                     flatten("flatten", pooled.shape)])


STEM_LAYOUTS: dict[str, PartLayout] = {"conv": conv_stem, "deep": deep_stem, "patchify": patchify_stem,
                                       "none": no_part}
# A features head keeps the network's modules up to its last output: the planner cuts them (plan.py).
# A block head takes several maps of the network: the planner lays it out (planning/necks.py).
HEAD_LAYOUTS: dict[str, PartLayout] = {"classifier": classifier_head, "conv_classifier": conv_classifier_head,
                                       "features": no_part, "block": no_part, "none": no_part}
if set(STEM_LAYOUTS) != set(STEMS) or set(HEAD_LAYOUTS) != set(HEADS):
    raise TypeError("the stems and heads declared in kinds.py and laid out here differ")
