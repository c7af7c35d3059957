"""The spec format as pydantic models: types, ranges and defaults.

Every model forbids unknown keys and is strict (a bool or a float is not a
channel count). `messages.py` turns pydantic's errors into located `Issue`s.
"""

from __future__ import annotations

import re
from functools import cached_property
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      WithJsonSchema)
from pydantic_core import PydanticCustomError

from . import regnet
from .source import Source

PositiveInt = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]

BlockKind = Literal["basic", "bottleneck", "preact_basic", "preact_bottleneck", "regnet"]
ShortcutKind = Literal["auto", "identity", "projection", "zeropad", "avgpool", "none"]
NormKind = Literal["batchnorm", "groupnorm", "none"]
ActKind = Literal["relu", "silu", "gelu", "leaky_relu", "hardswish", "none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _square(v: Any) -> Any:
    return [v, v] if isinstance(v, int) and not isinstance(v, bool) else v


# `size: 224` or `size: [224, 160]`, held as [H, W]; one type so that a mistake gives one error.
Size = Annotated[
    list[PositiveInt],
    BeforeValidator(_square),
    Field(min_length=2, max_length=2),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1},
                              {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2}]}),
]


class Input(_Model):
    channels: PositiveInt = Field(3, description="channels of the input image (3 for RGB)")
    size: Size = Field([224, 224], description="one number for a square input, or [height, width]")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size[0], self.size[1])


class BlockSettings(_Model):
    """Settings a stage may set for its blocks; unset ones come from `defaults`."""

    block: BlockKind | None = Field(None, description="block kind")
    shortcut: ShortcutKind | None = Field(None, description="shortcut kind")
    norm: NormKind | None = Field(None, description="norm after each conv (before it in preact blocks)")
    norm_groups: PositiveInt | None = Field(None, description="groups of `norm: groupnorm` (default 32)")
    act: ActKind | None = Field(None, description="activation")
    width: PositiveInt | None = Field(
        None, description="inner width of a bottleneck or regnet block (default: channels × bottleneck_ratio)")
    bottleneck_ratio: Annotated[float, Field(gt=0)] | None = Field(
        None, description="inner width ÷ channels when `width` is not set: bottleneck 0.25 (rounded down), "
                          "regnet 1.0 (rounded to nearest)")
    groups: PositiveInt | None = Field(None, description="groups of the 3×3 conv (ResNeXt's cardinality)")
    group_width: PositiveInt | None = Field(
        None, description="channels per group of the 3×3 conv (RegNet); an alternative to `groups`")
    stride_on: Literal["3x3", "1x1"] | None = Field(
        None, description="bottleneck conv that takes the stride: 3x3 (torchvision, v1.5) or 1x1 (the paper's v1)")
    se: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="squeeze-excitation ratio: reduced channels = se × the base channels (0: no SE)")
    se_base: Literal["out", "in"] | None = Field(
        None, description="channels the SE ratio applies to: the block's output (timm SE-ResNet, default) "
                          "or its input (torchvision RegNetY)")
    se_divisor: PositiveInt | None = Field(
        None, description="round the SE's reduced channels to the nearest multiple of this (default 1; timm: 8)")
    zero_init_residual: bool | None = Field(
        None, description="start each block as the identity: zero its last norm (last conv in preact blocks)")


def _default(key: str, value: Any) -> Any:
    """A default for `defaults`, described as the setting it fills."""
    return Field(value, description=BlockSettings.model_fields[key].description)


class Defaults(BlockSettings):
    block: BlockKind = _default("block", "basic")
    shortcut: ShortcutKind = _default("shortcut", "auto")
    norm: NormKind = _default("norm", "batchnorm")
    norm_groups: PositiveInt = _default("norm_groups", 32)
    act: ActKind = _default("act", "relu")
    stride_on: Literal["3x3", "1x1"] = _default("stride_on", "3x3")
    se: Annotated[float, Field(ge=0, le=1)] = _default("se", 0.0)
    se_base: Literal["out", "in"] = _default("se_base", "out")
    se_divisor: PositiveInt = _default("se_divisor", 1)
    zero_init_residual: bool = _default("zero_init_residual", False)
    drop_path: Rate = Field(0.0, description="stochastic depth: the last block's drop-path rate, rising "
                                             "linearly from 0 at the first block")


