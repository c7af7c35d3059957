"""pydantic's validation errors → `Issue`s located in the YAML, each saying how to fix it.

pydantic locates an error by a path through the models (`stages.list.1.depth`, with
union tags); this maps it onto the data and its `line:column`, and rewrites the
message: the value found, the allowed values, "did you mean", the key to add.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ..errors import Issue, SpecError, did_you_mean, quoted
from .blockdefs import definition_issues
from .source import Origin, Source
from .spec import _STAGES_TAGS, Defaults, Scale, Spec, Stage


def check_tree(source: Source) -> Spec | None:
    """Validate a composed tree against the schema; errors point wherever each value was set.

    An abstract spec (`abstract: true`) is checked as a base: what it says must be valid,
    but it may leave out required keys; it gives None instead of a Spec."""
    tree = source.tree
    abstract = isinstance(tree, dict) and tree.get("abstract") is True
    try:
        spec = Spec.model_validate(tree)
    except ValidationError as e:
        missing = ("missing", "union_tag_not_found")
        issues = schema_issues(source, e, keep=lambda err: not (abstract and err["type"] in missing))
        if issues:
            raise SpecError(issues + definition_issues(source)) from None
        return None
    if spec.abstract:
        return None
    spec._source = source
    if issues := spec.user_block_issues():  # blocks written in the spec, and the stages' uses of them
        raise SpecError(issues)
    if misplaced := spec.misplaced_settings():  # settings a block kind has no use for, at each one
        raise SpecError(misplaced_issues(source, misplaced))
    return spec


def check_scale(scale: Any, positions: dict[tuple, Origin]) -> Scale:
    """`scale:` checked by the schema, its errors located like any other."""
    try:
        Spec.model_validate({"scale": scale})  # through Spec, so errors are explained like every other
    except ValidationError as e:
        source = Source("spec", "", {"scale": scale}, positions, {})
        issues = schema_issues(source, e, keep=lambda err: err["loc"][:1] == ("scale",))
        if issues:
            raise SpecError(issues) from None
    return Scale.model_validate(scale)


def schema_issues(source: Source, error: ValidationError, keep=lambda err: True) -> list[Issue]:
    """The errors (those `keep(err)` accepts) as Issues, each located where its value was set."""
    errors = error.errors(include_input=False, include_url=False)
    issues = [_issue(source, err) for err in errors if keep(err)]
    return list(dict.fromkeys(issues))  # [H, W] errors come twice


def misplaced_issues(source: Source, misplaced: list[tuple[tuple, str, str]]) -> list[Issue]:
    """Settings a block kind has no use for, each located at its value (AS305)."""
    return [source.issue(path, message, hint, "AS305") for path, message, hint in misplaced]


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


def _written_keys(model: type[BaseModel]) -> list[str]:
    """The keys a person writes in a mapping of this model (not those kept only inside, `exclude`d)."""
    return [name for name, field in model.model_fields.items() if not field.exclude]


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
        where = source.locate(path, key=True)
    elif kind in ("missing", "union_tag_not_found"):
        if kind == "union_tag_not_found":
            loc, path = loc + ("type",), path + ("type",)
        message = f"missing key '{path[-1]}' in {_dotted(path[:-1])}"
        where = source.locate(path[:-1])
        hint = _add_key_hint(loc, str(path[-1]))
    elif kind in ("literal_error", "union_tag_invalid"):
        if kind == "union_tag_invalid":
            loc, path = loc + ("type",), path + ("type",)
        message, hint = _not_allowed(source, err, loc, path)
        where = source.locate(path)
    else:
        path = _existing_prefix(source.tree, path)
        message, hint = _wrong_value(source, err, loc, path)
        where = source.locate(path)
    return Issue(*where, message, hint, code)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "top level"


def _unknown_key(loc: tuple, path: tuple) -> tuple[str, str]:
    key = path[-1] if isinstance(path[-1], str) else quoted(path[-1])
    owners = _owners(loc)
    allowed = _written_keys(owners[0]) if len(owners) == 1 else []
    hint = did_you_mean(key, allowed) or ("allowed keys: " + ", ".join(allowed) if allowed else "")
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
    only = _literals_in(field.annotation) if field else []
    written = f"{key}: {only[0]}" if len(only) == 1 else f"{key}:"  # `archspec: 1`
    return f"add `{written}` ({field.description})" if field and field.description else f"add `{written}`"


# other names of an allowed value, which spelling alone would not find (`swish` is closer to `hardswish`)
_ALIASES = {"swish": "silu", "hswish": "hardswish", "hard_swish": "hardswish", "hsigmoid": "hardsigmoid",
            "hard_sigmoid": "hardsigmoid", "lrelu": "leaky_relu", "leakyrelu": "leaky_relu"}


def _not_allowed(source: Source, err: dict, loc: tuple, path: tuple) -> tuple[str, str]:
    field = _field_at(loc)
    allowed = [str(v) for v in _literals_in(field.annotation)] if field else []
    if not allowed:
        expected = err["ctx"]["expected" if "expected" in err["ctx"] else "expected_tags"]
        allowed = re.findall(r"'([^']*)'", expected) or [expected]
    got = _value_at(source.tree, path)
    message = f"{_dotted(path)}: {quoted(got)} is not one of: {', '.join(allowed)}"
    alias = _ALIASES.get(str(got).lower())
    close = [alias] if alias in allowed else difflib.get_close_matches(str(got), allowed, n=1)
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
        if loc[-1] == "se" and isinstance(got, (int, float)) and got >= 2:  # SE papers speak of a reduction, 1/se
            return (f"{where}: {quoted(got)} is too large: `se` is a ratio of channels, at most 1",
                    f"a reduction of {got:g} is `se: {1 / got:g}`")
        return f"{where}: {quoted(got)} is too {size}", f"use a number {sign} {ctx[bound]:g}"
    if kind == "finite_number":
        return f"{where}: {quoted(got)} is not a finite number", "use a finite number"
    if kind in _LENGTH:
        bound, name = _LENGTH[kind]
        n = ctx["actual_length"]
        return f"{where}: has {n} item{'s' * (n != 1)}; it needs {bound} {ctx[name]}", about
    if kind == "string_too_short":
        return f"{where}: is empty", about
    if kind == "string_pattern_mismatch":
        return f"{where}: {quoted(got)} has characters that are not allowed", about
    if kind == "count_format":
        return f"{where}: {err['msg']}", "write a whole number, or a decimal with K, M, G or T: 25.6M, 4.1G"
    if kind == "bytes_format":
        return f"{where}: {err['msg']}", "write a whole number of bytes, or a decimal with KiB, MiB, GiB or TiB: 40GiB"
    if kind in _EXPECTED:
        expected, how = _EXPECTED[kind]
        return f"{where}: expected {expected}, got {quoted(got)}", _type_hint(kind, got, loc) or about or how
    if kind == "too_many_blocks":
        return f"{where}: {err['msg']}", "check the depth (limit: archspec.limits.MAX_BLOCKS)"
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
            return "write a mapping with keys from: " + ", ".join(_written_keys(owners[0]))
    return ""


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
