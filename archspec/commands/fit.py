"""`archspec fit SPEC --macs 600M --along width`: a spec that extends SPEC with the largest
`scale:` (and `input:`) meeting every budget, by the exact plan (archspec.reading.fit)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import Issue, SpecError, printable
from ..planning.plan import Plan, plan_spec
from ..reading.fit import FIGURES, Fitted, at_phi, beside, choose
from ..reading.messages import check_scale, check_tree
from ..reading.resolve import is_name, merged, resolve
from ..reading.source import Origin, Source
from ..reading.spec import Spec


@dataclass(frozen=True)
class FitResult:
    """What `archspec.fit` returns: the fitted spec's text, its Spec and Plan, and the choice."""

    text: str  # YAML: `extends` the input, with the `scale:` (and `input:`) chosen
    spec: Spec
    plan: Plan
    fitted: Fitted
    budget: dict[str, int]  # the maxima given: macs, params, memory

    def figures(self) -> list[str]:
        """'598.7 M MACs of 600 M, 99.8 %' for each budget."""
        return [beside(name, self.fitted.figure(name), limit) for name, limit in self.budget.items()]


def fit(spec: str | os.PathLike, macs: Any = None, params: Any = None, memory: Any = None, batch: int = 1,
        dtype: str = "float32", along: str = "width", compound: dict | None = None, phi: float | None = None,
        overrides: dict[str, Any] | list[str] | None = None, extends: str | None = None) -> FitResult:
    """The largest scaling of `spec` (a path or a built-in name) along `along` (width, depth,
    resolution or compound) whose exact plan meets every budget given (`macs`, `params`,
    `memory` at `batch` in `dtype`: each a maximum, a number or text such as '600M', '40GiB').
    `phi=` with `along="compound"` scales by EfficientNet's rule at that φ instead of a budget;
    `compound={"depth": 1.2, "width": 1.1, "resolution": 1.15}` sets α, β, γ.
    The returned text `extends` `extends` (default: `spec` as given)."""
    if not isinstance(spec, (str, os.PathLike)) or os.fsdecode(spec) == "-":
        raise TypeError("spec: expected the path or built-in name of the spec to fit (the fitted spec extends it)")
    ref = os.fsdecode(spec)
    budget = {k: v for k, v in (("macs", macs), ("params", params), ("memory", memory)) if v is not None}
    if phi is None and not budget:
        raise ValueError("give a budget (macs, params or memory), or phi with along='compound'")
    if phi is not None and along != "compound":
        raise ValueError("phi: only along='compound' has a φ")
    settings: dict[str, Any] = {"along": along}
    if budget:
        settings["fit"] = {**budget, **({"batch": batch, "dtype": dtype} if memory is not None else {})}
    if compound:
        settings["compound"] = dict(compound)
    edits = _edits(overrides)
    child = {"extends": ref, **edits, "scale": {**edits.get("scale", {}), **settings}}
    source = _child_source(child, budget, along)
    _, tree, positions, _ = merged(source)
    scale = check_scale(tree["scale"], positions)
    fitted = at_phi(tree, positions, scale, phi) if phi is not None else choose(tree, positions, scale)
    child["scale"] = fitted.scale(scale)
    if not child["scale"]:
        del child["scale"]
    if fitted.size is not None:
        child["input"] = {"size": fitted.size}
    loaded = check_tree(resolve(_child_source(child, {}, along)))
    p = plan_spec(loaded)
    child["extends"] = extends or ref
    limits = {name: getattr(scale.fit, name) for name in FIGURES if scale.fit and getattr(scale.fit, name)}
    return FitResult(_text(child, fitted, scale.along, limits), loaded, p, fitted, limits)


def relative_base(ref: str, output: str | None) -> str:
    """`ref` as the saved spec's `extends` names it: a built-in name as is, a path from the output's folder."""
    if output is None or (is_name(ref) and not os.path.lexists(ref)):
        return ref
    return os.path.relpath(os.path.abspath(ref), os.path.dirname(os.path.abspath(output))).replace(os.sep, "/")


def _edits(overrides: dict[str, Any] | list[str] | None) -> dict:
    """`--set` options as a child spec's keys: `stages.2.depth=23` → {stages: {2: {depth: 23}}}."""
    if not overrides:
        return {}
    from ..reading.resolve import _overrides  # parsed and checked as `--set` is

    out: dict = {}
    for path, value, _ in _overrides(overrides):
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SpecError([Issue(f"--set {'.'.join(map(str, path))}", None, None,
                                       "another --set gives a value here", "set each key once", "AS704")])
        node[path[-1]] = value
    return out


def _child_source(child: dict, budget: dict, along: str) -> Source:
    """The child spec, its budgets located at the options (or arguments) that gave them."""
    positions = {path: Origin("archspec fit") for path in _paths(child, ())}
    for name, value in budget.items():
        positions[("scale", "fit", name)] = Origin(f"--{name} {value}")
    positions[("scale", "along")] = Origin(f"--along {along}")
    return Source("archspec fit", yaml.safe_dump(child, sort_keys=False), child, positions, dict(positions))


def _paths(value: Any, path: tuple) -> list[tuple]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _paths(v, path + (k,))]
    return [path]


def _text(child: dict, fitted: Fitted, along: str, limits: dict[str, int]) -> str:
    lines = [f"# {beside(name, fitted.figure(name), limit)}" for name, limit in limits.items()]
    if not limits:
        lines.append(f"# {fitted.params:,} parameters, {fitted.macs:,} MACs")
    if fitted.phi is not None:
        lines.append(f"# compound scaling at φ = {fitted.phi:g}")
    body = yaml.safe_dump(child, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)
    return "\n".join(lines) + "\n" + body


def run(args) -> int:
    """`archspec fit`: the fitted spec to stdout (or `-o FILE`), its figures beside the budgets."""
    from .cli import EXIT_INVALID, EXIT_USAGE, _emit, _unwritable
    from pathlib import Path

    if args.spec == "-":
        print("-: error: fit reads a spec file or a built-in name: the spec it writes extends it", file=sys.stderr)
        return EXIT_USAGE
    if args.macs is None and args.params is None and args.memory is None and args.phi is None:
        print("archspec fit: error: give a budget (--macs, --params, --memory), or --phi with --along compound",
              file=sys.stderr)
        return EXIT_USAGE
    if args.phi is not None and args.along != "compound":
        print("archspec fit: error: --phi needs --along compound", file=sys.stderr)
        return EXIT_USAGE
    if args.output and (problem := _unwritable(Path(args.output))):
        print(printable(f"{args.output}: error: {problem}"), file=sys.stderr)
        return EXIT_INVALID
    compound = dict(zip(("depth", "width", "resolution"), args.compound)) if args.compound else None
    result = fit(args.spec, args.macs, args.params, args.memory, args.batch, args.dtype, args.along, compound,
                 args.phi, args.overrides, extends=relative_base(args.spec, args.output))
    if args.output and args.output != "-":
        for line in result.figures():
            print(line, file=sys.stderr)
    return _emit(result.text, args.output)
