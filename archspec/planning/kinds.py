"""What each block kind, stem and head is, declared once: the settings it accepts, its
defaults, whether it pre-activates, when it adds its input back, how it is initialised.

The schema (reading/spec.py), the "does not apply to this block kind" error and the
README's table read these declarations; they import neither the planner nor pydantic.
Each kind's layout (its plan nodes) is in planning/blocks/, each stem's and head's in
planning/parts.py, under the declared name.

Adding a block kind = its declaration here + its layout file in blocks/ + the README's
table (`kinds_table()`) + its tests and specs; the schema follows by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt


@dataclass(frozen=True)
class Setting:
    """One block setting: its type (with its range), default and meaning."""

    name: str
    type: Any
    default: Any
    description: str


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
    "mnasnet": "torchvision MNASNet: as resnet, linear layers kaiming-uniform (fan out, gain 1) with zero bias",
    "pytorch": "PyTorch's own initialisation of each layer, unchanged (torchvision ShuffleNetV2)",
    "vgg": "torchvision VGG: as mobilenet (convs kaiming-normal, fan out, zero bias)",
    "densenet": "torchvision DenseNet: convs kaiming-normal (fan in), norms 1 and 0, linear layers' bias 0",
    "squeezenet": "torchvision SqueezeNet: convs kaiming-uniform (fan in) with zero bias, the last one (a conv "
                  "classifier) normal(0, 0.01)",
}
InitScheme = Literal[tuple(INIT_SCHEMES)]


@dataclass(frozen=True)
class Kind:
    """A block kind, declared once (its layout: blocks/, under its name)."""

    name: str
    summary: str  # one line for the README's table of block kinds
    settings: tuple[Setting, ...] = ()  # the settings it accepts besides the network-wide ones
    defaults: dict[str, Any] = field(default_factory=dict)  # its values for settings whose default is None
    preact: bool = False  # norm → act before each conv: the stem has none, a final norm → act precedes the head
    add: AddRule = "always"
    init: str = "resnet"  # one of INIT_SCHEMES
    transition: bool = False  # a module between stages (ConvNeXt's norm + strided conv) takes the stride


@dataclass(frozen=True)
class Part:
    """A stem or head type, declared once (its layout: parts.py, under its name)."""

    name: str  # its `type:`
    summary: str


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

LAYER_SCALE = Setting("layer_scale", Annotated[float, Ge(0), Lt(1)], 1e-6,
                      "initial per-channel scale of the block's branch (ConvNeXt; 0: no layer scale)")

_DECLARED = (
    Kind("basic", "two 3×3 convs, norm after each, act after the first and after the add (He et al. 2015; "
                  "torchvision `BasicBlock`)",
         (SHORTCUT, ZERO_INIT, *ATTENTION)),
    Kind("bottleneck", "1×1 reduce → 3×3 (grouped with `groups`/`group_width`) → 1×1 expand, inner width `width` or "
                       "channels / 4 (torchvision `Bottleneck`; ResNeXt, wide ResNet)",
         (SHORTCUT, ZERO_INIT, *ATTENTION, *BOTTLENECK)),
    Kind("convnext", "`kernel`×`kernel` (7) depthwise conv → LayerNorm → MLP of `expand` (4) × the channels with act → "
                     "layer scale, added to the input; a norm and a strided conv between stages (Liu et al. 2022; "
                     "torchvision `CNBlock`)",
         (KERNEL, EXPAND, LAYER_SCALE), defaults={"kernel": 7, "expand": 4.0}, add="same_shape", init="convnext",
         transition=True),
    Kind("fused_inverted_residual", "`kernel`×`kernel` expansion conv with the stride → SE → 1×1 projection; at "
                                    "`expand: 1` one `kernel`×`kernel` conv; adds the input where the shape is kept "
                                    "(EfficientNetV2; torchvision `FusedMBConv`)",
         (WIDTH, EXPAND, KERNEL, *ATTENTION), defaults={"kernel": 3, "expand": 6.0}, add="same_shape",
         init="efficientnet"),
    Kind("inverted_residual", "1×1 expansion to `width` or input × `expand` (none at 1) → `kernel`×`kernel` depthwise "
                              "→ SE → 1×1 linear projection; adds the input where the shape is kept (MobileNetV2/V3, "
                              "EfficientNet MBConv; torchvision `InvertedResidual`, `MBConv`)",
         (WIDTH, EXPAND, KERNEL, *ATTENTION), defaults={"kernel": 3, "expand": 6.0}, add="same_shape",
         init="mobilenet"),
    Kind("preact_basic", "pre-activation basic block: norm → act → conv twice, nothing after the add (He et al. 2016; "
                         "timm `PreActBasic`)",
         (SHORTCUT, ZERO_INIT, *ATTENTION), preact=True),
    Kind("preact_bottleneck", "pre-activation bottleneck: (norm → act → conv) × 3 (He et al. 2016; timm "
                              "`PreActBottleneck`, ResNetV2)",
         (SHORTCUT, ZERO_INIT, *ATTENTION, *BOTTLENECK), preact=True),
    Kind("regnet", "RegNet X block: bottleneck with inner width round(channels × `bottleneck_ratio`, default 1) and "
                   "`group_width` channels per group; with `se:` the RegNet Y block, SE after the 3×3 (Radosavovic et "
                   "al. 2020; torchvision `ResBottleneckBlock`)",
         (SHORTCUT, ZERO_INIT, *ATTENTION, *BOTTLENECK), init="regnet"),
)
KINDS: dict[str, Kind] = {k.name: k for k in sorted(_DECLARED, key=lambda k: k.name)}

STEMS: dict[str, Part] = {p.name: p for p in (
    Part("conv", "one conv (`kernel`, `stride`), norm and act, then `pool`"),
    Part("deep", "3×3 convs with norm and act between (ResNet-C), norm and act, then `pool`"),
    Part("patchify", "a conv of kernel and stride `patch`, then the norm (ConvNeXt)"),
    Part("none", "nothing: the first stage takes the input"),
)}
HEADS: dict[str, Part] = {p.name: p for p in (
    Part("classifier", "[1×1 conv, norm, act] → global pool (or adaptive, to `pool_size`) → [norm] → flatten → "
                       "[hidden linear, act, dropout]… → dropout → linear"),
    Part("conv_classifier", "dropout → 1×1 conv to the classes (with a bias) → act → global average pool → flatten "
                            "(SqueezeNet)"),
    Part("features", "the maps of the modules named in `outputs`"),
    Part("block", "a block of `blocks:` on the maps of the modules named in `from`; the model returns its outputs"),
    Part("none", "nothing: the model returns the last stage's map"),
)}


def _settings(kinds: dict[str, Kind]) -> dict[str, Setting]:
    """Every block setting by name; two kinds that share a name share its declaration."""
    settings: dict[str, Setting] = {s.name: s for s in NETWORK}
    for kind in kinds.values():
        for s in kind.settings:
            if settings.setdefault(s.name, s) != s:
                raise TypeError(f"block kind {kind.name} declares `{s.name}` differently from another kind")
    return settings


SETTINGS: dict[str, Setting] = _settings(KINDS)


def applies(setting: str, kind: str) -> bool:
    """Whether block kind `kind` has a use for `setting`; a block written in the spec (a kind not
    declared here) has a use for the network-wide ones only."""
    return setting in {s.name for s in NETWORK} or (kind in KINDS and setting in {s.name for s in KINDS[kind].settings})


def kinds_table() -> str:
    """The README's table of block kinds, as Markdown."""
    rows = [f"| `{k.name}` | {k.summary} |" for k in KINDS.values()]
    return "\n".join(["| kind | what it is |", "|---|---|", *rows])
