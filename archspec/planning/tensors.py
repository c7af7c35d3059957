"""The `state_dict` a plan's model will have — every key, shape, and whether it is a
parameter or a buffer — worked out from the plan alone, without torch.

`diff` compares two of these for weight compatibility; `check-weights` compares one
with a weights file. Each primitive that holds tensors has one entry in `TENSORS`;
containers hold their children's, prefixed with the child's name (module order, as
`nn.Module.state_dict()` lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .layers import Node
from .plan import Plan

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Tensor:
    shape: Shape
    parameter: bool  # False for buffers (a norm's running statistics)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def _pair(k: int | tuple[int, int]) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)


def _conv(a: dict) -> list[tuple[str, Tensor]]:
    out = a["out_channels"]
    weight = Tensor((out, a["in_channels"] // a.get("groups", 1), *_pair(a["kernel_size"])), True)
    return [("weight", weight)] + ([("bias", Tensor((out,), True))] if a.get("bias", True) else [])


def _batchnorm(a: dict) -> list[tuple[str, Tensor]]:
    c = (a["num_features"],)
    return [("weight", Tensor(c, True)), ("bias", Tensor(c, True)), ("running_mean", Tensor(c, False)),
            ("running_var", Tensor(c, False)), ("num_batches_tracked", Tensor((), False))]


def _groupnorm(a: dict) -> list[tuple[str, Tensor]]:
    c = (a["num_channels"],)
    return [("weight", Tensor(c, True)), ("bias", Tensor(c, True))]


def _layernorm(a: dict) -> list[tuple[str, Tensor]]:
    c = (a["normalized_shape"],)
    return [("weight", Tensor(c, True)), ("bias", Tensor(c, True))]


def _linear(a: dict) -> list[tuple[str, Tensor]]:
    out = a["out_features"]
    return [("weight", Tensor((out, a["in_features"]), True)), ("bias", Tensor((out,), True))]


def _se(a: dict) -> list[tuple[str, Tensor]]:
    c, r = a["channels"], a["reduced"]
    return [("fc1.weight", Tensor((r, c, 1, 1), True)), ("fc1.bias", Tensor((r,), True)),
            ("fc2.weight", Tensor((c, r, 1, 1), True)), ("fc2.bias", Tensor((c,), True))]


def _eca(a: dict) -> list[tuple[str, Tensor]]:
    return [("conv.weight", Tensor((1, 1, a["kernel_size"]), True))]  # a 1-D conv across the channels


def _layer_scale(a: dict) -> list[tuple[str, Tensor]]:
    return [("gamma", Tensor((a["channels"], 1, 1), True))]


# Node kind → the tensors its module holds. Kinds not listed (activations, pools, ...) hold none.
TENSORS: dict[str, Callable[[dict], list[tuple[str, Tensor]]]] = {
    "conv": _conv,
    "batchnorm": _batchnorm,
    "groupnorm": _groupnorm,
    "layernorm": _layernorm,
    "layernorm2d": _layernorm,
    "linear": _linear,
    "se": _se,
    "eca": _eca,
    "layer_scale": _layer_scale,
}


def state_dict_of(plan: Plan) -> dict[str, Tensor]:
    """Every tensor of the model `plan` builds, by its `state_dict` key, in `state_dict` order."""
    out: dict[str, Tensor] = {}
    _collect(plan.root, "", out)
    return out


def _collect(node: Node, prefix: str, out: dict[str, Tensor]) -> None:
    for name, tensor in TENSORS.get(node.kind, lambda a: [])(node.args):
        out[prefix + name] = tensor
    for child in node.children:
        _collect(child, f"{prefix}{child.name}.", out)
