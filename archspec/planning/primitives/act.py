"""Activations. In place where torch allows it (less memory, as torchvision's), unless the
caller needs the input afterwards. No parameters, no MACs."""

from __future__ import annotations

from ..nodes import Node, Shape
from .record import Code, Op, Primitive, keeps_input


def _keeps_output(w, node: Node, x):
    """ReLU, sigmoid: the output (in place, the input's storage)."""
    if node.args.get("inplace"):
        w.keep(x)
        return x
    out = w.new(node.shape)
    w.keep(out)
    return out


def _keeps_input_or_itself(w, node: Node, x):
    """LeakyReLU: its input out of place; in place, the output, which is the input's storage."""
    if node.args.get("inplace"):
        w.keep(x)
        return x
    w.keep(x)
    return w.new(node.shape)


def _keeps_original_input(w, node: Node, x):
    """SiLU, Hardswish, Hardsigmoid, ReLU6: the derivative needs the input, so in place autograd
    keeps a copy of it."""
    if node.args.get("inplace"):
        w.keep(w.new(node.shape))
        return x
    w.keep(x)
    return w.new(node.shape)


_INPLACE = {"inplace": False}


def _act(kind: str, cls: str, summary: str, saves, inplace: bool = True) -> Primitive:
    return Primitive(kind, "act", summary, Code(cls, defaults=_INPLACE if inplace else {}), saves,
                     written=Op(f"{kind} activation", {}))


RECORDS = (
    _act("relu", "nn.ReLU", "max(x, 0)", _keeps_output),
    _act("relu6", "nn.ReLU6", "min(max(x, 0), 6)", _keeps_original_input),  # hardtanh's derivative reads its input
    _act("silu", "nn.SiLU", "x · sigmoid(x) (swish)", _keeps_original_input),
    _act("gelu", "nn.GELU", "Gaussian error linear unit", keeps_input, inplace=False),
    _act("leaky_relu", "nn.LeakyReLU", "max(x, 0.01 x)", _keeps_input_or_itself),
    _act("hardswish", "nn.Hardswish", "x · hardsigmoid(x)", _keeps_original_input),
    _act("hardsigmoid", "nn.Hardsigmoid", "min(max(x / 6 + 1/2, 0), 1)", _keeps_original_input),
    _act("sigmoid", "nn.Sigmoid", "1 / (1 + e^-x)", _keeps_output, inplace=False),
)
ACTIVATIONS = {r.kind: r for r in RECORDS}


def act(name: str, kind: str, x: Shape, inplace: bool = True) -> Node | None:
    """An activation, or None for `act: none`; in place unless the caller says its input is needed
    afterwards (or torch has no in-place form)."""
    if kind == "none":
        return None
    record = ACTIVATIONS[kind]
    return record.node(name, x, dict(inplace=True) if inplace and record.code.defaults else {})
