"""Channel attention: squeeze-excitation and ECA. Each gates the channels of its input."""

from __future__ import annotations

import math

from ..nodes import Node, Shape
from .act import ACTIVATIONS
from .record import Arg, Code, Op, Primitive, Tensor, keeps_input


def _se_saves(w, node: Node, x):
    """Its layers in turn on 1×1 maps: the pooled input (a mean: free) into fc1, the act (in
    place), fc2, the gate; then the product keeps both its factors, the input and the gate."""
    c, reduced = node.args["channels"], node.args["reduced"]
    act, gate = ACTIVATIONS[node.args.get("act", "relu")], ACTIVATIONS[node.args.get("gate", "sigmoid")]
    hidden = keeps_input(w, Node("fc1", "conv", (reduced, 1, 1)), w.new((c, 1, 1)))
    hidden = act.saves(w, Node("act", act.kind, (reduced, 1, 1), args={"inplace": True}), hidden)
    scale = keeps_input(w, Node("fc2", "conv", (c, 1, 1)), hidden)
    w.keep(x, gate.saves(w, Node("gate", gate.kind, (c, 1, 1)), scale))
    return w.new(node.shape)


def _se_tensors(a: dict) -> list[tuple[str, Tensor]]:
    c, r = a["channels"], a["reduced"]
    return [("fc1.weight", Tensor((r, c, 1, 1), True)), ("fc1.bias", Tensor((r,), True)),
            ("fc2.weight", Tensor((c, r, 1, 1), True)), ("fc2.bias", Tensor((c,), True))]


def _eca_saves(w, node: Node, x):
    """The pooled input (the 1-D conv's input), the sigmoid gate, and the input (the product)."""
    c = node.shape[0]
    w.keep(w.new((c,)), w.new((c,)), x)
    return w.new(node.shape)


SQUEEZE_EXCITE = Primitive(
    "se", "attention", "squeeze-excitation (Hu et al. 2018): global average, 1×1 conv, act, 1×1 conv back, gate; "
                       "its convs act on 1×1 maps, so each costs in × out MACs",
    Code("SqueezeExcite", ("channels", "reduced"), dict(act="relu", gate="sigmoid"), needs=("ACTIVATIONS",)),
    _se_saves,
    rule=lambda x, a: (x, (2 * a["channels"] + 1) * a["reduced"] + a["channels"], 2 * a["channels"] * a["reduced"]),
    tensors=_se_tensors,
    init_parts=(("fc1", "conv"), ("fc2", "conv")),
    written=Op("squeeze-excitation", {"reduced": Arg("int", required=True), "act": Arg(tuple(ACTIVATIONS), "relu"),
                                      "gate": Arg(("sigmoid", "hardsigmoid"), "sigmoid")}))
# The reference counting has no 1-D convs (Conv2d and Linear only): no MACs. Its Conv1d keeps
# PyTorch's initialisation in every scheme, as timm's.
ECA = Primitive(
    "eca", "attention", "efficient channel attention (Wang et al. 2020): global average, a 1-D conv across the "
                        "channels, sigmoid gate; timm's EcaModule",
    Code("EfficientChannelAttention", ("kernel_size",)), _eca_saves,
    rule=lambda x, a: (x, a["kernel_size"], 0), tensors=lambda a: [("conv.weight", Tensor((1, 1, a["kernel_size"]), True))])
RECORDS = (SQUEEZE_EXCITE, ECA)


def squeeze_excite(name: str, x: Shape, reduced: int, act: str = "relu", gate: str = "sigmoid") -> Node:
    return SQUEEZE_EXCITE.node(name, x, dict(channels=x[0], reduced=reduced, act=act, gate=gate))


def eca_kernel(channels: int) -> int:
    """ECA's kernel size: |log2(C) + 1| / 2, made odd, at least 3 (Wang et al. 2020; timm's rule)."""
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


def eca(name: str, x: Shape) -> Node:
    return ECA.node(name, x, dict(kernel_size=eca_kernel(x[0])))