class Stage(BlockSettings):
    depth: PositiveInt = Field(description="number of blocks in the stage")
    channels: PositiveInt = Field(description="channels the stage outputs")
    stride: PositiveInt = Field(1, description="stride of the stage's first block")
    dilation: PositiveInt = Field(
        1, description="dilation of the 3×3 convs, in place of a stride (DeepLab); the first block "
                       "keeps the previous stage's, as torchvision and timm do")


class RegNetStages(_Model):
    """Stages generated from RegNet's design space (Radosavovic et al. 2020, section 3.3)."""

    type: Literal["regnet"]
    depth: PositiveInt = Field(description="total number of blocks (d)")
    w0: Annotated[int, Field(ge=8, multiple_of=8)] = Field(description="width of the first block (w0)")
    wa: Annotated[float, Field(ge=0)] = Field(description="slope of the linear width ramp (wa)")
    wm: Annotated[float, Field(gt=1)] = Field(description="width multiplier between stages (wm)")
    group_width: PositiveInt = Field(description="channels per group of the 3×3 convs (g)")
    bottleneck_ratio: Annotated[float, Field(gt=0)] = Field(1.0, description="inner width ÷ channels (b)")

    def expand(self) -> list[Stage]:
        return [Stage(**s) for s in regnet.stages(self.depth, self.w0, self.wa, self.wm, self.group_width,
                                                  self.bottleneck_ratio)]


class ConvStem(_Model):
    type: Literal["conv"]
    channels: PositiveInt = Field(description="channels of the stem's conv")
    kernel: PositiveInt = 7
    stride: PositiveInt = 2
    padding: Annotated[int, Field(ge=0)] | None = Field(
        None, description="default (kernel - 1) // 2: the size divided by the stride, for an odd kernel")
    pool: Literal["max", "avg", "none"] = "max"


class DeepStem(_Model):
    """ResNet-C: 3×3 convs (the first with the stride), norm and activation after each, then the pool."""

    type: Literal["deep"]
    channels: Annotated[list[PositiveInt], Field(min_length=2)] = Field(
        description="output channels of each 3×3 conv, e.g. [32, 32, 64] (timm deep) or [24, 32, 64] (deep_tiered)")
    stride: PositiveInt = 2
    pool: Literal["max", "avg", "none"] = "max"


class NoStem(_Model):
    type: Literal["none"]


class ClassifierHead(_Model):
    type: Literal["classifier"]
    pool: Literal["avg", "max", "flatten"] = "avg"
    classes: PositiveInt = Field(description="number of outputs of the final linear layer")
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0


class NoHead(_Model):
    type: Literal["none"]


class FeaturesHead(_Model):
    """No classifier: the model returns a list of feature maps (timm's `features_only`), for a
    detection or segmentation head; the modules after the last one are not built."""

    type: Literal["features"]
    outputs: Annotated[list[str], Field(min_length=1)] = Field(
        description="modules whose outputs to return, in this order, named as in the summary: "
                    "e.g. [layer2, layer3, layer4]; the stem's output is `maxpool` (or `relu` before it)")


Stem = Annotated[Union[ConvStem, DeepStem, NoStem], Field(discriminator="type")]
Head = Annotated[Union[ClassifierHead, NoHead, FeaturesHead], Field(discriminator="type")]

# `stages:` is a list, or a mapping that generates one; the tag names the choice in error locations.
_STAGES_TAGS = {"list": Stage, "regnet": RegNetStages}  # tag -> the model of its items
Stages = Annotated[
    Union[Annotated[Annotated[list[Stage], Field(min_length=1)], Tag("list")], Annotated[RegNetStages, Tag("regnet")]],
    Discriminator(lambda v: "regnet" if isinstance(v, (dict, RegNetStages)) else "list"),
]


