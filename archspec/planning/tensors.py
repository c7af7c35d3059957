"""The `state_dict` a plan's model will have — every key, shape, and whether it is a
parameter or a buffer — worked out from the plan alone, without torch.

`diff` compares two of these for weight compatibility; `check-weights` compares one
with a weights file. Each primitive's record lists the tensors its module holds;
containers hold their children's, prefixed with the child's name (module order, as
`nn.Module.state_dict()` lists them).
"""

from __future__ import annotations

from .nodes import Node, Shape
from .plan import Plan
from .primitives import PRIMITIVES, Tensor

__all__ = ["Shape", "Tensor", "state_dict_of"]


def state_dict_of(plan: Plan) -> dict[str, Tensor]:
    """Every tensor of the model `plan` builds, by its `state_dict` key, in `state_dict` order."""
    out: dict[str, Tensor] = {}
    _collect(plan.root, "", out)
    return out


def _collect(node: Node, prefix: str, out: dict[str, Tensor]) -> None:
    primitive = PRIMITIVES.get(node.kind)  # None for a container
    if primitive is not None:
        for name, tensor in primitive.tensors(node.args):
            out[prefix + name] = tensor
    for child in node.children:
        _collect(child, f"{prefix}{child.name}.", out)
