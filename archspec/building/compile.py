"""Plan → torch.nn.Module.

The plan already holds every shape and constructor argument: each primitive's
record makes its module, and this file adds the containers (sequential,
residual, features, graph). The one choice made here is the initial weights: each
scheme of `INIT_SCHEMES` as its reference writes it, applied by the primitives'
roles, since weights exist only as tensors.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from ..planning.nodes import CONTAINERS, Node, pick
from ..planning.plan import Plan
from ..planning.primitives import record


class Residual(nn.Module):
    """`post(main(pre(x)) + shortcut(x))`; the children keep their plan names (torchvision's).

    A shortcut module takes the pre-activated input `pre(x)` (ResNet v2); an
    identity shortcut takes `x` itself."""

    def __init__(self, children: dict[str, nn.Module], pre: list[str], main: list[str], shortcut: str | None,
                 add: bool, post: list[str]):
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self.pre, self.main, self.shortcut, self.add, self.post = tuple(pre), tuple(main), shortcut, add, tuple(post)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for name in self.pre:
            out = getattr(self, name)(out)
        branch_input = out
        for name in self.main:
            out = getattr(self, name)(out)
        if self.add:
            out = out + (x if self.shortcut is None else getattr(self, self.shortcut)(branch_input))
        for name in self.post:
            out = getattr(self, name)(out)
        return out


class Features(nn.Module):
    """The network's modules in order, returning the maps of the named ones in the order asked
    (a `features` head, as timm's `features_only`)."""

    def __init__(self, children: dict[str, nn.Module], outputs: list[str]):
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self.outputs = tuple(outputs)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taken = {}
        for name, module in self.named_children():
            x = module(x)
            if name in self.outputs:
                taken[name] = x
        return [taken[name] for name in self.outputs]


class Graph(nn.Module):
    """A block of any acyclic graph: each child, in order, on the maps `wiring` names (an input, a
    child, or `child.k`, the k-th output of a split); the children keep their plan names."""

    def __init__(self, children: dict[str, nn.Module], inputs: list[str], wiring: list[tuple[str, list[str]]],
                 outputs: list[str]):
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)
        self.wiring = tuple((name, tuple(refs)) for name, refs in wiring)

    def forward(self, *inputs: torch.Tensor):
        values = dict(zip(self.inputs, inputs))
        for name, refs in self.wiring:
            values[name] = getattr(self, name)(*(pick(values, ref) for ref in refs))
        if len(self.outputs) == 1:
            return pick(values, self.outputs[0])
        return tuple(pick(values, ref) for ref in self.outputs)


class Network(Graph):
    """A network whose head is a block (a neck, a decoder): a graph of one input, called as every
    network is, `forward(x)`, which export needs to name the input's dimensions."""

    def forward(self, x: torch.Tensor):
        return super().forward(x)


def to_module(node: Node) -> nn.Module:
    if node.kind == "sequential":
        return nn.Sequential(OrderedDict((c.name, to_module(c)) for c in node.children))
    if node.kind == "features":
        return Features({c.name: to_module(c) for c in node.children}, node.args["outputs"])
    if node.kind == "residual":
        a = node.args
        children = {c.name: to_module(c) for c in node.children}
        return Residual(children, a["pre"], a["main"], a["shortcut"], a["add"], a["post"])
    if node.kind == "graph":
        a = node.args
        graph = Network if "head_outputs" in a else Graph  # the root of a network with a block head
        return graph({c.name: to_module(c) for c in node.children}, a["inputs"], a["wiring"], a["outputs"])
    return record(node).build(node)


def _kaiming_out(m: nn.Module) -> None:
    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def _kaiming_in(m: nn.Module) -> None:
    nn.init.kaiming_normal_(m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def _zero_bias(m: nn.Module) -> None:
    nn.init.zeros_(m.bias)


def _ones_zeros(m: nn.Module) -> None:
    nn.init.ones_(m.weight)
    nn.init.zeros_(m.bias)


def _normal_001(m: nn.Module) -> None:
    nn.init.normal_(m.weight, 0, 0.01)
    nn.init.zeros_(m.bias)


def _uniform_inv_sqrt_out(m: nn.Module) -> None:
    bound = 1.0 / math.sqrt(m.out_features)
    nn.init.uniform_(m.weight, -bound, bound)
    nn.init.zeros_(m.bias)


def _kaiming_uniform_out_linear(m: nn.Module) -> None:
    nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
    nn.init.zeros_(m.bias)


def _kaiming_uniform(m: nn.Module) -> None:
    nn.init.kaiming_uniform_(m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def _trunc_normal_002(m: nn.Module) -> None:
    nn.init.trunc_normal_(m.weight, std=0.02)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


# Each scheme of INIT_SCHEMES as its reference writes it: how it re-initialises a primitive of each
# role (conv, norm, linear), in module order; the others keep PyTorch's initialisation. LAST_CONV:
# the network's last conv instead of the conv rule (SqueezeNet's conv classifier).
LAST_CONV = "last conv"
INIT: dict[str, dict[str, Callable[[nn.Module], None]]] = {
    "resnet": {"conv": _kaiming_out, "norm": _ones_zeros},
    "mobilenet": {"conv": _kaiming_out, "norm": _ones_zeros, "linear": _normal_001},
    "regnet": {"conv": _kaiming_out, "norm": _ones_zeros, "linear": _normal_001},
    "efficientnet": {"conv": _kaiming_out, "norm": _ones_zeros, "linear": _uniform_inv_sqrt_out},
    "convnext": {"conv": _trunc_normal_002, "linear": _trunc_normal_002},
    "mnasnet": {"conv": _kaiming_out, "norm": _ones_zeros, "linear": _kaiming_uniform_out_linear},
    "pytorch": {},
    "vgg": {"conv": _kaiming_out, "norm": _ones_zeros, "linear": _normal_001},
    "densenet": {"conv": _kaiming_in, "norm": _ones_zeros, "linear": _zero_bias},
    "squeezenet": {"conv": _kaiming_uniform, LAST_CONV: _normal_001},
}


def init_weights(model: nn.Module, root: Node) -> None:
    """Initialise as the plan's scheme says, visiting the modules in the reference's order (so
    that a seed gives the reference's weights), then zero-init residual branches if asked."""
    scheme = INIT[root.args.get("init", "resnet")]
    last = _last_conv(root) if LAST_CONV in scheme else None
    _init(model, root, scheme, last)
    _zero_init_residual(model, root)


def _init(module: nn.Module, node: Node, scheme: dict[str, Callable[[nn.Module], None]], last: Node | None) -> None:
    if node.kind in CONTAINERS:
        for child in node.children:
            _init(getattr(module, child.name), child, scheme, last)
        return
    primitive = record(node)
    role = LAST_CONV if node is last else primitive.role
    if role in scheme:
        scheme[role](module)
    for part, role in primitive.init_parts:  # an SE's two convs
        if role in scheme:
            scheme[role](getattr(module, part))


def _last_conv(node: Node) -> Node | None:
    for child in reversed(node.children):
        found = _last_conv(child) if child.kind in CONTAINERS else child if record(child).role == "conv" else None
        if found is not None:
            return found
    return None


def _zero_init_residual(module: nn.Module, node: Node) -> None:
    """Each block starts as the identity: zero the last norm's scale (Goyal et al. 2017)."""
    if node.kind == "residual" and node.args.get("zero_init"):
        nn.init.zeros_(getattr(module, node.args["zero_init"]).weight)
    for child in node.children:
        _zero_init_residual(getattr(module, child.name), child)


def compile_plan(plan: Plan, seed: int | None = None, device=None) -> nn.Module:
    """Build the module tree of `plan` and initialise it."""
    rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    with rng, torch.device(device or "cpu"):
        if seed is not None:
            torch.manual_seed(seed)
        model = to_module(plan.root)
        init_weights(model, plan.root)
    return model
