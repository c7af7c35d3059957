"""Checks on a planned network beyond its shapes: the budgets of `constraints:`
(errors AS401–AS403) and settings that are legal but likely wrong (warnings AS5xx).

Pure Python, like the plan, so `archspec validate` runs them without torch.
"""

from __future__ import annotations

from ..errors import Issue, SpecError, in_order
from .nodes import Node
from ..pipeline import Overrides, plan
from ..naming import stage_label, stage_name
from .plan import Plan, smallest_input
from ..reading.messages import check_tree
from ..reading.resolve import resolve
from ..reading.space import is_space, read_space
from ..reading.spec import Spec
from ..units import count, dims, si, size


def check_spec(ref: str, overrides: Overrides = None) -> list[Issue]:
    """Everything `archspec validate` says about one spec: errors and warnings, in line order.
    An abstract spec is checked as a base (what it says), not planned."""
    try:
        source = resolve(ref, overrides)
        if is_space(source.tree):  # a design space is checked as one (archspec sample)
            read_space(source)
            return []
        spec = check_tree(source)
        if spec is None:  # abstract: checked as a base
            return []
        p = plan(spec)
    except SpecError as e:
        return e.issues
    return check_plan(p)


def check_plan(p: Plan) -> list[Issue]:
    """Budget errors and warnings of a plan that has no shape errors, in line order."""
    return in_order(budget_issues(p) + warning_issues(p))


