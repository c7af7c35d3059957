"""The spec format as pydantic models: types, ranges and defaults.

Every model forbids unknown keys and is strict (a bool or a float is not a
channel count). `messages.py` turns pydantic's errors into located `Issue`s.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import cached_property
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      ValidationInfo, WithJsonSchema, create_model, field_validator, model_serializer,
                      model_validator)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError, PydanticKnownError

from .. import limits
from . import regnet
from ..planning.kinds import INIT_SCHEMES, KINDS, NETWORK, SETTINGS, InitScheme, applies
from ..errors import Issue, SpecError
from .blockdefs import BlockDef, check_use, network_size_issues, read_blocks
from .headblock import head_block_issues, head_block_params
from .source import Source

PositiveInt = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]

_user_blocks: ContextVar[tuple] = ContextVar("user_blocks", default=())  # names in `blocks:`, while validating


def _known_kind(name: str) -> str:
    names = tuple(dict.fromkeys((*KINDS, *_user_blocks.get())))
    if name not in names:
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": ", ".join(repr(n) for n in names)})
    return name


def _known_after(name: str) -> str:
    names = _user_blocks.get()
    if name not in names:
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": ", ".join(repr(n) for n in names) or "a block of the spec's `blocks:` "
                                                                                    "(it has none)"})
    return name


BlockKind = Literal[tuple(KINDS)]  # the built-in kinds
# A built-in kind or a block of the spec's `blocks:` (the JSON Schema lists the built-in ones).
KindName = Annotated[str, AfterValidator(_known_kind), WithJsonSchema({"enum": list(KINDS), "type": "string"})]
# `after:` on a stem or stage: a block of the spec's `blocks:`, used without parameters.
AfterBlock = Annotated[str, AfterValidator(_known_after), Field(
    description="a block written in the spec (`blocks:`, its parameters all defaulted) run after the stage's "
                "blocks (after the stem's layers): a pool between stages (VGG, SqueezeNet), DenseNet's transition "
                "or final norm; its module is named after the block")]
ShortcutKind = SETTINGS["shortcut"].type
NormKind = SETTINGS["norm"].type
ActKind = SETTINGS["act"].type


class _Model(BaseModel):
    # defer_build: a model's validator is made when first used, not at import; most are only ever
    # used inside Spec's (a third of `validate`'s start-up)
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False, defer_build=True)

    @field_validator("*")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        """Every number within limits.MAX_WHOLE / MAX_FACTOR: later arithmetic never overflows."""
        for item in value if isinstance(value, list) else (value,):  # runs on every value: kept lean
            kind = type(item)
            bound = limits.MAX_WHOLE if kind is int else limits.MAX_FACTOR if kind is float else None
            if bound is not None and abs(item) > bound:
                raise PydanticKnownError("less_than_equal", {"le": bound})
        return value


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


# Settings a stage may set for its blocks (unset ones come from `defaults`), from the block
# kinds' declarations (blocks/): each kind says which of them it accepts.
class _Settings(_Model):
    @model_serializer(mode="wrap")
    def _flat(self, handler):
        """The parameters of a block written in the spec beside the settings, as they are written."""
        data = handler(self)
        data.update(getattr(self, "block_params", None) or {})
        return data


BlockSettings = create_model(
    "BlockSettings", __base__=_Settings, __doc__="Settings a stage may set for its blocks; unset ones come from `defaults`.",
    block=(KindName | None, Field(None, description="block kind")),
    # a block written in the spec takes its parameters here: `{block: fire, squeeze: 16}` (see Spec._gather)
    block_params=(SkipJsonSchema[dict[str, Any] | None], Field(None, exclude=True)),
    **{s.name: (s.type | None, Field(None, description=s.description)) for s in SETTINGS.values()},
)

_BLOCK_SETTINGS = frozenset(BlockSettings.model_fields)

Defaults = create_model(
    "Defaults", __base__=BlockSettings, __doc__="Block settings inherited by every stage, and network-wide ones.",
    block=(KindName, Field("basic", description="block kind")),
    **{s.name: (s.type if s.default is not None else s.type | None,
                Field(s.default, description=s.description + ("" if s.default is None else f" (default {s.default})")))
       for s in SETTINGS.values()},
    drop_path=(Rate, Field(0.0, description="stochastic depth: the last block's drop-path rate, rising "
                                            "linearly from 0 at the first block")),
    init=(InitScheme | None, Field(None, description="initialisation: " + "; ".join(
        f"{k}: {v}" for k, v in INIT_SCHEMES.items()) + " (default: the first stage's block kind's)")),
)


class Stage(BlockSettings):
    depth: PositiveInt = Field(description="number of blocks in the stage")
    channels: PositiveInt = Field(description="channels the stage outputs")
    stride: PositiveInt = Field(1, description="stride of the stage's first block")
    dilation: PositiveInt = Field(
        1, description="dilation of the 3×3 convs, in place of a stride (DeepLab); the first block "
                       "keeps the previous stage's, as torchvision and timm do")
    after: AfterBlock | None = None


class RegNetStages(_Model):
    """Stages generated from RegNet's design space (Radosavovic et al. 2020, section 3.3)."""

    type: Literal["regnet"]
    depth: PositiveInt = Field(description="total number of blocks (d)")
    w0: Annotated[int, Field(ge=8, multiple_of=8)] = Field(description="width of the first block (w0)")
    wa: Annotated[float, Field(ge=0)] = Field(description="slope of the linear width ramp (wa)")
    wm: Annotated[float, Field(gt=1)] = Field(description="width multiplier between stages (wm)")
    group_width: PositiveInt = Field(description="channels per group of the 3×3 convs (g)")
    bottleneck_ratio: Annotated[float, Field(gt=0)] = Field(1.0, description="inner width ÷ channels (b)")

    @field_validator("depth")
    @classmethod
    def _few_enough_blocks(cls, depth: int) -> int:
        if depth > limits.MAX_BLOCKS:  # before any width is generated
            raise PydanticCustomError("too_many_blocks", "{depth} blocks are more than the planning limit of {limit}",
                                      {"depth": f"{depth:,}", "limit": f"{limits.MAX_BLOCKS:,}"})
        return depth

    @field_validator("bottleneck_ratio")
    @classmethod
    def _inner_widths(cls, ratio: float, info: ValidationInfo) -> float:
        settings = [info.data.get(k) for k in ("depth", "w0", "wa", "wm", "group_width")]
        if None not in settings:  # the others are valid: generate the widths once to check this
            narrowest = min(regnet.block_widths(*settings[:4]))
            if int(narrowest * ratio) < 1:
                raise PydanticCustomError("inner_width_zero", "{ratio} makes the inner width of a {width}-channel "
                                          "block 0", {"ratio": f"{ratio:g}", "width": narrowest})
        return ratio

    def expand(self) -> list[Stage]:
        return [Stage(**s) for s in regnet.stages(self.depth, self.w0, self.wa, self.wm, self.group_width,
                                                  self.bottleneck_ratio)]


