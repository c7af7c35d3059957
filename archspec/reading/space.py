"""Design spaces (Radosavovic et al. 2019, 2020): a spec in which values may be distributions.

    depth: {range: [12, 28]}                        # whole numbers from 12 to 28
    w0: {range: [16, 256], quantize: 8, log: true}  # log-uniform, multiples of 8
    kernel: {choice: [3, 5], tie: k}                # one draw for every `tie: k`
    stage_count: {range: [3, 4]}                    # keep the first 3 or 4 stages
    rules: [{non_decreasing: channels}, {stages: [4, 4]}]
    constraints: {min_macs: 360M, max_macs: 400M}   # the windows a sample must fall in

A space is read like a spec (extends, --set) and checked like one: each distribution's
form, then every value it can give (a range's ends, each choice) through the schema, located
at the value; then the rules and windows. `draw` gives one spec tree from a random.Random.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import Issue, SpecError, did_you_mean
from .messages import check_tree
from .source import Source
from .spec import Constraints, Spec, Stage

FORM = ("range", "choice", "quantize", "log", "tie")
SPACE_KEYS = ("stage_count", "rules")  # space-only keys, gone from every sample
RULES = ("non_decreasing", "stages")
MAX_CHOICES = 256  # items in one choice list
MAX_CHECKS = 4096  # values the checker puts through the schema
STAGE_VALUES = ("depth", "channels", "stride", "dilation")  # a stage's own numbers; other keys are block settings


@dataclass(frozen=True)
class Distribution:
    path: tuple  # key path of the value it gives
    low: float | None = None
    high: float | None = None
    quantize: float | None = None
    log: bool = False
    choice: tuple = ()
    tie: str | None = None

    @cached_property  # (each draw asks)
    def whole(self) -> bool:
        return all(type(v) is int for v in (self.low, self.high, self.quantize or 1))

    @cached_property
    def ends(self) -> tuple[Any, Any]:
        """The least and greatest value a range gives (on its quantisation grid)."""
        q = self.quantize or (1 if self.whole else None)
        if q is None:
            return self.low, self.high
        return _tidy(math.ceil(self.low / q - 1e-9) * q, q), _tidy(math.floor(self.high / q + 1e-9) * q, q)

    def values(self) -> list[Any]:
        """The values the checker tries: a range's two ends, or every choice."""
        return list(self.choice) if self.choice else list(dict.fromkeys(self.ends))

    def draw(self, rng: random.Random) -> Any:
        if self.choice:
            value = self.choice[rng.randrange(len(self.choice))]
            return value if type(value) in (int, float, str, bool) else copy.deepcopy(value)  # a list: the tree's own
        low, high = self.ends
        if self.log:
            x = math.exp(rng.uniform(math.log(low), math.log(high)))
        elif self.whole:
            q = self.quantize or 1
            return low + q * rng.randrange((high - low) // q + 1)
        else:
            x = rng.uniform(low, high)
        q = self.quantize or (1 if self.whole else None)
        if q is None:
            return float(f"{x:.6g}")
        return min(max(_tidy(round(x / q) * q, q), low), high)

    def same_as(self, other: Distribution) -> bool:
        return (self.low, self.high, self.quantize, self.log, self.choice) == \
               (other.low, other.high, other.quantize, other.log, other.choice)


def _tidy(x: float, q: float) -> Any:
    """A multiple of q without float dust: 24.500000000000004 → 24.5; whole q, an int."""
    if type(q) is int and float(x).is_integer():
        return int(x)
    return float(f"{x:.12g}")


@dataclass
class Space:
    """A checked design space: the tree (distributions in place) and how to draw from it."""

    source: Source
    name: str
    distributions: list[Distribution]
    stage_count: Distribution | None
    rules: list[tuple[str, Any, tuple]]  # (rule, argument, key path)
    constraints: Constraints

    def draw(self, rng: random.Random) -> tuple[dict, dict[str, Any]]:
        """One tree drawn at random, and the values drawn by dotted key path."""
        values: dict[tuple, Any] = {}
        if self.stage_count is not None:
            values[self.stage_count.path] = self.stage_count.draw(rng)
        count = values.get(("stage_count",))
        tied: dict[str, Any] = {}
        for d in self.distributions:
            if count is not None and d.path[0] == "stages" and isinstance(d.path[1], int) and d.path[1] >= count:
                continue  # a stage left out
            if d.tie is not None:
                values[d.path] = tied[d.tie] if d.tie in tied else tied.setdefault(d.tie, d.draw(rng))
            else:
                values[d.path] = d.draw(rng)
        return self.tree(values), {".".join(map(str, p)): v for p, v in values.items()}

    @cached_property
    def positions_under(self) -> dict[tuple, list[tuple]]:
        """The key paths of the source's positions, by each of their prefixes (a tree per draw
        moves a distribution's positions to the value drawn)."""
        under: dict[tuple, list[tuple]] = {}
        for p in self.source.positions:
            for end in range(len(p) + 1):
                under.setdefault(p[:end], []).append(p)
        return under

    def tree(self, values: dict[tuple, Any]) -> dict:
        """The space's tree with `values` put in place and the space-only keys removed."""
        tree = {k: v for k, v in self.source.tree.items() if k not in SPACE_KEYS}
        tree = _copy_spine(tree, [p for p in values if p[0] not in SPACE_KEYS])
        for path, value in values.items():
            if path[0] not in SPACE_KEYS:
                _put(tree, path, value)
        count = values.get(("stage_count",))
        if count is not None:
            tree["stages"] = tree["stages"][:count]
        return tree

    def breaks_rules(self, spec: Spec) -> str | None:
        """The first rule a spec breaks, as a few words; None if it keeps them all."""
        stages = spec.all_stages
        for rule, argument, _ in self.rules:
            if rule == "stages" and not argument[0] <= len(stages) <= argument[1]:
                return f"{len(stages)} stages"
            if rule == "non_decreasing":
                seen = [_stage_value(spec, i, argument) for i in range(len(stages))]
                if any(b is not None and a is not None and b < a for a, b in zip(seen, seen[1:])):
                    return f"{argument} decreases"
        return None


def _stage_value(spec: Spec, i: int, key: str) -> Any:
    return getattr(spec.all_stages[i], key) if key in STAGE_VALUES else getattr(spec.stage_settings(i), key, None)


def _copy_spine(tree: Any, paths: list[tuple]) -> Any:
    """`tree` with the containers on the way to each path copied (the rest shared, read-only)."""
    if not paths:
        return tree
    heads: dict[Any, list[tuple]] = {}
    for p in paths:
        if len(p) > 1:
            heads.setdefault(p[0], []).append(p[1:])
    out = dict(tree) if isinstance(tree, dict) else list(tree)
    for key, rest in heads.items():
        out[key] = _copy_spine(out[key], rest)
    return out


def _put(tree: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        tree = tree[part]
    tree[path[-1]] = value


# ---- reading ------------------------------------------------------------------------

def is_space(tree: Any) -> bool:
    """Whether a spec tree is a design space: it has space-only keys or a distribution."""
    return isinstance(tree, dict) and (any(k in tree for k in SPACE_KEYS) or bool(_find(tree, (), [])))


def _is_distribution(value: Any) -> bool:
    return isinstance(value, dict) and ("range" in value or "choice" in value)


def _find(value: Any, path: tuple, found: list[tuple]) -> list[tuple]:
    """Key paths of the distributions in `value` (not those inside a distribution's choices)."""
    if _is_distribution(value):
        found.append(path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _find(v, path + (k,), found)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _find(v, path + (i,), found)
    return found


def read_space(source: Source) -> Space:
    """A resolved Source (archspec.reading.resolve) checked as a design space; SpecError with
    every problem, each located, otherwise."""
    tree = source.tree
    if not isinstance(tree, dict):
        raise SpecError([Issue(source.path, None, None, "a design space is a mapping, like a spec", code="AS101")])
    issues: list[Issue] = []
    paths = _find({k: v for k, v in tree.items() if k not in SPACE_KEYS}, (), [])
    distributions = [d for d in (_distribution(source, p, issues) for p in paths) if d is not None]
    stage_count = _stage_count(source, issues)
    rules = _rules(source, issues)
    _ties(source, distributions, issues)
    if issues:
        raise SpecError(issues)
    space = Space(source, str(tree.get("name", source.path)), distributions, stage_count, rules, Constraints())
    spec = _check_values(space)
    space.constraints = spec.constraints
    _check_windows(space)
    return space


def _distribution(source: Source, path: tuple, issues: list[Issue]) -> Distribution | None:
    node = source.tree
    for part in path:
        node = node[part]
    where = ".".join(map(str, path))
    before = len(issues)
    for key in node:
        if key not in FORM:
            issues.append(source.issue(path + (key,), f"{where}: unknown key '{key}' in a distribution",
                                       did_you_mean(key, FORM) or "allowed keys: " + ", ".join(FORM), "AS930", key=True))
    if "range" in node and "choice" in node:
        issues.append(source.issue(path, f"{where}: a distribution is a range or a choice, not both",
                                   "keep one of them", "AS930"))
    tie = node.get("tie")
    if tie is not None and not isinstance(tie, str):
        issues.append(source.issue(path + ("tie",), f"{where}.tie: expected a name", "write e.g. `tie: k`", "AS930"))
    if "choice" in node:
        choice = node["choice"]
        if not isinstance(choice, list) or not choice:
            issues.append(source.issue(path + ("choice",), f"{where}.choice: expected a list of at least one value",
                                       "write e.g. `choice: [3, 5]`", "AS930"))
        elif len(choice) > MAX_CHOICES:
            issues.append(source.issue(path + ("choice",), f"{where}.choice: {len(choice):,} values; the limit is "
                                       f"{MAX_CHOICES}", "use a range for many values", "AS930"))
        elif any(k in node for k in ("quantize", "log")):
            issues.append(source.issue(path, f"{where}: quantize and log belong to a range", "remove them", "AS930"))
        if len(issues) > before:
            return None
        return Distribution(path, choice=tuple(choice), tie=tie)
    return _range(source, path, node, where, issues, before)


def _range(source: Source, path: tuple, node: dict, where: str, issues: list[Issue], before: int) -> Distribution | None:
    bounds, q, log = node["range"], node.get("quantize"), node.get("log", False)
    number = lambda v: type(v) in (int, float) and math.isfinite(v)  # noqa: E731
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(number(b) for b in bounds)):
        issues.append(source.issue(path + ("range",), f"{where}.range: expected [low, high], two numbers",
                                   "write e.g. `range: [12, 28]`", "AS930"))
        return None
    low, high = bounds
    if q is not None and not (number(q) and q > 0):
        issues.append(source.issue(path + ("quantize",), f"{where}.quantize: expected a number above 0",
                                   "write e.g. `quantize: 8`", "AS930"))
    if type(log) is not bool:
        issues.append(source.issue(path + ("log",), f"{where}.log: expected true or false", "", "AS930"))
    if len(issues) > before:
        return None
    d = Distribution(path, low, high, q, log, tie=node.get("tie"))
    first, last = d.ends
    if low > high or first > last:
        grid = f" holds no multiple of {q:g}" if low <= high else " is empty: low is above high"
        issues.append(source.issue(path + ("range",), f"{where}.range: [{low:g}, {high:g}]{grid}",
                                   "write [low, high] with low ≤ high" if low > high else "widen it or change quantize",
                                   "AS930"))
    elif log and low <= 0:
        issues.append(source.issue(path + ("log",), f"{where}: a log range must start above 0, not at {low:g}",
                                   "start the range above 0, or remove `log`", "AS930"))
    return None if len(issues) > before else d


def _stage_count(source: Source, issues: list[Issue]) -> Distribution | None:
    if "stage_count" not in source.tree:
        return None
    node, stages = source.tree["stage_count"], source.tree.get("stages")
    if not _is_distribution(node) and not (type(node) is int):
        issues.append(source.issue(("stage_count",), "stage_count: expected a range or a choice of stage counts",
                                   "write e.g. `stage_count: {range: [3, 4]}`", "AS931"))
        return None
    if not isinstance(stages, list):
        issues.append(source.issue(("stage_count",), "stage_count keeps the first stages of a list; here `stages` "
                                   "is not a list", "for a generator, bound its stages with a rule: {stages: [4, 4]}",
                                   "AS931"))
        return None
    before = len(issues)
    d = _distribution(source, ("stage_count",), issues) if _is_distribution(node) else Distribution(
        ("stage_count",), choice=(node,))
    if d is None:
        return None
    bad = [v for v in d.values() if type(v) is not int or not 1 <= v <= len(stages)]
    if bad:
        issues.append(source.issue(("stage_count",), f"stage_count: {bad[0]!r} is not a count of the "
                                   f"{len(stages)} stages listed", f"give whole numbers from 1 to {len(stages)}",
                                   "AS931"))
    return None if len(issues) > before else d


def _rules(source: Source, issues: list[Issue]) -> list[tuple[str, Any, tuple]]:
    rules = source.tree.get("rules", [])
    if not isinstance(rules, list):
        issues.append(source.issue(("rules",), "rules: expected a list", "write e.g. `rules: [{non_decreasing: "
                                   "channels}]`", "AS931"))
        return []
    out = []
    for i, rule in enumerate(rules):
        at = ("rules", i)
        if not (isinstance(rule, dict) and len(rule) == 1):
            issues.append(source.issue(at, f"rules.{i}: expected one `rule: argument` mapping",
                                       "write e.g. `{non_decreasing: channels}` or `{stages: [4, 4]}`", "AS931"))
            continue
        (name, argument), = rule.items()
        if name not in RULES:
            issues.append(source.issue(at + (name,), f"rules.{i}: unknown rule '{name}'",
                                       did_you_mean(name, RULES) or "rules: " + ", ".join(RULES), "AS931", key=True))
        elif name == "non_decreasing" and argument not in Stage.model_fields:
            issues.append(source.issue(at + (name,), f"rules.{i}: stages have no setting {argument!r}",
                                       did_you_mean(argument, Stage.model_fields) or "name a stage setting: channels, depth",
                                       "AS931"))
        elif name == "stages" and not (isinstance(argument, list) and len(argument) == 2 and
                                       all(type(v) is int and v >= 1 for v in argument) and argument[0] <= argument[1]):
            issues.append(source.issue(at + (name,), f"rules.{i}: expected [least, most] stages, whole numbers",
                                       "write e.g. `{stages: [4, 4]}`", "AS931"))
        else:
            out.append((name, argument, at + (name,)))
    return out


def _ties(source: Source, distributions: list[Distribution], issues: list[Issue]) -> None:
    first: dict[str, Distribution] = {}
    for d in distributions:
        if d.tie is None:
            continue
        if d.tie in first and not d.same_as(first[d.tie]):
            other = ".".join(map(str, first[d.tie].path))
            issues.append(source.issue(d.path, f"{'.'.join(map(str, d.path))}: tied to {other} (tie: {d.tie}) but "
                                       "drawn from another distribution", "give tied values the same range or choice",
                                       "AS933"))
        first.setdefault(d.tie, d)


# ---- checking every value -----------------------------------------------------------

def _located(space: Space, values: dict[tuple, tuple[Any, tuple]]) -> Source:
    """The tree with `values` in place ({path: (value, where it is written)}) as a Source whose
    positions point at the written values: a choice's item, a range's end."""
    source, under = space.source, space.positions_under
    positions, keys = dict(source.positions), dict(source.key_positions)
    for path, (_, written) in values.items():  # distributions do not nest: each path's own subtree
        for p in under.get(path, ()):
            del positions[p]
        for p in under.get(written, ()):
            positions[path + p[len(written):]] = source.positions[p]
    tree = space.tree({p: v for p, (v, _) in values.items()})
    return Source(source.path, source.text, tree, positions, keys)


def _check_values(space: Space) -> Spec:
    """Every value each distribution can give, through the schema (the others at their first
    value); the errors located at the value. Returns the spec of the first values."""
    options = {d.path: [(v, d.path + (("choice", i) if d.choice else ("range", min(i, 1))))
                        for i, v in enumerate(d.values())] for d in space.distributions}
    if space.stage_count is not None:
        options[("stage_count",)] = [(max(space.stage_count.values()), ("stage_count",))]
    first = {path: found[0] for path, found in options.items()}
    issues: list[Issue] = []
    spec = _checked(_located(space, first), issues)
    others = [(path, option) for path, found in options.items() for option in found[1:]]
    for path, option in others[:MAX_CHECKS]:  # MAX_NODES bounds them already; this bounds the time
        _checked(_located(space, {**first, path: option}), issues)
    if issues or spec is None:
        raise SpecError(list(dict.fromkeys(issues)) or [Issue(space.source.path, None, None, "a design space cannot "
                                                              "be abstract", "remove `abstract: true`", "AS931")])
    return spec


def _checked(source: Source, issues: list[Issue]) -> Spec | None:
    try:
        return check_tree(source)
    except SpecError as e:
        issues += e.issues
        return None


def _corner(space: Space, end: int) -> dict[tuple, tuple[Any, tuple]]:
    """Every range and numeric choice at its low (end=0) or high (end=1) value, other choices at
    their first; the fewest or most stages."""
    corner = {}
    for d in space.distributions:
        values = d.values()
        if all(type(v) in (int, float) for v in values):
            i = values.index((max if end else min)(values))
            corner[d.path] = (values[i], d.path + (("choice", i) if d.choice else ("range", min(i, 1))))
        else:
            corner[d.path] = (values[0], d.path + (("choice", 0),))
    if space.stage_count is not None:
        corner[("stage_count",)] = (max(space.stage_count.values()) if end else min(space.stage_count.values()),
                                    ("stage_count",))
    return corner


def _check_windows(space: Space) -> None:
    """A window no network can meet: its low end above its high end, or the space's smallest
    corner over a maximum, its largest under a minimum. A corner past a planning limit is refused."""
    from ..planning.plan import plan_spec

    c, source, issues = space.constraints, space.source, []
    for low, high in (("min_params", "max_params"), ("min_macs", "max_macs")):
        if getattr(c, low) is not None and getattr(c, high) is not None and getattr(c, low) > getattr(c, high):
            issues.append(source.issue(("constraints", low), f"constraints.{low} is above {high}: the window admits "
                                       "nothing", f"write {low} ≤ {high}", "AS932"))
    if issues:
        raise SpecError(issues)
    for end, word in ((0, "smallest"), (1, "largest")):
        located = _located(space, _corner(space, end))
        try:
            spec = check_tree(located)
            p = plan_spec(spec) if spec is not None else None
        except SpecError as e:
            limits = [i for i in e.issues if i.code == "AS601"]
            if limits:
                raise SpecError(limits) from None
            continue  # a corner that does not plan is only rejected when drawn
        if p is None:
            continue
        for figure, name in (("params", "parameters"), ("macs", "MACs")):
            bound = getattr(c, f"max_{figure}" if end == 0 else f"min_{figure}")
            value = getattr(p, figure)
            if bound is not None and (value > bound if end == 0 else value < bound):
                key = f"max_{figure}" if end == 0 else f"min_{figure}"
                issues.append(source.issue(("constraints", key), f"constraints.{key}: no network of the space meets "
                                           f"it: the {word} (every number at its {('low', 'high')[end]} end) has "
                                           f"{value:,} {name}", "widen the window or the ranges", "AS932"))
    if issues:
        raise SpecError(issues)

