"""`archspec show`: the resolved spec as YAML that `build` accepts, each value annotated with
where it was set (`# resnet50.yaml:9`, `# --set stages.2.depth=23`, `# default`)."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import printable
from ..reading.source import Origin, _plain_value
from ..reading.spec import Spec

_COMPOSITION = ("extends", "scale", "abstract")  # consumed while resolving: never in a resolved spec
_PLAIN = re.compile(r"[A-Za-z_][\w.\-]*")


def resolved_tree(spec: Spec) -> dict:
    """Every setting of `spec`, defaults included; a stage's unset block settings stay unset (inherited)."""
    tree = spec.model_dump(mode="python", exclude_none=True)
    for key in _COMPOSITION:
        tree.pop(key, None)
    return tree


def origins(spec: Spec) -> dict[tuple, Origin | None]:
    """Key path of every value in `resolved_tree` → where it was set (None: the default)."""
    positions = spec.source.positions if spec.source else {}
    return {path: positions.get(path) for path in _leaves(resolved_tree(spec), ())}


def show(spec: Spec) -> str:
    """The resolved spec as annotated YAML."""
    scaled = spec.source.scaled if spec.source else frozenset()
    how = ", scaled to fit the budget of `scale.fit`" if ("scale", "fit") in scaled else ", scaled"
    found = {path: _where(origin) + (how if path in scaled else "") for path, origin in origins(spec).items()}
    lines: list[str] = []
    _mapping(resolved_tree(spec), (), 0, found, lines, first_prefix="")
    return "\n".join(lines) + "\n"


def show_json(spec: Spec) -> dict:
    """{"spec": every setting, "origins": {"stages.2.depth": "resnet50.yaml:11" | "--set …" | "default"}}"""
    return {"spec": resolved_tree(spec),
            "origins": {".".join(map(str, p)): _where(o) for p, o in origins(spec).items()}}


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