StemPool = Annotated[Literal["max", "avg", "conv", "none"], Field(
    description="after the stem: a 3×3 stride-2 max or avg pool, a 3×3 stride-2 conv + norm + act in its place "
                "(ResNet-RS, timm's replace_stem_pool), or none")]


class ConvStem(_Model):
    type: Literal["conv"]
    channels: PositiveInt = Field(description="channels of the stem's conv")
    kernel: PositiveInt = 7
    stride: PositiveInt = 2
    padding: Annotated[int, Field(ge=0)] | None = Field(
        None, description="default (kernel - 1) // 2: the size divided by the stride, for an odd kernel")
    pool: StemPool = "max"
    after: AfterBlock | None = None


class DeepStem(_Model):
    """ResNet-C: 3×3 convs (the first with the stride), norm and activation after each, then the pool."""

    type: Literal["deep"]
    channels: Annotated[list[PositiveInt], Field(min_length=2)] = Field(
        description="output channels of each 3×3 conv, e.g. [32, 32, 64] (timm deep) or [24, 32, 64] (deep_tiered)")
    stride: PositiveInt = 2
    pool: StemPool = "max"


class PatchifyStem(_Model):
    """ConvNeXt: non-overlapping patches, a conv of kernel and stride `patch` (with a bias), then the norm."""

    type: Literal["patchify"]
    channels: PositiveInt = Field(description="channels of the stem's conv")
    patch: PositiveInt = Field(4, description="patch size: the conv's kernel and stride")


