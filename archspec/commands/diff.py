"""`archspec diff OLD NEW`: what a change to a spec does, from the two plans alone (no torch).

Part by part (input, stem, each stage, head): the settings that changed, the change in
parameters and multiply-adds, the output shape; then weight compatibility — which of
OLD's `state_dict` tensors carry over to NEW (same key, same shape), which change shape,
which are dropped and which are new. Rendered as text, JSON or a markdown table.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from typing import Any

from ..errors import printable
from ..planning.nodes import Node, Shape
from ..planning.plan import Plan, sections
from ..reading.spec import Spec
from ..planning.tensors import Tensor, state_dict_of
from ..planning.memory import layer_memory
from ..units import dims, si, size

SHOWN = 10  # list entries shown in text and markdown; JSON has them all


@dataclass
class Part:
    """One row of the change table: a part of the network in OLD and NEW."""

    name: str  # as a person reads it: "stem", "layer3", "head"
    key: str  # its data path in the spec: "stem", "stages.2"
    changes: list[tuple[str, Any, Any]]  # (setting, old, new); a missing side is None
    params: tuple[int, int]
    macs: tuple[int, int]
    memory: tuple[int, int]  # activation memory: bytes saved for backward, at the diff's batch and dtype
    output: tuple[Shape | None, Shape | None]


@dataclass
class Weights:
    """OLD's state_dict against NEW's: what a checkpoint of OLD gives a model of NEW."""

    carried: list[str]  # same key, same shape
    reshaped: list[tuple[str, Shape, Shape]]  # same key, another shape
    dropped: list[tuple[str, Shape]]  # only in OLD
    new: list[tuple[str, Shape]]  # only in NEW
    old_tensors: int
    new_tensors: int
    carried_params: int  # parameters (elements) carried over
    old_params: int
    new_params: int

    @property
    def compatible(self) -> bool:
        """Every tensor of OLD has its place in NEW: OLD's checkpoint loads, all of it."""
        return not (self.reshaped or self.dropped)

    def to_dict(self) -> dict:
        return {
            "compatible": self.compatible, "old_tensors": self.old_tensors, "new_tensors": self.new_tensors,
            "carried": len(self.carried), "carried_params": self.carried_params,
            "carried_percent_of_old": _percent(self.carried_params, self.old_params),
            "carried_percent_of_new": _percent(self.carried_params, self.new_params),
            "reshaped": [{"key": k, "old": list(a), "new": list(b)} for k, a, b in self.reshaped],
            "dropped": [{"key": k, "shape": list(s)} for k, s in self.dropped],
            "new": [{"key": k, "shape": list(s)} for k, s in self.new],
        }


@dataclass
class Diff:
    old: Plan
    new: Plan
    batch: int  # of the activation memory figures
    dtype: str
    parts: list[Part] = field(default_factory=list)  # only the parts that differ
    weights: Weights | None = None

    @property
    def identical(self) -> bool:
        return not self.parts and self.weights.compatible and not self.weights.new

    def to_dict(self) -> dict:
        return {
            "old": _side(self.old), "new": _side(self.new), "identical": self.identical,
            "params": _delta(self.old.params, self.new.params), "macs": _delta(self.old.macs, self.new.macs),
            "memory": {**_delta(*self.memory), "batch": self.batch, "dtype": self.dtype},
            "output": {"old": list(self.old.output_shape), "new": list(self.new.output_shape)},
            "parts": [{"part": p.name, "key": p.key,
                       "changes": [{"setting": s, "old": a, "new": b} for s, a, b in p.changes],
                       "params": _delta(*p.params), "macs": _delta(*p.macs), "memory": _delta(*p.memory),
                       "output": {"old": _list(p.output[0]), "new": _list(p.output[1])}} for p in self.parts],
            "weights": self.weights.to_dict(),
        }

    @property
    def memory(self) -> tuple[int, int]:
        return self.old.activation_memory(self.batch, self.dtype), self.new.activation_memory(self.batch, self.dtype)


def diff(old: Plan, new: Plan, batch: int = 1, dtype: str = "float32") -> Diff:
    """Compare two plans part by part (activation memory for `batch` inputs in `dtype`), and
    their state_dicts tensor by tensor."""
    result = Diff(old, new, batch, dtype, weights=weights(state_dict_of(old), state_dict_of(new)))
    a, b = (_sides(p, layer_memory(p, batch, dtype)) for p in (old, new))
    for key in sorted(a.keys() | b.keys(), key=_order):
        was, now = a.get(key, _ABSENT), b.get(key, _ABSENT)
        part = Part(was.name or now.name, ".".join(map(str, key)), _changes(was.settings, now.settings),
                    (was.params, now.params), (was.macs, now.macs), (was.memory, now.memory),
                    (was.output, now.output))
        if part.changes or any(a != b for a, b in (part.params, part.macs, part.memory, part.output)):
            result.parts.append(part)
    return result


