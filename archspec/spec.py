"""The spec format as pydantic models: types, ranges and defaults.

Every model forbids unknown keys and is strict (a bool or a float is not a
channel count). Errors are turned into located `Issue`s by `check_tree`.
"""

from __future__ import annotations

import difflib
import re
import typing
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      ValidationError, WithJsonSchema)
from pydantic_core import PydanticCustomError

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
    classes: PositiveInt = Field(description="number of outputs of the final linear layer")
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


class Spec(_Model):
    archspec: Literal[1] = Field(description="format version")
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")] = Field(
        description="use letters, digits, '_', '.' and '-' only")
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

    def stage_list(self) -> list[Stage]:
        """The stages, generated ones written out."""
        return self.stages.expand() if isinstance(self.stages, RegNetStages) else self.stages

    def stage_settings(self, index: int) -> Defaults:
        """The block settings of stage `index`: the stage's own over `defaults`."""
        stage = self.stage_list()[index]
        own = {k: getattr(stage, k) for k in BlockSettings.model_fields if getattr(stage, k) is not None}
        return self.defaults.model_copy(update=own)


def json_schema() -> dict:
    """The JSON Schema of the spec format: draft-07, which yaml-language-server reads."""
    return {"$schema": "http://json-schema.org/draft-07/schema#", **Spec.model_json_schema(),
            "title": "archspec spec", "description": "A CNN described for archspec: stem, stages, head."}


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


def _owners(loc: tuple) -> list[type[BaseModel]]:
    """The model class that owns the last key of `loc` (several when a union's tag is unknown)."""
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
            return []
        found = _models_in(model.model_fields[part].annotation)
        model, candidates = (found[0], []) if len(found) == 1 else (None, found)
    return [model] if model is not None else candidates


def _field_at(loc: tuple):
    """The pydantic field that the last named key of `loc` stands for, if one does."""
    names = [n for n, part in enumerate(loc) if isinstance(part, str)]
    if not names:
        return None
    key = loc[names[-1]]
    owners = _owners(loc[:names[-1] + 1])
    return owners[0].model_fields.get(key) if len(owners) == 1 else None


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


def _literals_in(annotation: Any) -> list:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    return [v for arg in typing.get_args(annotation) for v in _literals_in(arg)]


_CODES = {"extra_forbidden": "AS201", "invalid_key": "AS201", "missing": "AS202", "union_tag_not_found": "AS202",
          "literal_error": "AS205", "union_tag_invalid": "AS205"}
_RANGE = {"greater_than": ("small", ">", "gt"), "greater_than_equal": ("small", "≥", "ge"),
          "less_than": ("large", "<", "lt"), "less_than_equal": ("large", "≤", "le")}
_LENGTH = {"too_short": ("at least", "min_length"), "too_long": ("at most", "max_length")}
_EXPECTED = {  # type error → (what was expected, how to write it)
    "int_type": ("a whole number", "write a whole number"),
    "float_type": ("a number", "write a number such as 0.2"),
    "bool_type": ("true or false", "write true or false"),
    "string_type": ("text", "put it in quotes"),
    "list_type": ("a list", "write [a, b], or one '- item' per line"),
    "model_type": ("a mapping", ""),
    "model_attributes_type": ("a mapping", ""),
    "dict_type": ("a mapping", ""),
}


def _issue(source: Source, err: dict) -> Issue:
    """A pydantic error as an Issue located in the YAML, with a hint that says how to fix it."""
    loc, kind = tuple(err["loc"]), err["type"]
    path = _data_path(source.tree, loc)
    out_of_range = kind in _RANGE or kind in _LENGTH or kind in ("string_too_short", "finite_number")
    code = _CODES.get(kind, "AS204" if out_of_range else "AS203")
    if kind in ("extra_forbidden", "invalid_key"):
        if kind == "invalid_key":  # a key that is not a string: pydantic gives its str()
            path = _key_as_written(source.tree, path)
        message, hint = _unknown_key(loc, path)
        line, col = source.locate(path, key=True)
    elif kind in ("missing", "union_tag_not_found"):
        if kind == "union_tag_not_found":
            loc, path = loc + ("type",), path + ("type",)
        message = f"missing key '{path[-1]}' in {_dotted(path[:-1])}"
        line, col = source.locate(path[:-1])
        hint = _add_key_hint(loc, str(path[-1]))
    elif kind in ("literal_error", "union_tag_invalid"):
        if kind == "union_tag_invalid":
            loc, path = loc + ("type",), path + ("type",)
        message, hint = _not_allowed(source, err, loc, path)
        line, col = source.locate(path)
    else:
        path = _existing_prefix(source.tree, path)
        message, hint = _wrong_value(source, err, loc, path)
        line, col = source.locate(path)
    return Issue(source.path, line, col, message, hint, code)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "top level"