class NoStem(_Model):
    type: Literal["none"]


class ClassifierHead(_Model):
    type: Literal["classifier"]
    pool: Literal["avg", "max", "flatten"] = "avg"
    pool_size: Size = Field([1, 1], description="the pool's output size, one number or [height, width]: 1 is the "
                                                "global pool; more, torch's adaptive pool (VGG: 7)")
    classes: PositiveInt = Field(description="number of outputs of the final linear layer")
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(0.0, description="dropout before the final linear layer")
    conv: PositiveInt | None = Field(
        None, description="channels of a 1×1 conv + norm + act before the pool (MobileNet, EfficientNet: 1280)")
    norm: bool = Field(False, description="a norm after the pool (ConvNeXt: LayerNorm)")
    hidden: list[PositiveInt] = Field(
        [], description="widths of hidden linear layers before the final one, each followed by its act "
                        "(MobileNetV3: [1280])")
    hidden_act: ActKind | None = Field(None, description="activation after each hidden layer (default: defaults.act)")
    hidden_dropout: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="dropout after each hidden layer's activation (VGG: 0.5)")


class ConvClassifierHead(_Model):
    """SqueezeNet's: the classes from a 1×1 conv (with a bias), not a linear layer."""

    type: Literal["conv_classifier"]
    classes: PositiveInt = Field(description="channels of the final 1×1 conv: one per class")
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(0.0, description="dropout before the conv")
    act: ActKind = Field("none", description="activation after the conv, before the pool (SqueezeNet: relu)")


class NoHead(_Model):
    type: Literal["none"]


class FeaturesHead(_Model):
    """No classifier: the model returns a list of feature maps (timm's `features_only`), for a
    detection or segmentation head; the modules after the last one are not built."""

    type: Literal["features"]
    outputs: Annotated[list[str], Field(min_length=1)] = Field(
        description="modules whose outputs to return, in this order, named as in the summary: "
                    "e.g. [layer2, layer3, layer4]; the stem's output is `maxpool` (or `relu` before it)")


# ---- a head written in the spec: a block of `blocks:` on several maps of the network ----------


class BlockHead(_Model):
    """A neck or decoder written in the spec: a block of `blocks:` that takes the maps of the
    modules named in `from` (as its inputs, in order) and gives the model's outputs (its `out`:
    one map, or several). The block's parameters are written beside these keys."""

    type: Literal["block"]
    block: str = Field(description="a block of this spec's `blocks:`, with one input per name in `from`")
    from_: Annotated[list[str], Field(min_length=1, alias="from")] = Field(
        description="modules whose maps the block takes, in its inputs' order, named as in the summary: "
                    "e.g. [layer1, layer2, layer3, layer4]; the stem's output is `maxpool` (or `relu` before it)")
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")] | None = Field(
        None, description="the head's module name (default: the block's name)")
    # the block's parameters, written beside the keys above (see Spec._gather)
    block_params: SkipJsonSchema[dict[str, Any] | None] = Field(None, exclude=True)

    @model_serializer(mode="wrap")
    def _flat(self, handler):
        """`from` as written, and the block's parameters beside the keys, as they are written."""
        data = handler(self)
        if "from_" in data:
            data["from"] = data.pop("from_")
        data.update(self.block_params or {})
        return data

    @property
    def module(self) -> str:
        return self.name or self.block


Stem = Annotated[Union[ConvStem, DeepStem, PatchifyStem, NoStem], Field(discriminator="type")]
Head = Annotated[Union[ClassifierHead, ConvClassifierHead, NoHead, FeaturesHead, BlockHead], Field(discriminator="type")]

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