_COUNT = re.compile(r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][0-9]{1,2})?)\s*([kKMGT]?)\s*")
_SCALE = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def parse_count(v: Any) -> Any:
    """'25.6M' → 25600000, '4e9' → 4000000000. Exact (decimal) arithmetic; a fraction of one is an error."""
    if isinstance(v, float) and v.is_integer():
        return int(v)  # 2.5e7
    if not isinstance(v, str):
        return v
    match = _COUNT.fullmatch(v) if len(v) <= 40 else None
    if match is None:
        raise PydanticCustomError("count_format", "'{value}' is not a count", {"value": v[:40]})
    value = Decimal(match[1]) * _SCALE[match[2]]
    if value != value.to_integral_value():
        raise PydanticCustomError("count_format", "'{value}' is not a whole number", {"value": v})
    return int(value)


# A parameter or MAC count: a whole number, or a decimal with a K, M, G or T suffix.
Count = Annotated[
    int,
    BeforeValidator(parse_count),
    Field(ge=1),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1},
                              {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][0-9]{1,2})?\s*[kKMGT]?\s*$"}]}),
]


class Constraints(_Model):
    """Budgets the network must meet; `validate` and `build` check them."""

    max_params: Count | None = Field(None, description="most parameters allowed, e.g. 25.6M")
    max_macs: Count | None = Field(None, description="most multiply-adds per image at the input size, e.g. 4.1G")
    min_input: Size | None = Field(None, description="smallest input size the network must accept: a number or [height, width]")


class Scale(_Model):
    """Compound scaling (EfficientNet; the n/s/m/l/x of model families), applied when a spec is read."""

    width: Annotated[float, Field(gt=0)] = Field(1.0, description="channels × width, made divisible by `divisor`")
    depth: Annotated[float, Field(gt=0)] = Field(1.0, description="each stage's depth × depth, rounded up")
    divisor: PositiveInt = Field(8, description="scaled channels are multiples of this (torchvision's _make_divisible)")
    apply_to: list[Literal["stem", "stages", "head"]] = Field(
        ["stem", "stages", "head"], description="whose channels the width scales (the stem's convs, each stage's "
                                                "channels and width, the head's conv and hidden layers); depths scale with `stages`")


class Spec(_Model):
    # Read before the schema (archspec.resolve): a resolved spec has neither.
    extends: str | None = Field(None, description="the spec this one changes: a built-in name or a path "
                                                  "relative to this file")
    scale: Scale | None = Field(None, description="multiply depths and channels of the resolved spec")
    abstract: bool = Field(False, description="only a base for other specs (`extends:`); may be incomplete")
    archspec: Literal[1] = Field(description="format version")
    name: Annotated[str, Field(min_length=1, pattern=r"^[\w.\-]+$")] = Field(
        description="use letters (of any alphabet), digits, '_', '.' and '-' only")
    description: str = ""
    input: Input
    defaults: Defaults = Defaults()
    stem: Stem
    stages: Stages = Field(description="one entry per stage, input to output; or a RegNet generator")
    head: Head
    constraints: Constraints = Constraints()

    _source: Source | None = PrivateAttr(None)

    @property
    def source(self) -> Source | None:
        """Where the spec came from (text and positions), if it was loaded from YAML."""
        return self._source

    @cached_property
    def all_stages(self) -> list[Stage]:
        """The stages, generated ones written out (once: the planner and the checks ask per stage)."""
        return self.stages.expand() if isinstance(self.stages, RegNetStages) else self.stages

    def stage_settings(self, index: int) -> Defaults:
        """The block settings of stage `index`: the stage's own over `defaults`."""
        stage = self.all_stages[index]
        own = {k: getattr(stage, k) for k in BlockSettings.model_fields if getattr(stage, k) is not None}
        return self.defaults.model_copy(update=own)


def json_schema() -> dict:
    """The JSON Schema of the spec format: draft-07, which yaml-language-server reads.

    A spec with `extends:` holds only changes (list edits, nulls): for it the schema checks
    the top-level keys, and archspec checks the rest once it is merged onto its base."""
    strict = Spec.model_json_schema()
    defs = strict.pop("$defs")
    child = {"type": "object", "additionalProperties": False,
             "properties": {key: {"description": field.get("description", "")}
                            for key, field in strict["properties"].items()}}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": "archspec spec",
            "description": "A CNN described for archspec: stem, stages, head.", "$defs": defs,
            "if": {"required": ["extends"]}, "then": child, "else": strict}

