"""Plan → torch.nn.Module. The only module that imports torch.

The plan already holds every shape and constructor argument, so this file
makes no decisions: it maps each node kind to a module class.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Node
from .plan import Plan


class Residual(nn.Module):
    """`post(main(x) + shortcut(x))`; the children keep their plan names (torchvision's)."""

    def __init__(self, children: dict[str, nn.Module], main: list[str], shortcut: str | None, add: bool,
                 post: list[str]):
        super().__init__()
        for name, module in children.items():
            self.add_module(name, module)
        self.main, self.shortcut, self.add, self.post = tuple(main), shortcut, add, tuple(post)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for name in self.main:
            out = getattr(self, name)(out)
        if self.add:
            out = out + (x if self.shortcut is None else getattr(self, self.shortcut)(x))
        for name in self.post:
            out = getattr(self, name)(out)
        return out


class ZeroPad(nn.Module):
    """Option A shortcut (He et al. 2015): subsample by the stride, append zero channels."""

    def __init__(self, stride: int, channels: int):
        super().__init__()
        self.stride, self.channels = stride, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, channels=+{self.channels}"


PRIMITIVES: dict[str, type[nn.Module]] = {
    "conv": nn.Conv2d,
    "batchnorm": nn.BatchNorm2d,
    "relu": nn.ReLU,
    "maxpool": nn.MaxPool2d,
    "avgpool": nn.AvgPool2d,
    "global_avgpool": nn.AdaptiveAvgPool2d,
    "global_maxpool": nn.AdaptiveMaxPool2d,
    "flatten": nn.Flatten,
    "dropout": nn.Dropout,
    "linear": nn.Linear,
    "zeropad": ZeroPad,
}
GLOBAL_POOL_ARGS = {"global_avgpool": {"output_size": 1}, "global_maxpool": {"output_size": 1}}


def to_module(node: Node) -> nn.Module:
    if node.kind == "sequential":
        return nn.Sequential(OrderedDict((c.name, to_module(c)) for c in node.children))
    if node.kind == "residual":
        a = node.args
        return Residual({c.name: to_module(c) for c in node.children}, a["main"], a["shortcut"], a["add"], a["post"])
    return PRIMITIVES[node.kind](**node.args, **GLOBAL_POOL_ARGS.get(node.kind, {}))


def init_weights(model: nn.Module, root: Node) -> None:
    """torchvision's ResNet initialisation, in the same module order (so a seed gives the same weights)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    _zero_init_residual(model, root)


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