_BYTES = re.compile(r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*([KMGT]?)(i?)B\s*")


def parse_bytes(v: Any) -> Any:
    """'40GiB' → 42949672960, '1.5GB' → 1500000000: binary (KiB…TiB) or decimal (KB…TB) units."""
    if not isinstance(v, str):
        return v
    match = _BYTES.fullmatch(v) if len(v) <= 40 else None
    if match is None:
        raise PydanticCustomError("bytes_format", "'{value}' is not a size in bytes", {"value": v[:40]})
    power = "KMGT".find(match[2]) + 1
    value = Decimal(match[1]) * ((1024 if match[3] else 1000) ** power if match[2] else 1)
    if value != value.to_integral_value():
        raise PydanticCustomError("bytes_format", "'{value}' is not a whole number of bytes", {"value": v})
    return int(value)


# A size in bytes: a whole number, or a decimal with KiB, MiB, GiB, TiB (or KB, MB, GB, TB).
Bytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    Field(ge=1),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1},
                              {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*[KMGT]?i?B\s*$"}]}),
]
Dtype = Literal["float32", "bfloat16", "float16"]  # as planning.memory.ITEMSIZE


class Constraints(_Model):
    """Budgets the network must meet; `validate` and `build` check them. In a design space they
    are the windows a sampled network must fall in."""

    max_params: Count | None = Field(None, description="most parameters allowed, e.g. 25.6M")
    max_macs: Count | None = Field(None, description="most multiply-adds per image at the input size, e.g. 4.1G")
    min_input: Size | None = Field(None, description="smallest input size the network must accept: a number or [height, width]")
    min_params: Count | None = Field(None, description="fewest parameters allowed, e.g. 4M")
    min_macs: Count | None = Field(None, description="fewest multiply-adds per image at the input size, e.g. 360M")
    max_memory: Bytes | None = Field(None, description="most activation memory of one training step at `batch` "
                                                       "in `dtype`, e.g. 40GiB")
    batch: PositiveInt | None = Field(None, description="batch size for max_memory (default 1)")
    dtype: Dtype | None = Field(None, description="dtype of the model and input for max_memory (default float32)")

    @property
    def memory_at(self) -> tuple[int, str]:
        """(batch, dtype) at which max_memory is measured."""
        return self.batch or 1, self.dtype or "float32"


class Budget(_Model):
    """What `scale: {fit: …}` fits the network to: each a maximum, any combination."""

    macs: Count | None = Field(None, description="most multiply-adds per image, e.g. 600M")
    params: Count | None = Field(None, description="most parameters, e.g. 5M")
    memory: Bytes | None = Field(None, description="most activation memory of one training step at `batch` in "
                                                   "`dtype`, e.g. 40GiB")
    batch: PositiveInt = Field(1, description="batch size for `memory`")
    dtype: Dtype = Field("float32", description="dtype of the model and input for `memory`")


class Compound(_Model):
    """EfficientNet's compound scaling (Tan & Le 2019): depth α^φ, width β^φ, resolution γ^φ."""

    depth: Annotated[float, Field(ge=1)] = Field(1.2, description="α: depth multiplier per unit of φ")
    width: Annotated[float, Field(ge=1)] = Field(1.1, description="β: width multiplier per unit of φ")
    resolution: Annotated[float, Field(ge=1)] = Field(1.15, description="γ: resolution multiplier per unit of φ")


class Scale(_Model):
    """Compound scaling (EfficientNet; the n/s/m/l/x of model families), applied when a spec is read."""

    width: Annotated[float, Field(gt=0)] = Field(1.0, description="channels × width, made divisible by `divisor`")
    depth: Annotated[float, Field(gt=0)] = Field(1.0, description="each stage's depth × depth, rounded up")
    divisor: PositiveInt = Field(8, description="scaled channels are multiples of this (torchvision's _make_divisible)")
    apply_to: list[Literal["stem", "stages", "head"]] = Field(
        ["stem", "stages", "head"], description="whose channels the width scales (the stem's convs, each stage's "
                                                "channels and width, the head's conv and hidden layers); depths scale with `stages`")
    fit: Budget | None = Field(None, description="choose the largest scaling `along` one axis that meets this budget "
                                                 "(macs, params, memory: each a maximum), by the exact plan")
    along: Literal["width", "depth", "resolution", "compound"] = Field(
        "width", description="what `fit` scales: width, depth, the input's resolution, or all three (compound)")
    compound: Compound = Field(Compound(), description="α, β, γ of `along: compound`")


