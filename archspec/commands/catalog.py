"""`archspec list`: the built-in specs, each with its parameters, MACs, input and description."""

from __future__ import annotations

import textwrap
from fnmatch import fnmatchcase

from ..errors import SpecError, printable
from ..pipeline import plan
from ..reading.resolve import builtin_specs
from ..units import count, dims, si


def list_models(pattern: str = "*") -> list[str]:
    """The names of the built-in specs that match the shell-style `pattern` ("resnet*", "*_b?"),
    sorted; each is a spec reference for `archspec.build`, `plan` and `load`."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern: expected a string such as 'resnet*', got {type(pattern).__name__}")
    return [name for name in builtin_specs() if fnmatchcase(name, pattern)]


def catalog(pattern: str = "*") -> list[dict]:
    """One entry per built-in spec whose name matches the shell-style `pattern` ("resnet*");
    an abstract base has no figures (it plans nothing)."""
    entries = []
    for name in list_models(pattern):
        try:
            p = plan(name)
        except SpecError as e:
            if [i.code for i in e.issues] != ["AS705"]:  # a built-in spec plans, or the package is broken
                raise
            entries.append({"name": name, "abstract": True, "params": None, "macs": None, "input": None,
                            "description": "a base for other specs"})
            continue
        entries.append({"name": name, "abstract": False, "params": p.params, "macs": p.macs,
                        "input": list(p.input_shape), "description": printable(p.spec.description)})
    return entries


def table(entries: list[dict], width: int | None = None) -> str:
    """The entries as columns. With `width` (a terminal's), no line is longer: descriptions wrap
    in their column, or under their row when the column would be narrower than 20."""
    rows = [(e["name"], count(e["params"]) if e["params"] else "abstract", si(e["macs"]) if e["macs"] else "",
             dims(e["input"]) if e["input"] else "", e["description"]) for e in entries]
    header = ("name", "params", "MACs", "input", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    indent = sum(widths) + 2 * 4  # where the description column starts
    below = width is not None and width - indent < 20
    lines = []
    for r in [header, *rows]:
        start = f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:<{widths[3]}}"
        if width is None:
            lines.append(f"{start}  {r[4]}".rstrip())
        elif below:
            lines += [start.rstrip(), *textwrap.wrap(r[4], width, initial_indent="    ", subsequent_indent="    ")]
        else:
            described = textwrap.wrap(r[4], width - indent, break_on_hyphens=False) or [""]
            lines += [f"{start}  {described[0]}".rstrip(), *(" " * indent + more for more in described[1:])]
    return "\n".join(lines)
