"""Plan → torch.nn.Module. The only module that imports torch.

The plan already holds every shape and constructor argument: this file maps
each node kind to a module class. The one choice made here is the initial
weights (torchvision's ResNet scheme, `init_weights`), since they exist only
as tensors.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..planning.layers import Node
from ..planning.plan import Plan


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


class SqueezeExcite(nn.Module):
    """Hu et al. 2018; the names (`fc1`, `fc2`) are timm's and torchvision's."""

    def __init__(self, channels: int, reduced: int, act: str = "relu", gate: str = "sigmoid"):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = PRIMITIVES[act](inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = PRIMITIVES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * self.gate(scale)


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al. 2020): a 1-D conv across the pooled channels; timm's `EcaModule` (`conv`)."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))
        return x * y.sigmoid().view(x.shape[0], -1, 1, 1)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map (torchvision's and timm's LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """Reorder the dimensions after the batch's."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = (0, *(d + 1 for d in dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)


class LayerScale(nn.Module):
    """A learned per-channel scale (Touvron et al. 2021), as ConvNeXt's `layer_scale`."""

    def __init__(self, channels: int, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels, 1, 1) * init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * x


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a sample's branch with probability p and scale
    the kept ones by 1 / (1 - p); the identity in eval mode (as timm's DropPath)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


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
    "groupnorm": nn.GroupNorm,
    "layernorm": nn.LayerNorm,
    "layernorm2d": LayerNorm2d,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "se": SqueezeExcite,
    "eca": EfficientChannelAttention,
    "permute": Permute,
    "layer_scale": LayerScale,
    "drop_path": DropPath,
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
    if node.kind == "features":
        return Features({c.name: to_module(c) for c in node.children}, node.args["outputs"])
    if node.kind == "residual":
        a = node.args
        children = {c.name: to_module(c) for c in node.children}
        return Residual(children, a["pre"], a["main"], a["shortcut"], a["add"], a["post"])
    return PRIMITIVES[node.kind](**node.args, **GLOBAL_POOL_ARGS.get(node.kind, {}))


def _kaiming_out(m: nn.Module) -> None:
    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    if m.bias is not None:
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


def _trunc_normal_002(m: nn.Module) -> None:
    nn.init.trunc_normal_(m.weight, std=0.02)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


# Each scheme of blocks.INIT_SCHEMES as its reference writes it: which primitive modules it
# re-initialises, and how; the others keep PyTorch's initialisation from their construction.
_NORMS = (nn.BatchNorm2d, nn.GroupNorm)
INIT: dict[str, dict[tuple[type[nn.Module], ...], Callable[[nn.Module], None]]] = {
    "resnet": {(nn.Conv2d,): _kaiming_out, _NORMS: _ones_zeros},
    "mobilenet": {(nn.Conv2d,): _kaiming_out, _NORMS: _ones_zeros, (nn.Linear,): _normal_001},
    "regnet": {(nn.Conv2d,): _kaiming_out, _NORMS: _ones_zeros, (nn.Linear,): _normal_001},
    "efficientnet": {(nn.Conv2d,): _kaiming_out, _NORMS: _ones_zeros, (nn.Linear,): _uniform_inv_sqrt_out},
    "convnext": {(nn.Conv2d, nn.Linear): _trunc_normal_002},
}


def init_weights(model: nn.Module, root: Node) -> None:
    """Initialise as the plan's scheme says, visiting the modules in the reference's order (so
    that a seed gives the reference's weights), then zero-init residual branches if asked."""
    scheme = INIT[root.args.get("init", "resnet")]
    for m in model.modules():
        for types, init in scheme.items():
            if type(m) in types:
                init(m)
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