class Spec(_Model):
    # Applied while resolving (archspec.reading.resolve): a resolved spec has no `extends` or `scale`.
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
    blocks: dict[str, Any] | None = Field(None, description="block kinds written in this spec: name → {params, let, "
                                                   "nodes, out} (archspec.reading.blockdefs)")

    _source: Source | None = PrivateAttr(None)

    @property
    def source(self) -> Source | None:
        """Where the spec came from (text and positions), if it was loaded from YAML."""
        return self._source

    @model_validator(mode="wrap")
    @classmethod
    def _gather(cls, data: Any, handler):
        """Block kinds may be named from `blocks:`; a stage (or `defaults`) that uses one writes its
        parameters beside its settings, and they are kept in `block_params` to be checked against
        the block's (`user_block_issues`)."""
        names = tuple(data["blocks"]) if isinstance(data, dict) and isinstance(data.get("blocks"), dict) else ()
        token = _user_blocks.set(names)
        try:
            return handler(_gathered(data, names) if names else data)
        finally:
            _user_blocks.reset(token)

    @cached_property
    def user_blocks(self) -> dict[str, BlockDef]:
        """The blocks of `blocks:`, read and checked (a SpecError with every problem)."""
        return read_blocks(self.source or Source(self.name, "", {"blocks": self.blocks}, {}, {}))

    def block_params(self, index: int) -> dict[str, Any]:
        """The parameter values of stage `index`'s blocks, when its kind is written in the spec."""
        return self._block_use(index)[0]

    def head_params(self) -> dict[str, Any]:
        """The parameter values of a `block` head's block."""
        return head_block_params(self.head, self.user_blocks)

    def user_block_issues(self) -> list[Issue]:
        """Problems with the blocks written in the spec, and with each stage's use of them."""
        if self.blocks is None:  # none written (the usual case): nothing to walk
            return []
        try:
            blocks = self.user_blocks
        except SpecError as e:
            return e.issues
        issues = [issue for i in range(len(self.all_stages)) for issue in self._block_use(i)[1]]
        if isinstance(self.head, BlockHead):
            issues += head_block_issues(self.source or Source(self.name, "", {}, {}, {}), self.head, blocks)
        sizes = [stage.depth * blocks[stage.block or self.defaults.block].size
                 if (stage.block or self.defaults.block) in blocks else 0 for stage in self.all_stages]
        return issues + network_size_issues(self.source or Source(self.name, "", {}, {}, {}), sizes)

    def _block_use(self, index: int) -> tuple[dict[str, Any], list[Issue]]:
        stage = self.all_stages[index]
        block = self.user_blocks.get(stage.block or self.defaults.block)
        if block is None:
            return {}, []
        given = {}
        if stage.block is None or stage.block == self.defaults.block:
            given.update((k, (v, ("defaults", k))) for k, v in (self.defaults.block_params or {}).items())
        given.update((k, (v, ("stages", index, k))) for k, v in (stage.block_params or {}).items())
        source = self.source or Source(self.name, "", {}, {}, {})
        placement = {"channels": stage.channels, "stride": stage.stride, "dilation": stage.dilation}
        return check_use(source, ("stages", index), block, given, placement)

    @cached_property
    def all_stages(self) -> list[Stage]:
        """The stages, generated ones written out (once: the planner and the checks ask per stage)."""
        return self.stages.expand() if isinstance(self.stages, RegNetStages) else self.stages

    def stage_settings(self, index: int) -> Defaults:
        """The block settings of stage `index`: the stage's own over `defaults`; settings left
        unset (None) by both take the block kind's value."""
        stage = self.all_stages[index]
        own = {k: v for k, v in stage.__dict__.items() if v is not None and k in _BLOCK_SETTINGS}
        kind = KINDS.get(own.get("block", self.defaults.block))  # None: a block written in the spec
        unset = {k: v for k, v in kind.defaults.items() if own.get(k, getattr(self.defaults, k)) is None} if kind else {}
        return self.defaults.model_copy(update={**own, **unset})

    def init_scheme(self) -> str:
        """How the network is initialised: `defaults.init`, else as its first stage's block kind says."""
        first = KINDS.get(self.all_stages[0].block or self.defaults.block)
        return self.defaults.init or (first.init if first else "resnet")

    def misplaced_settings(self) -> list[tuple[tuple, str, str]]:
        """Settings written where a block kind has no use for them: (key path, message, hint) each.
        A stage's own setting must apply to its kind; one in `defaults` other than the format's
        default, to every stage that inherits it."""
        found = []
        stages = self.all_stages
        kinds = [stage.block or self.defaults.block for stage in stages]
        for i, stage in enumerate(stages):
            for key in stage.model_fields_set & SETTINGS.keys():
                if getattr(stage, key) is not None and not applies(key, kinds[i]):
                    found.append((("stages", i, key), f"stages.{i}.{key}: `{key}` does not apply to {kinds[i]} blocks",
                                  _takers(key)))
        for key in sorted(self.defaults.model_fields_set & SETTINGS.keys()):
            if getattr(self.defaults, key) in (None, SETTINGS[key].default):
                continue  # the format's default chooses nothing (a Spec dumped whole writes them all)
            refusing = [i for i, stage in enumerate(stages)
                        if getattr(stage, key) is None and not applies(key, kinds[i])]
            if refusing:
                where = f"stage {refusing[0] + 1}" if len(refusing) == 1 else f"stages {', '.join(str(i + 1) for i in refusing)}"
                found.append((("defaults", key), f"defaults.{key}: `{key}` does not apply to {kinds[refusing[0]]} blocks "
                                                 f"({where})",
                              _takers(key)))
        return found


