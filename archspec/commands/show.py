"""`archspec show`: the resolved spec as YAML that `build` accepts, each value annotated with
where it was set (`# resnet50.yaml:9`, `# --set stages.2.depth=23`, `# default`), a scaled
value with what it was (`# scale 0.5 of 256 at base.yaml:9`) and a description a child
did not write with `# inherited from base.yaml:3`. Defaults the network's block kinds have
no use for are left out."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import printable
from ..reading.resolve import without_composition
from ..reading.source import FITTED, Origin, _plain_value
from ..reading.spec import Spec

_PLAIN = re.compile(r"[A-Za-z_][\w.\-]*")


def resolved_tree(spec: Spec) -> dict:
    """Every setting of `spec`, defaults included, less the defaults that no stage's block kind
    uses (`stride_on` in a network of basic blocks); a stage's unset block settings stay unset
    (inherited)."""
    from ..planning.kinds import SETTINGS, applies

    tree = without_composition(spec.model_dump(mode="python", exclude_none=True))
    kinds = {spec.stage_settings(i).block for i in range(len(spec.all_stages))}
    positions = spec.source.positions if spec.source else {}
    tree["defaults"] = {key: value for key, value in tree.get("defaults", {}).items()
                        if key not in SETTINGS or ("defaults", key) in positions or any(applies(key, k) for k in kinds)}
    return tree


def origins(spec: Spec) -> dict[tuple, Origin | None]:
    """Key path of every value in `resolved_tree` → where it was set (None: the default)."""
    positions = spec.source.positions if spec.source else {}
    return {path: positions.get(path) for path in _leaves(resolved_tree(spec), ())}


def show(spec: Spec) -> str:
    """The resolved spec as annotated YAML."""
    found = {path: _note(spec, path, origin) for path, origin in origins(spec).items()}
    lines: list[str] = []
    _mapping(resolved_tree(spec), (), 0, found, lines, first_prefix="")
    return "\n".join(lines) + "\n"


def show_json(spec: Spec) -> dict:
    """{"spec": every setting, "origins": {"stages.2.depth": "resnet50.yaml:11" | "--set …" | "default"}}"""
    return {"spec": resolved_tree(spec),
            "origins": {".".join(map(str, p)): _where(o) for p, o in origins(spec).items()}}


def _note(spec: Spec, path: tuple, origin: Origin | None) -> str:
    """The comment after a value: where it was set, and what scale made of it or that it was inherited."""
    source = spec.source
    if source is not None and path in source.scaled:
        before, factor = source.scaled[path]
        fitted = ", fitted to the budget of `scale.fit`" if FITTED in source.scaled else ""
        return f"scale {factor:g} of {_scalar(before)} at {_where(origin)}{fitted}"
    if path == ("description",) and _inherited(spec, origin):  # another network's words, kept silently
        return f"inherited from {_where(origin)}"
    return _where(origin)


def _inherited(spec: Spec, origin: Origin | None) -> bool:
    """Whether a value was set in a base the spec extends (not the spec's own file, not --set)."""
    return (origin is not None and origin.line is not None and spec.source is not None
            and origin.file != spec.source.path)


def _leaves(value: Any, path: tuple) -> list[tuple]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaves(v, path + (k,))]
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return [p for i, v in enumerate(value) for p in _leaves(v, path + (i,))]
    return [path]


def _where(origin: Origin | None) -> str:
    if origin is None:
        return "default"
    return origin.file if origin.line is None else f"{origin.file}:{origin.line}"


def _mapping(tree: dict, path: tuple, indent: int, found: dict, lines: list[str], first_prefix: str) -> None:
    pad = " " * indent
    for n, (key, value) in enumerate(tree.items()):
        prefix = first_prefix if n == 0 and first_prefix else pad
        at = path + (key,)
        if isinstance(value, dict) and value:
            lines.append(f"{prefix}{key}:")
            _mapping(value, at, indent + 2, found, lines, "")
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            lines.append(f"{prefix}{key}:")
            for i, item in enumerate(value):
                _mapping(item, at + (i,), indent + 4, found, lines, " " * (indent + 2) + "- ")
        else:
            lines.append(f"{prefix}{key}: {_scalar(value)}  # {printable(found[at])}")


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if _PLAIN.fullmatch(value) and _plain_value(value) == value:
        return value
    return printable(json.dumps(value, ensure_ascii=False))  # a JSON string is a YAML string