def _unknown_key(loc: tuple, path: tuple) -> tuple[str, str]:
    key = path[-1] if isinstance(path[-1], str) else _show(path[-1])
    owners = _owners(loc)
    allowed = list(owners[0].model_fields) if len(owners) == 1 else []
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "allowed keys: " + ", ".join(allowed) if allowed else ""
    if owners == [Stage] and key in Defaults.model_fields:
        hint = f"`{key}` is a network-wide setting: set it in `defaults`"
    return f"unknown key '{key}' in {_dotted(path[:-1])}", hint


def _key_as_written(tree: Any, path: tuple) -> tuple:
    parent = _value_at(tree, path[:-1])
    keys = [k for k in parent if str(k) == str(path[-1])] if isinstance(parent, dict) else []
    return path[:-1] + tuple(keys[:1]) if keys else path


def _add_key_hint(loc: tuple, key: str) -> str:
    owners = _owners(loc)
    if key == "type" and len(owners) > 1:
        return "add `type:`, one of: " + ", ".join(str(_tag_of(m)) for m in owners)
    field = owners[0].model_fields.get(key) if len(owners) == 1 else None
    return f"add `{key}:` ({field.description})" if field and field.description else f"add `{key}:`"


def _not_allowed(source: Source, err: dict, loc: tuple, path: tuple) -> tuple[str, str]:
    field = _field_at(loc)
    allowed = [str(v) for v in _literals_in(field.annotation)] if field else []
    if not allowed:
        expected = err["ctx"]["expected" if "expected" in err["ctx"] else "expected_tags"]
        allowed = re.findall(r"'([^']*)'", expected) or [expected]
    got = _value_at(source.tree, path)
    message = f"{_dotted(path)}: {_show(got)} is not one of: {', '.join(allowed)}"
    close = difflib.get_close_matches(str(got), allowed, n=1)
    if len(allowed) == 1:
        return message, f"write {allowed[0]}"
    return message, f"did you mean '{close[0]}'?" if close else ""


def _wrong_value(source: Source, err: dict, loc: tuple, path: tuple) -> tuple[str, str]:
    kind, ctx, where = err["type"], err.get("ctx", {}), _dotted(path)
    got = _value_at(source.tree, path)
    field = _field_at(loc)
    about = f"{loc[-1] if isinstance(loc[-1], str) else where}: {field.description}" if field and field.description else ""
    if kind in _RANGE:
        size, sign, bound = _RANGE[kind]
        return f"{where}: {_show(got)} is too {size}", f"use a number {sign} {ctx[bound]:g}"
    if kind == "finite_number":
        return f"{where}: {_show(got)} is not a finite number", "use a finite number"
    if kind in _LENGTH:
        bound, name = _LENGTH[kind]
        n = ctx["actual_length"]
        return f"{where}: has {n} item{'s' * (n != 1)}; it needs {bound} {ctx[name]}", about
    if kind == "string_too_short":
        return f"{where}: is empty", about
    if kind == "string_pattern_mismatch":
        return f"{where}: {_show(got)} has characters that are not allowed", about
    if kind == "count_format":
        return f"{where}: {err['msg']}", "write a whole number, or a decimal with K, M, G or T: 25.6M, 4.1G"
    if kind in _EXPECTED:
        expected, how = _EXPECTED[kind]
        return f"{where}: expected {expected}, got {_show(got)}", _type_hint(kind, got, loc) or about or how
    return f"{where}: {_lower_first(err['msg'])}", about


def _type_hint(kind: str, got: Any, loc: tuple) -> str:
    """A fix for the common slips: a quoted number, yes/no for a boolean, a scalar for a mapping."""
    if kind in ("int_type", "float_type") and isinstance(got, str) and re.fullmatch(r"\s*[-+]?[0-9.]+\s*", got):
        return "remove the quotes"
    if kind == "int_type" and isinstance(got, float):
        return "write a whole number"
    if kind == "bool_type" and isinstance(got, str) and got.lower() in ("yes", "no", "on", "off", "y", "n"):
        return "archspec reads YAML 1.2: write true or false"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        owners = _owners(loc + ("",))
        if len(owners) > 1:
            return "write a mapping whose `type:` is one of: " + ", ".join(str(_tag_of(m)) for m in owners)
        if owners:
            return "write a mapping with keys from: " + ", ".join(owners[0].model_fields)
    return ""


def _show(value: Any) -> str:
    """A value as the message quotes it: short, and in YAML's words for the non-scalars."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
