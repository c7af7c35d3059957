"""`scale: {fit: {macs: 600M}, along: width}`: the largest scaling that meets a budget.

One search variable t moves every axis together: width × b_w^t, depth × b_d^t, input × b_r^t,
where the bases are e along one axis (t is the log of its multiplier) and EfficientNet's
β, α, γ along `compound` (t is φ). Every figure grows with t up to rounding, so a bisection
on the exact plan finds the edge; `make_divisible` and the ceil of depths make the figures
step unevenly, so a walk past the edge keeps any larger t that still fits.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from ..errors import Issue, SpecError
from ..units import size
from .messages import check_scale, check_tree
from .source import FITTED, Origin, Source
from .spec import Budget, Scale

FIGURES = ("macs", "params", "memory")
SPAN = {"width": math.log(1e3), "depth": math.log(1e3), "resolution": math.log(1e3),  # × 1/1000 … 1000
        "compound": 12.0}  # φ from -12 to 12: depth 1.2^12 = 8.9 ×
PRECISION = 1e-4  # of t: the bisection stops at multipliers 0.01 % apart
WALK_STEP, WALK_STEPS = 0.002, 25  # past the edge: t + 0.2 %, … , + 5 %


@dataclass(frozen=True)
class Fitted:
    """The scaling chosen: what `scale:` and `input:` say, and the figures it gives."""

    width: float
    depth: float
    size: list[int] | None  # the input's [height, width], when the resolution moved
    phi: float | None  # along compound
    params: int
    macs: int
    memory: int | None  # activation bytes at the budget's batch and dtype, when it has a memory budget

    def figure(self, name: str) -> int | None:
        return getattr(self, name)

    def scale(self, scale: Scale) -> dict:
        """The `scale:` mapping that gives this scaling: the fit replaced by the multipliers."""
        moved = {"width", "depth"} if scale.along == "compound" else {scale.along}
        out: dict[str, Any] = {k: getattr(self, k) for k in ("width", "depth")
                               if k in moved or k in scale.model_fields_set}
        if scale.divisor != 8:
            out["divisor"] = scale.divisor
        if scale.apply_to != Scale().apply_to:
            out["apply_to"] = list(scale.apply_to)
        return out


def fit_scale(tree: dict, positions: dict[tuple, Origin], scaled: dict[tuple, tuple[Any, float]]) -> dict:
    """`tree` with its `scale: {fit: …}` replaced by the multipliers chosen (and its input size,
    along resolution or compound); the new values are located at `scale.fit`, which joins
    `scaled` with its budget (so `show` says the scaled values were fitted)."""
    scale = check_scale(tree["scale"], positions)
    fitted = choose(tree, positions, scale)
    at = positions.get(("scale", "fit"), positions.get(("scale",)))
    out = dict(tree)
    out["scale"] = fitted.scale(scale)
    for key in ("fit", "along", "compound"):
        _forget(positions, ("scale", key))
    for key in out["scale"]:
        positions[("scale", key)] = at
    if fitted.size is not None:
        out["input"] = {**tree.get("input", {}), "size": fitted.size}
        positions[("input", "size")] = at
    scaled[FITTED] = (tree["scale"]["fit"], 1.0)
    return out


def choose(tree: dict, positions: dict[tuple, Origin], scale: Scale) -> Fitted:
    """The largest scaling of `tree` (merged, `scale` holding the fit) whose plan meets the budget."""
    budget = scale.fit
    given = [name for name in FIGURES if getattr(budget, name) is not None]
    if not given:
        raise SpecError([_issue(positions, ("scale", "fit"), "scale.fit: give a budget: macs, params or memory",
                                "e.g. `fit: {macs: 600M}`", "AS920")])
    for axis in _moving(scale.along):
        if axis != "resolution" and axis in scale.model_fields_set:
            raise SpecError([_issue(positions, ("scale", axis), f"scale.{axis}: fit chooses the {axis} "
                                    f"along {scale.along}; remove it", "or fit along another axis", "AS920")])
    search = _Search(tree, positions, scale, budget)
    low = search.smallest()
    if not search.fits(low):
        raise SpecError([search.impossible(low, given)])
    t_fit, t_over = low, min(0.0, search.t_max)
    while search.fits(t_over):  # double the step until over the budget or the axis's end
        t_fit, t_over = t_over, min(search.t_max, t_over + max(1.0, 2 * (t_over - low)))
        if t_fit == search.t_max:
            break
    while t_over - t_fit > PRECISION and t_fit < search.t_max:
        middle = (t_fit + t_over) / 2
        t_fit, t_over = (middle, t_over) if search.fits(middle) else (t_fit, middle)
    best = max((t for t in (t_fit + k * WALK_STEP for k in range(1, WALK_STEPS + 1)) if t <= search.t_max and search.fits(t)),
               default=t_fit)
    return search.shortest(best)


def _moving(along: str) -> tuple[str, ...]:
    return ("width", "depth", "resolution") if along == "compound" else (along,)


def _forget(positions: dict[tuple, Origin], path: tuple) -> None:
    for p in [p for p in positions if p[:len(path)] == path]:
        del positions[p]


def _issue(positions: dict[tuple, Origin], path: tuple, message: str, hint: str, code: str) -> Issue:
    for end in range(len(path), -1, -1):
        if path[:end] in positions:
            return Issue(*positions[path[:end]], message, hint, code)
    return Issue("scale", None, None, message, hint, code)


class _Search:
    """Figures at each point t of the search, planned once each."""

    def __init__(self, tree: dict, positions: dict[tuple, Origin], scale: Scale, budget: Budget):
        self.tree, self.positions, self.scale, self.budget = tree, positions, scale, budget
        size = (tree.get("input") or {}).get("size", 224) if isinstance(tree.get("input"), dict) else 224
        self.size = [size, size] if type(size) is int else list(size) if isinstance(size, list) else [224, 224]
        c = scale.compound
        self.bases = ({"width": c.width, "depth": c.depth, "resolution": c.resolution} if scale.along == "compound"
                      else {scale.along: math.e})
        self.seen: dict[tuple, Fitted | None] = {}
        self.t_min, self.t_max = -SPAN[scale.along], SPAN[scale.along]
        self.failure = ""  # the last planning error: why a smaller scaling is not reachable
        self.unplanned = ""  # the error of the smallest scaling, when it does not plan

    def settings(self, t: float, digits: int = 6) -> tuple[float, float, list[int] | None]:
        """(width, depth, size) at t; multipliers rounded to `digits` decimals."""
        def multiplier(axis: str, start: float) -> float:
            base = self.bases.get(axis)
            if base is None:
                return start
            return max(math.floor(start * base ** t * 10**digits), 1) / 10**digits  # down: inside the budget

        size = None
        if "resolution" in self.bases:
            r = self.bases["resolution"] ** t
            size = [max(1, round(s * r)) for s in self.size]
        return multiplier("width", self.scale.width), multiplier("depth", self.scale.depth), size

    def at(self, width: float, depth: float, size: list[int] | None) -> Fitted | None:
        """The figures of one scaling, or None where the network does not plan (or passes a limit)."""
        key = (width, depth, tuple(size) if size else None)
        if key not in self.seen:
            self.seen[key] = self._plan(width, depth, size)
        return self.seen[key]

    def _plan(self, width: float, depth: float, size: list[int] | None) -> Fitted | None:
        from ..planning.plan import plan_spec
        from .resolve import _scale

        tree, positions = dict(self.tree), dict(self.positions)
        tree["scale"] = {**{k: v for k, v in tree["scale"].items() if k not in ("fit", "along", "compound")},
                         "width": width, "depth": depth}
        if size is not None:
            tree["input"] = {**copy.deepcopy(tree.get("input", {})), "size": size}
        try:
            spec = check_tree(Source("fit", "", _scale(tree, positions, {}), positions, {}))
            if spec is None:
                return None
            p = plan_spec(spec)
        except SpecError as e:
            self.failure = e.issues[0].message
            return None
        memory = p.activation_memory(self.budget.batch, self.budget.dtype) if self.budget.memory else None
        phi = None  # filled in by `point`
        return Fitted(width, depth, size, phi, p.params, p.macs, memory)

    def point(self, t: float, digits: int = 6) -> Fitted | None:
        found = self.at(*self.settings(t, digits))
        if found is not None and self.scale.along == "compound":
            found = Fitted(**{**found.__dict__, "phi": round(t, digits)})
        return found

    def fits(self, t: float) -> bool:
        found = self.point(t)
        return found is not None and all(found.figure(name) <= limit for name in FIGURES
                                         if (limit := getattr(self.budget, name)) is not None)

    def smallest(self) -> float:
        """The least t at which the network plans (a small input stops planning: a map below 1×1)."""
        if self.point(self.t_min) is not None:
            return self.t_min
        self.unplanned = self.failure
        low, high = self.t_min, 0.0
        if self.point(high) is None:
            self._explain()
        while high - low > PRECISION:
            middle = (low + high) / 2
            low, high = (low, middle) if self.point(middle) is not None else (middle, high)
        return high

    def _explain(self) -> None:
        """The unscaled network does not plan: its own errors say why."""
        from ..planning.plan import plan_spec
        from .resolve import _scale

        tree, positions = dict(self.tree), dict(self.positions)
        tree["scale"] = {k: v for k, v in tree["scale"].items() if k not in ("fit", "along", "compound")}
        spec = check_tree(Source("fit", "", _scale(tree, positions, {}), positions, {}))
        if spec is not None:
            plan_spec(spec)
        raise SpecError([_issue(self.positions, ("scale", "fit"), "scale.fit: the network does not plan",
                                "fix the spec before fitting it", "AS920")])

    def impossible(self, t: float, given: list[str]) -> Issue:
        smallest = self.point(t)
        over = [name for name in given if smallest.figure(name) > getattr(self.budget, name)]
        name = over[0]
        figure, limit = smallest.figure(name), getattr(self.budget, name)
        return _issue(self.positions, ("scale", "fit", name),
                      f"even the smallest network along {self.scale.along} has {shown(name, figure)}, "
                      f"more than the budget of {shown(name, limit)}",
                      f"the smallest reachable is {shown(name, figure)}: raise the budget, or fit along another axis"
                      + (f"; smaller scalings do not plan ({self.unplanned})" if self.unplanned else ""), "AS921")

    def shortest(self, t: float) -> Fitted | None:
        """The scaling at t written with as few decimals as give the same network."""
        target = self.point(t)
        if target is None:
            return None
        for digits in range(2, 7):
            found = self.point(math.floor(t * 10**digits) / 10**digits if self.scale.along == "compound" else t, digits)
            if found is not None and _same(found, target):
                return found
        return target


def _same(a: Fitted, b: Fitted) -> bool:
    return (a.params, a.macs, a.memory, a.size) == (b.params, b.macs, b.memory, b.size)


def at_phi(tree: dict, positions: dict[tuple, Origin], scale: Scale, phi: float) -> Fitted:
    """Compound scaling at a given φ (no budget): the paper's rule, written as multipliers."""
    search = _Search(tree, positions, scale.model_copy(update={"along": "compound"}), Budget())
    found = search.shortest(phi)
    if found is None:
        search._explain()
    return found


def shown(name: str, value: int) -> str:
    """A figure as the fit prints it: '598.7 M MACs', '4.12 M parameters', '37.25 GiB'."""
    if name == "memory":
        return f"{size(value)} of activations"
    unit = next(((u, s) for u, s in (("G", 1e9), ("M", 1e6), ("K", 1e3)) if value >= s), ("", 1))
    number = f"{value / unit[1]:.4g}" + (f" {unit[0]}" if unit[0] else "")
    return f"{number} {'MACs' if name == 'macs' else 'parameters'}"


def beside(name: str, value: int, limit: int) -> str:
    """'598.7 M MACs of 600 M, 99.8 %'."""
    of = size(limit) if name == "memory" else shown(name, limit).rsplit(" ", 1)[0]
    return f"{shown(name, value)} of {of}, {math.floor(1000 * value / limit) / 10:.1f} %"