def weights(old: dict[str, Tensor], new: dict[str, Tensor]) -> Weights:
    carried = [k for k, t in old.items() if k in new and new[k].shape == t.shape]
    return Weights(
        carried=carried,
        reshaped=[(k, t.shape, new[k].shape) for k, t in old.items() if k in new and new[k].shape != t.shape],
        dropped=[(k, t.shape) for k, t in old.items() if k not in new],
        new=[(k, t.shape) for k, t in new.items() if k not in old],
        old_tensors=len(old), new_tensors=len(new),
        carried_params=sum(old[k].numel for k in carried if old[k].parameter),
        old_params=sum(t.numel for t in old.values() if t.parameter),
        new_params=sum(t.numel for t in new.values() if t.parameter),
    )


# --- the parts of a plan: settings as written out, and the nodes they became --------------------

@dataclass(frozen=True)
class _Side:
    """A part of one network: its settings as the planner saw them, and what they cost."""

    name: str
    settings: dict
    nodes: tuple[Node, ...] = ()
    output: Shape | None = None
    memory: int = 0  # bytes its layers save for backward

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)


_ABSENT = _Side("", {})


def _sides(plan: Plan, memory: dict[str, int]) -> dict[tuple, _Side]:
    """The input, the stem, each stage and the head of `plan`, by key path in the spec;
    `memory`: the activation memory of each layer, by name."""
    spec: Spec = plan.spec
    stem, stages, head = sections(plan)

    def side(name: str, settings: dict, nodes: list[Node]) -> _Side:
        return _Side(name, settings, tuple(nodes), nodes[-1].shape if nodes else None,
                     sum(memory[n.name] for n in nodes))

    out = {
        ("input",): _Side("input", {"channels": plan.input_shape[0], "size": list(plan.input_shape[1:])},
                          output=plan.input_shape),
        ("stem",): side("stem", spec.stem.model_dump(), stem),
        ("head",): side("head", spec.head.model_dump(), head),
    }
    for i, (stage, node) in enumerate(zip(spec.all_stages, stages)):
        settings = {k: getattr(stage, k) for k in ("depth", "channels", "stride", "dilation")}
        settings.update(spec.stage_settings(i).model_dump())
        out[("stages", i)] = side(node.name, settings, [node])
    return out


def _order(key: tuple) -> tuple:
    return ({"input": 0, "stem": 1, "stages": 2, "head": 3}[key[0]], *key[1:])


def _changes(old: dict, new: dict) -> list[tuple[str, Any, Any]]:
    if not old or not new:
        return [("stage", None, _describe(new))] if new else [("stage", _describe(old), None)]
    return [(k, old.get(k), new.get(k)) for k in [*old, *(k for k in new if k not in old)]
            if old.get(k) != new.get(k)]


def _describe(settings: dict) -> str:
    """A stage that exists on one side only, in a few words."""
    return f"{settings['block']} ×{settings['depth']}, {settings['channels']} channels, stride {settings['stride']}"


# --- rendering ------------------------------------------------------------------------------------

def _side(plan: Plan) -> dict:
    source = plan.spec.source
    return {"name": plan.spec.name, "file": source.path if source else None, "params": plan.params,
            "macs": plan.macs, "input": list(plan.input_shape), "output": list(plan.output_shape)}


def _delta(old: int, new: int) -> dict:
    return {"old": old, "new": new, "delta": new - old}


def _list(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 100.0


def _value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v).lower()
    return printable(json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v))


def _change_text(setting: str, old: Any, new: Any) -> str:
    if setting == "stage":  # on one side only
        return f"added: {new}" if old is None else f"removed: {old}"
    return f"{setting} {_value(old)} → {_value(new)}"


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def _signed_si(n: int) -> str:
    return ("+" if n > 0 else "-" if n < 0 else "") + si(abs(n))


def _signed_size(n: int) -> str:
    return ("+" if n > 0 else "-" if n < 0 else "") + size(abs(n))


def _shape_text(part: Part) -> str:
    old, new = (dims(s) if s else "—" for s in part.output)
    return new if old == new else f"{old} → {new}"


HEADER = ("part", "key", "change", "output", "Δparams", "ΔMACs", "Δmemory")


def _rows(d: Diff) -> list[tuple[str, ...]]:
    return [(p.name, p.key, "; ".join(_change_text(*c) for c in p.changes) or "(follows from above)",
             _shape_text(p), _signed(p.params[1] - p.params[0]), _signed_si(p.macs[1] - p.macs[0]),
             _signed_size(p.memory[1] - p.memory[0]))
            for p in d.parts]


def _title(d: Diff) -> str:
    return f"{_label(d.old)} → {_label(d.new)}"


def _label(plan: Plan) -> str:
    source = plan.spec.source
    return printable(f"{plan.spec.name} ({source.path})" if source else plan.spec.name)


