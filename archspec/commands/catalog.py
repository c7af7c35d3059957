"""`archspec list`: the built-in specs, each with its parameters, MACs, input and description."""

from __future__ import annotations

from ..errors import printable
from ..reading.messages import check_tree
from ..pipeline import plan
from ..reading.resolve import builtin_specs, resolve
from ..units import count, dims, si


def catalog() -> list[dict]:
    """One entry per built-in spec, by name; an abstract base has no figures (it plans nothing)."""
    entries = []
    for name in builtin_specs():
        spec = check_tree(resolve(name))
        if spec is None:
            entries.append({"name": name, "abstract": True, "params": None, "macs": None, "input": None,
                            "description": printable(resolve(name).tree.get("description", ""))})
            continue
        p = plan(spec)
        entries.append({"name": name, "abstract": False, "params": p.params, "macs": p.macs,
                        "input": list(p.input_shape), "description": printable(spec.description)})
    return entries


def table(entries: list[dict]) -> str:
    rows = [(e["name"], count(e["params"]) if e["params"] else "abstract", si(e["macs"]) if e["macs"] else "",
             dims(e["input"]) if e["input"] else "", e["description"]) for e in entries]
    header = ("name", "params", "MACs", "input", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:<{widths[3]}}  {r[4]}"
                     .rstrip() for r in [header, *rows])