def errors_in(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def _at(spec: Spec, path: tuple, message: str, hint: str, code: str, severity: str = "error") -> Issue:
    source = spec.source
    if source is None:
        return Issue(spec.name, None, None, message, hint, code, severity)
    return source.issue(path, message, hint, code, severity)


# ---- budgets ------------------------------------------------------------------------

def budget_issues(p: Plan) -> list[Issue]:
    c, issues = p.spec.constraints, []
    if c.max_params is not None and p.params > c.max_params:
        issues.append(_at(p.spec, ("constraints", "max_params"),
                          f"the network has {count(p.params)} parameters ({si(p.params)}), "
                          f"more than max_params {count(c.max_params)}",
                          f"{_largest(p, 'params')}: make it narrower or shallower, or raise max_params", "AS401"))
    if c.max_macs is not None and p.macs > c.max_macs:
        issues.append(_at(p.spec, ("constraints", "max_macs"),
                          f"the network needs {count(p.macs)} MACs ({si(p.macs)}) at {dims(p.input_shape)}, "
                          f"more than max_macs {count(c.max_macs)}",
                          f"{_largest(p, 'macs')}: make it narrower or shallower, use a smaller input, "
                          f"or raise max_macs", "AS402"))
    if c.min_input is not None:
        issues += _min_input_issues(p, (p.input_shape[0], *c.min_input))
    return issues + _window_issues(p)


def _window_issues(p: Plan) -> list[Issue]:
    """The lower bounds and the memory bound of `constraints:` (a design space's windows)."""
    c, issues = p.spec.constraints, []
    if c.min_params is not None and p.params < c.min_params:
        issues.append(_at(p.spec, ("constraints", "min_params"), f"the network has {count(p.params)} parameters "
                          f"({si(p.params)}), fewer than min_params {count(c.min_params)}",
                          "make it wider or deeper, or lower min_params", "AS404"))
    if c.min_macs is not None and p.macs < c.min_macs:
        issues.append(_at(p.spec, ("constraints", "min_macs"), f"the network needs {count(p.macs)} MACs "
                          f"({si(p.macs)}) at {dims(p.input_shape)}, fewer than min_macs {count(c.min_macs)}",
                          "make it wider or deeper, use a larger input, or lower min_macs", "AS405"))
    batch, dtype = c.memory_at
    if c.max_memory is not None and (memory := p.activation_memory(batch, dtype)) > c.max_memory:
        issues.append(_at(p.spec, ("constraints", "max_memory"), f"one training step at batch {batch} in "
                          f"{dtype} saves {size(memory)} of activations, more than max_memory {size(c.max_memory)}",
                          "make it narrower or shallower, use a smaller input or batch, or raise max_memory", "AS406"))
    return issues


def _largest(p: Plan, figure: str) -> str:
    """'stages.3 (layer4) has 14,964,736 of them (59%)': where the budget goes."""
    part = max(p.root.children, key=lambda n: getattr(n, figure))
    stage = part.name.removeprefix("layer")
    name = stage_label(int(stage) - 1) if stage.isdigit() else part.name
    amount, total = getattr(part, figure), getattr(p, figure)
    return f"{name} has {count(amount)} of them ({100 * amount // max(total, 1)}%)"


def _min_input_issues(p: Plan, shape: tuple) -> list[Issue]:
    """The network, built for the spec's input, must also run on `shape`."""
    size = dims(shape[1:])
    try:
        small = plan(p.spec, shape)
    except SpecError as e:
        first = e.issues[0]
        where = f" (line {first.line})" if first.line is not None else ""
        return [_at(p.spec, ("constraints", "min_input"),
                    f"the network must accept {size} inputs, but at that size {first.message}{where}",
                    first.hint, "AS403")]
    changed = _first_param_change(p, small)
    if changed is None:
        return []
    ours, theirs = changed
    return [_at(p.spec, ("constraints", "min_input"),
                f"the network must accept {size} inputs, but {ours.name} has {count(ours.params)} parameters "
                f"for {dims(p.input_shape[1:])} and would need {count(theirs.params)} for {size}",
                "a `pool: flatten` head fixes the input size: use `pool: avg` to accept any size",
                "AS403")]


def _first_param_change(a: Plan, b: Plan):
    """The first pair of layers (a's, b's) whose parameters differ between two inputs of one spec,
    or None: only a flattened head's linear layer depends on the input size."""
    return next(((ours, theirs) for ours, theirs in zip(a.layers, b.layers) if ours.params != theirs.params), None)


# ---- warnings -----------------------------------------------------------------------

def warning_issues(p: Plan) -> list[Issue]:
    return _collapsed_early(p) + _wide_bottlenecks(p.spec) + _input_changes_params(p)


def _collapsed_early(p: Plan) -> list[Issue]:
    """AS501: a stage already outputs 1×1, so the stages after it see a single pixel."""
    i, last = _collapsed_stage(p), len(p.spec.all_stages)
    if i is None:
        return []
    later = f"{stage_name(last - 1)} sees" if i + 2 == last else f"{stage_name(i + 1)}–{stage_name(last - 1)} see"
    smallest = smallest_input(p.spec, p.input_shape[0], lambda q: _collapsed_stage(q) is None, max(p.input_shape[1:]))
    fix = f"use an input of at least {smallest}×{smallest}" if smallest else "use a larger input size"
    return [_at(p.spec, ("stages", i), f"{stage_label(i)} already outputs 1×1 ({_first_to_1x1(p)}), "
                                       f"so {later} a single pixel",
                f"{fix}, or stride 1 in the later stages", "AS501", "warning")]


def _collapsed_stage(p: Plan) -> int | None:
    """The first stage, before the last, that outputs 1×1."""
    stages = {n.name: n for n in p.root.children}
    return next((i for i in range(len(p.spec.all_stages) - 1)
                 if stages[stage_name(i)].shape[1:] == (1, 1)), None)


def _first_to_1x1(p: Plan) -> str:
    """'layer2.0.conv2 takes 2×2 to 1×1': the first layer, in the order they run, whose output is 1×1."""
    size = p.input_shape[1:]
    if size == (1, 1):
        return "the input is 1×1"
    for name, node in _leaves(p.root, ""):
        if len(node.shape) == 3 and node.shape[1:] == (1, 1):
            return f"{name} takes {dims(size)} to 1×1"
        if len(node.shape) == 3:
            size = node.shape[1:]
    return "the head pools to 1×1"


def _leaves(node: Node, prefix: str):
    """(module name, node) of each primitive layer under `node`, in the order the plan lists them."""
    for child in node.children:
        name = prefix + child.name
        if child.children:
            yield from _leaves(child, name + ".")
        else:
            yield name, child


def _input_changes_params(p: Plan) -> list[Issue]:
    """AS503: planned for an input other than the spec's, the network has other parameters
    (a flatten head's linear layer): weights made for the spec's input would not load."""
    spec_shape = p.spec.input.shape
    if p.input_shape == spec_shape:
        return []
    at_spec = plan(p.spec, spec_shape)
    if at_spec.params == p.params:
        return []
    changed = _first_param_change(p, at_spec)[0].name
    fixes = []
    if p.input_shape[0] != spec_shape[0]:  # the first layer's weights have one slice per input channel
        c = spec_shape[0]
        path, why = ("input", "channels"), f"{changed} depends on the input's channels"
        fixes.append(f"give {c} channel{'s' * (c != 1)} (--input {'x'.join(map(str, (c, *p.input_shape[1:])))})")
    else:
        path, why = ("input", "size"), f"{changed} depends on the input size"
    if p.input_shape[1:] != spec_shape[1:] and getattr(p.spec.head, "pool", None) == "flatten":
        path = path if fixes else ("head", "pool")
        fixes.append("a `pool: avg` head accepts any size")
    fix = f"weights made for {dims(spec_shape)} will not load into this network" + "".join(f"; {f}" for f in fixes)
    return [_at(p.spec, path,
                f"the input {dims(p.input_shape)} changes the parameter count: {count(p.params)} against "
                f"{count(at_spec.params)} at the spec's input {dims(spec_shape)} ({why})", fix, "AS503", "warning")]


def _width_path(spec: Spec, i: int) -> tuple:
    return ("stages", i, "width") if spec.all_stages[i].width is not None else ("defaults", "width")


def _wide_bottlenecks(spec: Spec) -> list[Issue]:
    """AS502: a bottleneck is meant to narrow; a width above its output channels is likely swapped."""
    issues = []
    for i, stage in enumerate(spec.all_stages):
        s = spec.stage_settings(i)
        if s.block == "bottleneck" and s.width is not None and s.width > stage.channels:
            issues.append(_at(spec, _width_path(spec, i),
                              f"{stage_label(i)}: bottleneck width {s.width} is larger than its "
                              f"{stage.channels} output channels",
                              f"a bottleneck narrows: the default width is channels / 4 = {stage.channels // 4}; "
                              f"are width and channels swapped?", "AS502", "warning"))
    return issues
