"""The spec format as pydantic models: types, ranges and defaults.

Every model forbids unknown keys and is strict (a bool or a float is not a
channel count). Errors are turned into located `Issue`s by `check_tree`.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      ValidationError, WithJsonSchema)

from . import regnet
from .errors import Issue, SpecError
from .source import Source, load_source

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
    channels: PositiveInt = 3
    size: Size = [224, 224]

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
    depth: PositiveInt = Field(description="number of blocks")
    channels: PositiveInt = Field(description="output channels of every block")
    stride: PositiveInt = Field(1, description="stride of the first block")
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
    channels: PositiveInt
    kernel: PositiveInt = 7
    stride: PositiveInt = 2
    padding: Annotated[int, Field(ge=0)] | None = Field(None, description="default kernel // 2")
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
    classes: PositiveInt
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0


class NoHead(_Model):
    type: Literal["none"]


Stem = Annotated[Union[ConvStem, DeepStem, NoStem], Field(discriminator="type")]
Head = Annotated[Union[ClassifierHead, NoHead], Field(discriminator="type")]

# `stages:` is a list, or a mapping that generates one; the tag names the choice in error locations.
_STAGES_TAGS = {"list": Stage, "regnet": RegNetStages}  # tag -> the model of its items
Stages = Annotated[
    Union[Annotated[Annotated[list[Stage], Field(min_length=1)], Tag("list")], Annotated[RegNetStages, Tag("regnet")]],
    Discriminator(lambda v: "regnet" if isinstance(v, (dict, RegNetStages)) else "list"),
]


class Spec(_Model):
    archspec: Literal[1]
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str = ""
    input: Input
    defaults: Defaults = Defaults()
    stem: Stem
    stages: Stages
    head: Head

    _source: Source | None = PrivateAttr(None)

    @property
    def source(self) -> Source | None:
        """Where the spec came from (text and positions), if it was loaded from YAML."""
        return self._source

    def stage_list(self) -> list[Stage]:
        """The stages, generated ones written out."""
        return self.stages.expand() if isinstance(self.stages, RegNetStages) else self.stages

    def stage_settings(self, index: int) -> Defaults:
        """The block settings of stage `index`: the stage's own over `defaults`."""
        stage = self.stage_list()[index]
        own = {k: getattr(stage, k) for k in BlockSettings.model_fields if getattr(stage, k) is not None}
        return self.defaults.model_copy(update=own)


def load(path: str) -> Spec:
    """Read, parse and validate a spec file; raise SpecError with every problem found."""
    return check_source(load_source(path))


def check_source(source: Source) -> Spec:
    """Validate a parsed tree against the schema; errors point into the YAML."""
    try:
        spec = Spec.model_validate(source.tree)
    except ValidationError as e:
        issues = [_issue(source, err) for err in e.errors(include_input=False, include_url=False)]
        raise SpecError(list(dict.fromkeys(issues))) from None  # [H, W] errors come twice
    spec._source = source
    return spec


# --- pydantic error → located Issue -------------------------------------------------


def _data_path(tree: Any, loc: tuple) -> tuple:
    """Map pydantic's `loc` onto the data: skip union tags, stop at the first part not present."""
    path, node = [], tree
    for i, part in enumerate(loc):
        if _is_stages_tag(loc, i):
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and node.get("type") == part:
            continue  # the tag of a discriminated union
        else:
            path.append(part)  # a missing or unknown key: keep it, it is the subject
            break
        path.append(part)
    return tuple(path)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class that owns the last key of `loc`, for 'did you mean'."""
    model: type[BaseModel] | None = Spec
    candidates: list[type[BaseModel]] = []
    for i, part in enumerate(loc[:-1]):
        if isinstance(part, int):
            continue
        if candidates:  # a union tag chooses the model
            model = _STAGES_TAGS[part] if _is_stages_tag(loc, i) else next(
                (m for m in candidates if _tag_of(m) == part), None)
            candidates = []
            if model is not None:
                continue
        if model is None or part not in model.model_fields:
            return None
        found = _models_in(model.model_fields[part].annotation)
        model, candidates = (found[0], []) if len(found) == 1 else (None, found)
    return model


def _is_stages_tag(loc: tuple, i: int) -> bool:
    """Whether loc[i] is the tag pydantic puts after `stages` (list or generated)."""
    return i == 1 and loc[0] == "stages" and loc[i] in _STAGES_TAGS


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("type")
    args = typing.get_args(field.annotation) if field else ()
    return args[0] if args else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


_CODES = {"extra_forbidden": "AS201", "missing": "AS202", "literal_error": "AS205", "union_tag_invalid": "AS205"}


def _issue(source: Source, err: dict) -> Issue:
    loc, kind = tuple(err["loc"]), err["type"]
    path = _data_path(source.tree, loc)
    message, hint = err["msg"], ""
    code = _CODES.get(kind, "AS204" if kind.endswith(("_than", "_equal", "_length", "_short", "_long")) else "AS203")
    where = ".".join(str(p) for p in path) or "top level"

    if kind == "extra_forbidden":
        key = str(path[-1])
        message = f"unknown key '{key}' in {'.'.join(str(p) for p in path[:-1]) or 'top level'}"
        model = _model_at(loc)
        if model is Stage and key in Defaults.model_fields:
            hint = f"`{key}` is a network-wide setting: set it in `defaults`"
        elif model is not None:
            allowed = list(model.model_fields)
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "allowed keys: " + ", ".join(allowed)
        line, col = source.locate(path, key=True)
    elif kind == "missing":
        message = f"missing key '{path[-1]}' in {'.'.join(str(p) for p in path[:-1]) or 'top level'}"
        line, col = source.locate(path[:-1])
    elif kind in ("literal_error", "union_tag_invalid"):
        expected = err["ctx"]["expected"] if kind == "literal_error" else err["ctx"]["expected_tags"]
        allowed = [v.strip("'") for v in re.split(r", | or ", expected)]
        if kind == "union_tag_invalid":
            path = path + ("type",)
            where = ".".join(str(p) for p in path)
        got = _value_at(source.tree, path)
        message = f"{where}: {got!r} is not one of: {', '.join(allowed)}"
        close = difflib.get_close_matches(str(got), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else ""
        line, col = source.locate(path)
    elif kind == "union_tag_not_found":
        message = f"{where}: missing key 'type'"
        line, col = source.locate(path)
    else:
        path = _existing_prefix(source.tree, path)
        where = ".".join(str(p) for p in path) or "top level"
        message = f"{where}: {_lower_first(message)}"
        line, col = source.locate(path)
    return Issue(source.path, line, col, message, hint, code)


def _existing_prefix(tree: Any, path: tuple) -> tuple:
    for n, part in enumerate(path):
        if not isinstance(tree, (dict, list)):
            return path[:n]
        try:
            tree = tree[part]
        except (KeyError, IndexError, TypeError):
            return path[:n]
    return path


def _value_at(tree: Any, path: tuple) -> Any:
    for part in path:
        try:
            tree = tree[part]
        except (KeyError, IndexError, TypeError):
            return None
    return tree


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
