"""What a block kind declares, and the settings blocks share.

A `Kind` is data: the schema, the "does not apply" check, the README's block
table, the planner and the initialisation all read it. No torch and no pydantic here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt

from ..layers import Node, Shape


@dataclass(frozen=True)
class Setting:
    """One block setting: its type (with its range), default and meaning."""

    name: str
    type: Any
    default: Any
    description: str


@dataclass(frozen=True)
class Placement:
    """What the stage asks of one block."""

    channels: int  # output channels
    stride: int = 1
    first_dilation: int = 1  # of the block's first 3×3 conv: a stage's first block keeps the previous dilation
    dilation: int = 1  # of its other 3×3 convs
    drop_path: float = 0.0  # stochastic depth rate


Layout = Callable[[str, Shape, Placement, Any], Node]  # (module name, input shape, placement, settings) → block
Transition = Callable[[Shape, Placement, Any], "Node | None"]  # a module between stages, before the first block

# How a block adds its input back: "always" through the `shortcut:` setting (ResNet);
# "same_shape" only where the block keeps its input's shape (MobileNet, EfficientNet, ConvNeXt).
AddRule = Literal["always", "same_shape"]

# Initialisation schemes (compile.py implements each): the reference each family is initialised as.
INIT_SCHEMES = {
    "resnet": "torchvision ResNet: convs kaiming-normal (fan out), norms 1 and 0, linear layers PyTorch's default",
    "mobilenet": "torchvision MobileNetV2/V3: as resnet, linear layers normal(0, 0.01) with zero bias",
    "regnet": "torchvision RegNet: as mobilenet",
    "efficientnet": "torchvision EfficientNet: as resnet, linear layers uniform(±1/√out) with zero bias",
    "convnext": "torchvision ConvNeXt: convs and linear layers truncated normal (std 0.02), zero bias",
}
InitScheme = Literal[tuple(INIT_SCHEMES)]


@dataclass(frozen=True)
class Kind:
    """A block kind, declared once."""

    name: str
    summary: str  # one line for the README's table of block kinds
    layout: Layout  # the block's plan nodes
    settings: tuple[Setting, ...] = ()  # the settings it accepts besides the network-wide ones
    defaults: dict[str, Any] = field(default_factory=dict)  # its values for settings whose default is None
    preact: bool = False  # norm → act before each conv: the stem has none, a final norm → act precedes the head
    add: AddRule = "always"
    init: str = "resnet"  # one of INIT_SCHEMES
    transition: Transition | None = None  # e.g. ConvNeXt's norm + strided conv between stages


PositiveInt = Annotated[int, Ge(1)]
Ratio = Annotated[float, Ge(0), Le(1)]

# Settings every block kind accepts: the stem and head use them too.
NETWORK = (
    Setting("norm", Literal["batchnorm", "groupnorm", "layernorm", "none"], "batchnorm",
            "norm after each conv (before it in preact blocks); layernorm normalises over the channels"),
    Setting("norm_groups", PositiveInt, 32, "groups of `norm: groupnorm`"),
    Setting("norm_eps", Annotated[float, Gt(0), Lt(1)], 1e-5,
            "epsilon of every norm (PyTorch's 1e-5; torchvision MobileNetV3 0.001, ConvNeXt 1e-6)"),
    Setting("norm_momentum", Annotated[float, Gt(0), Le(1)], 0.1,
            "batchnorm's running-statistics momentum (PyTorch's 0.1; torchvision MobileNetV3 0.01)"),
    Setting("act", Literal["relu", "relu6", "silu", "gelu", "leaky_relu", "hardswish", "hardsigmoid", "none"],
            "relu", "activation"),
)

SHORTCUT = Setting("shortcut", Literal["auto", "identity", "projection", "zeropad", "avgpool", "none"], "auto",
                   "shortcut kind")
ZERO_INIT = Setting("zero_init_residual", bool, False,
                    "start each block as the identity: zero its last norm (last conv in preact blocks)")

SE = (
    Setting("se", Ratio, 0.0, "squeeze-excitation ratio: reduced channels = se × the base channels (0: no SE)"),
    Setting("se_base", Literal["out", "in", "mid"], "out",
            "channels the SE ratio applies to: the block's output (timm SE-ResNet), its input (torchvision "
            "RegNetY, EfficientNet) or its expanded width (MobileNetV3)"),
    Setting("se_divisor", PositiveInt, 1,
            "round the SE's reduced channels to the nearest multiple of this (timm: 8)"),
    Setting("se_round_limit", Annotated[float, Ge(0), Lt(1)], 0.0,
            "add one se_divisor where rounding fell below this fraction of the exact value "
            "(torchvision MobileNetV3: 0.9)"),
    Setting("se_act", Literal["relu", "silu"], "relu", "activation between the SE's two 1×1 convs"),
    Setting("se_gate", Literal["sigmoid", "hardsigmoid"], "sigmoid", "the SE's gate"),
)
ECA = Setting("eca", bool, False,
              "ECA attention (Wang et al. 2020): a 1-D conv across the pooled channels, kernel from the channel "
              "count; timm's EcaModule")
ATTENTION = (*SE, ECA)

WIDTH = Setting("width", PositiveInt, None, "inner width (default: from bottleneck_ratio or expand)")
BOTTLENECK = (
    WIDTH,
    Setting("bottleneck_ratio", Annotated[float, Gt(0)], None,
            "inner width ÷ channels when `width` is not set: bottleneck 0.25 (rounded down), regnet 1.0 (rounded)"),
    Setting("groups", PositiveInt, None, "groups of the 3×3 conv (ResNeXt's cardinality)"),
    Setting("group_width", PositiveInt, None,
            "channels per group of the 3×3 conv (RegNet); an alternative to `groups`"),
    Setting("stride_on", Literal["3x3", "1x1"], "3x3",
            "bottleneck conv that takes the stride: 3x3 (torchvision, v1.5) or 1x1 (the paper's v1)"),
)

EXPAND = Setting("expand", Annotated[float, Gt(0)], None,
                 "expansion ratio: inner width = round(input channels × expand) unless `width` is set "
                 "(default 6; ConvNeXt: the MLP's, × the channels, default 4)")
KERNEL = Setting("kernel", Annotated[int, Ge(1)], None,
                 "kernel size of the depthwise (or fused) conv: odd (default: the block kind's)")
