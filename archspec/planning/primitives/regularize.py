"""Regularizers: the identity in eval mode; in training they drop values."""

from __future__ import annotations

from ..nodes import Node, Shape
from .record import Arg, Code, Op, Primitive


def _dropout_saves(w, node: Node, x):
    """On CPU the scaled mask, in the model's dtype (CUDA's fused kernel keeps a 1-byte mask)."""
    w.keep(w.new(node.shape))
    return w.new(node.shape)


def _drop_path_saves(w, node: Node, x):
    """One keep-or-drop value per sample."""
    w.keep(w.new((1,)))
    return w.new(node.shape)


DROPOUT = Primitive("dropout", "regularizer", "zero each value with probability p in training",
                    Code("nn.Dropout", ("p",)), _dropout_saves,
                    written=Op("dropout", {"p": Arg("float", required=True)}))
DROP_PATH = Primitive("drop_path", "regularizer", "stochastic depth (Huang et al. 2016): drop a sample's whole "
                                                  "branch with probability p in training",
                      Code("DropPath", ("p",)), _drop_path_saves)
RECORDS = (DROPOUT, DROP_PATH)


def dropout(name: str, x: Shape, p: float) -> Node | None:
    return DROPOUT.node(name, x, dict(p=p)) if p > 0 else None


def drop_path(name: str, x: Shape, p: float) -> Node | None:
    return DROP_PATH.node(name, x, dict(p=p)) if p > 0 else None