def _totals(d: Diff) -> str:
    o, n = d.old, d.new
    out = dims(o.output_shape) if o.output_shape == n.output_shape else f"{dims(o.output_shape)} → {dims(n.output_shape)}"
    (m0, m1), batch = d.memory, f"batch {d.batch}, {d.dtype}"
    return (f"total: {_signed(n.params - o.params)} parameters ({o.params:,} → {n.params:,}), "
            f"{_signed_si(n.macs - o.macs)} MACs ({si(o.macs)} → {si(n.macs)}), "
            f"{_signed_size(m1 - m0)} activation memory ({size(m0)} → {size(m1)}, {batch}), output {out}")


def _weights_line(d: Diff, name: str) -> str:
    w = d.weights
    return (f"{len(w.carried)} of {name}'s {w.old_tensors} tensors carry over "
            f"({_percent(w.carried_params, w.old_params):.2f}% of its parameters, "
            f"{_percent(w.carried_params, w.new_params):.2f}% of the new network's); "
            f"{len(w.reshaped)} reshaped, {len(w.dropped)} dropped, {len(w.new)} new")


def _lists(w: Weights) -> list[tuple[str, list[str]]]:
    return [(what, items) for what, items in (
        ("reshaped", [f"{k}: {dims(a) or 'scalar'} → {dims(b) or 'scalar'}" for k, a, b in w.reshaped]),
        ("dropped", [f"{k}: {dims(s) or 'scalar'}" for k, s in w.dropped]),
        ("new", [f"{k}: {dims(s) or 'scalar'}" for k, s in w.new]),
    ) if items]


def text(d: Diff, width: int | None = None) -> str:
    """The change table and the weights. With `width` (a terminal's), no line is longer: the
    change column wraps, and a table that still does not fit gives each part a few lines."""
    if d.identical:
        return _wrap(f"identical networks: {_title(d)} ({d.new.params:,} parameters, {si(d.new.macs)} MACs)", width)
    rows = _rows(d)
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    if width is not None:  # the change column takes what the others leave
        widths[2] = min(widths[2], max(12, width - sum(widths) + widths[2] - 2 * (len(HEADER) - 1)))
    table = [line for r in [HEADER, *rows] for line in _table_lines(r, widths)]
    if width is not None and max(map(len, table)) > width:
        table = [line for r in rows for line in _stacked_lines(r, width)]
    lines = [_wrap(_title(d), width), "", *table, "",
             _wrap(_totals(d), width), _wrap("weights: " + _weights_line(d, d.old.spec.name), width)]
    for what, items in _lists(d.weights):
        lines.append(f"{what} ({len(items)}):" if len(items) <= SHOWN else f"{what} (first {SHOWN} of {len(items)}):")
        lines += [_wrap(f"  {item}", width, "      ") for item in items[:SHOWN]]
    return "\n".join(lines)


def _table_lines(row: tuple, widths: list[int]) -> list[str]:
    """One row of the table; its change text wrapped to its column's width, on more lines."""
    changes = textwrap.wrap(row[2], widths[2], break_on_hyphens=False) or [""]
    first = (*row[:2], changes[0], *row[3:])
    rest = [("", "", more, *[""] * (len(row) - 3)) for more in changes[1:]]
    return ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in (first, *rest)]


def _stacked_lines(row: tuple, width: int) -> list[str]:
    """One part for a narrow terminal: `layer3 (stages.2): depth 6 → 23`, then its figures."""
    figures = f"output {row[3]}, params {row[4]}, MACs {row[5]}, memory {row[6]}"
    return [_wrap(f"{row[0]} ({row[1]}): {row[2]}", width), _wrap("  " + figures, width, "    ")]


def _wrap(line: str, width: int | None, indent: str = "  ") -> str:
    return line if width is None else textwrap.fill(line, width, subsequent_indent=indent, break_on_hyphens=False)


def _cell(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("<", "&lt;")


def markdown(d: Diff) -> str:
    title = f"### archspec diff: {_cell(_title(d))}"
    if d.identical:
        return f"{title}\n\nIdentical networks ({d.new.params:,} parameters, {si(d.new.macs)} MACs)."
    lines = [title, "", f"| {' | '.join(HEADER)} |", "|---|---|---|---|---:|---:|---:|"]
    lines += [f"| {_cell(r[0])} | `{_cell(r[1])}` | {' | '.join(_cell(c) for c in r[2:])} |" for r in _rows(d)]
    lines += ["", _cell(_totals(d)), "", f"**Weights:** {_cell(_weights_line(d, d.old.spec.name))}."]
    for what, items in _lists(d.weights):
        lines += ["", f"<details><summary>{len(items)} {what} tensors</summary>", ""]
        lines += [f"- `{_cell(item)}`" for item in items[:SHOWN]]
        if len(items) > SHOWN:
            lines.append(f"- … and {len(items) - SHOWN} more (`--format json` lists all)")
        lines += ["", "</details>"]
    return "\n".join(lines)


def render_diff(d: Diff, style: str, width: int | None = None) -> str:
    """`d` as "text" (lines of at most `width` characters, if given), "markdown" or "json"."""
    if style == "json":
        return json.dumps(d.to_dict(), indent=1, ensure_ascii=False)
    return markdown(d) if style == "markdown" else text(d, width)