def _gathered(data: Any, names: tuple) -> Any:
    """`data` with the keys of each stage (and of `defaults`) that uses a block of `names`, other
    than its settings, moved into its `block_params`."""
    data = dict(data)
    defaults = data.get("defaults")
    inherited = defaults.get("block", "basic") if isinstance(defaults, dict) else "basic"

    def gather(settings: Any, model: type[BaseModel], block: Any) -> Any:
        if not isinstance(settings, dict) or block in KINDS:  # an unknown kind too: its name is the error
            return settings
        # a block kind's own settings (`expand`, `groups`...) are free names for a block's parameters
        mine = {k for k in model.model_fields if k not in SETTINGS} | {s.name for s in NETWORK}
        own = {k: v for k, v in settings.items() if k in mine}
        params = {k: v for k, v in settings.items() if k not in mine}
        return {**own, "block_params": {**(own.get("block_params") or {}), **params}} if params else own

    if isinstance(defaults, dict):
        data["defaults"] = gather(defaults, Defaults, inherited)
    if isinstance(data.get("stages"), list):
        data["stages"] = [gather(s, Stage, s.get("block", inherited)) if isinstance(s, dict) else s
                          for s in data["stages"]]
    head = data.get("head")
    if isinstance(head, dict) and head.get("type") == "block":  # a block head's parameters beside its keys
        mine = {"type", "block", "from", "name", "block_params"}
        params = {k: v for k, v in head.items() if k not in mine}
        if params:
            data["head"] = {**{k: v for k, v in head.items() if k in mine},
                            "block_params": {**(head.get("block_params") or {}), **params}}
    return data


def _takers(key: str) -> str:
    """A hint naming the block kinds that do use `key`."""
    takers = [k for k in KINDS if applies(key, k)]
    return f"it applies to {', '.join(takers)} blocks; remove it here" if takers else "remove it"


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
            # blocks written in the spec are checked by archspec: the schema cannot know their names
            "if": {"anyOf": [{"required": ["extends"]}, {"required": ["blocks"]}]}, "then": child, "else": strict}

