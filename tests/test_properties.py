"""Property-based proof that the plan is the model, and that no spec crashes archspec.

Random valid specs: the plan's per-layer shapes, parameters and MACs equal what the
compiled module gives on the `meta` device. Random mutations of valid specs: archspec
either accepts them or raises its own located error, never another exception.
The `ci` profile (conftest.py) makes the examples fixed and bounded.
"""

import copy
import re
import typing

import pytest
import torch
import yaml
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

import archspec
from archspec import load, plan
from archspec.planning.checks import check_plan
from archspec.errors import Issue, SpecError
from archspec.commands.formats import ISSUE_STYLES, render
from archspec.reading.source import parse_source
from archspec.planning.kinds import KINDS as BLOCK_KINDS, SETTINGS, applies
from archspec.planning.kinds import NETWORK
from archspec.reading.spec import ActKind, BlockKind, NormKind, ShortcutKind
from conftest import hook_macs

KINDS = {name: list(typing.get_args(kind)) for name, kind in
         [("block", BlockKind), ("shortcut", ShortcutKind), ("norm", NormKind), ("act", ActKind)]}
WORDS = sorted({w for kinds in KINDS.values() for w in kinds} | {"conv", "classifier", "avg", "max", "flatten"})


def block_settings(**required) -> st.SearchStrategy[dict]:
    """Settings of `defaults` or a stage, each present or not."""
    optional = {name: st.sampled_from(kinds) for name, kinds in KINDS.items()}
    optional |= {"width": st.integers(1, 64), "zero_init_residual": st.booleans()}
    return st.fixed_dictionaries(required, optional=optional)


SIZES = st.one_of(st.integers(1, 16), st.integers(17, 96), st.sampled_from([224, 299, 512]),
                  st.lists(st.integers(1, 128), min_size=2, max_size=2))
STEMS = st.one_of(st.just({"type": "none"}), st.fixed_dictionaries(
    {"type": st.just("conv"), "channels": st.integers(1, 64)},
    optional={"kernel": st.integers(1, 9), "stride": st.integers(1, 4), "padding": st.integers(0, 4),
              "pool": st.sampled_from(["max", "avg", "none"])}))
HEADS = st.one_of(st.just({"type": "none"}), st.fixed_dictionaries(
    {"type": st.just("classifier"), "classes": st.integers(1, 100)},
    optional={"pool": st.sampled_from(["avg", "max", "flatten"]), "dropout": st.sampled_from([0.0, 0.1, 0.5])}))
STAGES = st.lists(block_settings(depth=st.integers(1, 4), channels=st.integers(1, 128))
                  .flatmap(lambda s: st.fixed_dictionaries({}, optional={"stride": st.integers(1, 4)})
                           .map(lambda extra: {**s, **extra})),
                  min_size=1, max_size=4)
SPECS = st.fixed_dictionaries({
    "archspec": st.just(1), "name": st.just("generated"),
    "input": st.fixed_dictionaries({"channels": st.integers(1, 4), "size": SIZES}),
    "defaults": block_settings(), "stem": STEMS, "stages": STAGES, "head": HEADS})


def to_yaml(tree: dict) -> str:
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    note(text)
    return text


# ---- the plan is the model ------------------------------------------------------------

def measured(model: torch.nn.Module, p) -> tuple[dict, dict]:
    """Per-layer output shapes, and the conv/linear MACs of each leaf layer of the plan (an SE's
    two convs together), of a meta-device forward pass."""
    shapes = {}

    def record(name):
        def hook(module, inputs, output):
            shapes.setdefault(name, tuple(output.shape[1:]))
        return hook

    for layer in p.layers:
        model.get_submodule(layer.name).register_forward_hook(record(layer.name))
    module_macs = hook_macs(model)
    out = model(torch.empty(2, *p.input_shape, device="meta"))
    assert tuple(out.shape) == (2, *p.output_shape)
    names = [l.name for l in p.layers]
    leaves = [n for n in names if not any(m.startswith(n + ".") for m in names)]
    macs = {leaf: sum(v for m, v in module_macs.items() if m == leaf or m.startswith(leaf + ".")) for leaf in leaves}
    assert sum(module_macs.values()) == sum(macs.values())  # every conv and linear is inside a planned layer
    return shapes, {leaf: v for leaf, v in macs.items() if v}


@given(SPECS)
def test_plan_equals_a_meta_forward_pass(tree):
    try:
        p = plan(load(parse_source(to_yaml(tree), "generated.yaml")))
    except SpecError as e:  # a well-typed spec the planner refuses (shapes, settings a block cannot use): located
        event(f"refused: {' '.join(sorted({i.code for i in e.issues}))}")
        assert all(i.code.startswith("AS3") and i.line for i in e.issues), e
        return
    event("planned")
    model = archspec.build(p, device="meta")
    shapes, macs = measured(model, p)
    assert shapes == {l.name: l.shape for l in p.layers}
    assert sum(t.numel() for t in model.parameters()) == p.params
    assert macs == {l.name: l.macs for l in p.layers if l.name in macs}
    assert sum(macs.values()) == p.macs


# Every block kind with the settings it declares: a few values of each (a new setting needs an entry).
VALUES = {
    "norm": st.sampled_from(typing.get_args(NormKind)), "norm_groups": st.sampled_from([1, 2, 4]),
    "norm_eps": st.sampled_from([1e-5, 1e-3]), "norm_momentum": st.sampled_from([0.1, 0.01]),
    "act": st.sampled_from(typing.get_args(ActKind)), "shortcut": st.sampled_from(typing.get_args(ShortcutKind)),
    "zero_init_residual": st.booleans(), "se": st.sampled_from([0.0, 0.25]),
    "se_base": st.sampled_from(["out", "in", "mid"]), "se_divisor": st.sampled_from([1, 8]),
    "se_round_limit": st.sampled_from([0.0, 0.9]), "se_act": st.sampled_from(["relu", "silu"]),
    "se_gate": st.sampled_from(["sigmoid", "hardsigmoid"]), "eca": st.booleans(), "width": st.integers(1, 48),
    "bottleneck_ratio": st.sampled_from([0.25, 1.0]), "groups": st.sampled_from([1, 2, 4]),
    "group_width": st.sampled_from([4, 8]), "stride_on": st.sampled_from(["3x3", "1x1"]),
    "kernel": st.sampled_from([3, 5, 7]), "expand": st.sampled_from([1, 2.5, 4, 6]),
    "layer_scale": st.sampled_from([0.0, 1e-6, 0.5]),
}
NETWORK_WIDE = {s.name for s in NETWORK}


def test_every_block_setting_has_values_to_try():
    assert set(VALUES) == set(SETTINGS)


def stage_of(kind: str) -> st.SearchStrategy[dict]:
    own = {name: VALUES[name] for name in SETTINGS if applies(name, kind) and name not in NETWORK_WIDE}
    return st.fixed_dictionaries({"block": st.just(kind), "depth": st.integers(1, 3), "channels": st.integers(1, 48)},
                                 optional={**own, "stride": st.integers(1, 3), "act": VALUES["act"]})


EVERY_KIND = st.fixed_dictionaries({
    "archspec": st.just(1), "name": st.just("generated"),
    "input": st.fixed_dictionaries({"channels": st.integers(1, 3), "size": st.integers(8, 48)}),
    "defaults": st.fixed_dictionaries({}, optional={name: VALUES[name] for name in NETWORK_WIDE}
                                      | {"drop_path": st.sampled_from([0.0, 0.1])}),
    "stem": st.one_of(
        st.fixed_dictionaries({"type": st.just("patchify"), "channels": st.integers(1, 32),
                               "patch": st.integers(1, 4)}),
        st.fixed_dictionaries({"type": st.just("conv"), "channels": st.integers(1, 32)},
                              optional={"kernel": st.sampled_from([3, 7]), "pool": st.sampled_from(["max", "conv"])})),
    "stages": st.lists(st.sampled_from(sorted(BLOCK_KINDS)).flatmap(stage_of), min_size=1, max_size=3),
    "head": st.fixed_dictionaries({"type": st.just("classifier"), "classes": st.integers(1, 20)}, optional={
        "conv": st.integers(1, 32), "norm": st.booleans(), "hidden": st.lists(st.integers(1, 16), max_size=2),
        "hidden_act": VALUES["act"], "dropout": st.sampled_from([0.0, 0.2]),
        "pool": st.sampled_from(["avg", "max"])})})


@settings(max_examples=min(settings.default.max_examples, 40))
@given(EVERY_KIND)
def test_plan_equals_a_meta_forward_pass_for_every_kind_stem_and_head(tree):
    try:
        p = plan(load(parse_source(to_yaml(tree), "generated.yaml")))
    except SpecError as e:  # a well-typed spec the planner refuses (shapes, groups): located
        event(f"refused: {' '.join(sorted({i.code for i in e.issues}))}")
        assert all(i.code.startswith("AS3") and i.line for i in e.issues), e
        return
    event("planned: " + " ".join(sorted({s.block for s in p.spec.all_stages})))
    model = archspec.build(p, device="meta")
    shapes, macs = measured(model, p)
    assert shapes == {l.name: l.shape for l in p.layers}
    assert sum(t.numel() for t in model.parameters()) == p.params
    assert macs == {l.name: l.macs for l in p.layers if l.name in macs}
    assert sum(macs.values()) == p.macs


# ---- mutations never crash -------------------------------------------------------------

KEYS = st.one_of(st.sampled_from(WORDS + ["type", "strides", "kernal", "constraints"]),
                 st.none(), st.booleans(), st.integers(-1, 9), st.floats())
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 1), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(WORDS),
    st.lists(st.integers(-2, 300), max_size=3), st.dictionaries(KEYS, st.integers(0, 9), max_size=2))


def paths(tree, where=()) -> list[tuple]:
    """Every key path and list index path in `tree`, the root excluded."""
    found = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else []
    for key, value in items:
        found += [where + (key,)] + paths(value, where + (key,))
    return found


def mutate(draw, tree: dict) -> None:
    *parent_path, key = draw(st.sampled_from(paths(tree)))
    parent = tree
    for part in parent_path:
        parent = parent[part]
    how = draw(st.sampled_from(["replace", "remove", "rename", "add"]))
    if how == "replace":
        parent[key] = draw(JUNK)
    elif how == "remove":
        del parent[key]
    elif how == "rename" and isinstance(key, str):  # a typo in the key
        parent[key[:-1] or "x"] = parent.pop(key)
    elif how == "add" and isinstance(parent, dict):
        parent[draw(KEYS)] = draw(JUNK)


@st.composite
def mutated_specs(draw):
    tree = copy.deepcopy(draw(SPECS))  # st.just() hands out the same dict each time
    if draw(st.booleans()):
        tree["constraints"] = draw(st.fixed_dictionaries({}, optional={
            "max_params": st.one_of(st.integers(1, 10**7), st.sampled_from(["25.6M", "1k", ".5G", "3.3"])),
            "max_macs": st.integers(1, 10**9), "min_input": SIZES}))
    for _ in range(draw(st.integers(1, 3))):
        if paths(tree):
            mutate(draw, tree)
    return tree


@settings(max_examples=settings.default.max_examples * 6)  # cheap: no torch
@given(mutated_specs())
def test_mutated_specs_are_accepted_or_refused_with_a_location(tree):
    source = parse_source(to_yaml(tree), "mutated.yaml")
    try:
        p = plan(load(source))
        event("accepted")
        assert p.params == sum(l.params for l in p.layers if l.depth == 1) and p.output_shape == p.layers[-1].shape
        issues = check_plan(p)
    except SpecError as e:
        issues = e.issues
        assert issues
        event("refused")
    for issue in issues:
        assert_located(issue, source)
    for format in ISSUE_STYLES:
        render(issues, format)


def assert_located(issue: Issue, source) -> None:
    """The issue points at a key (unknown keys) or a value of the file, and reads as one line."""
    assert issue.file == "mutated.yaml"
    nodes = source.key_positions.values() if issue.code == "AS201" else source.positions.values()
    assert (issue.file, issue.line, issue.column) in set(nodes), issue
    assert re.fullmatch(r"AS[2-5]\d\d", issue.code), issue
    assert issue.severity in ("error", "warning")
    assert issue.message and "\n" not in str(issue), issue


@pytest.mark.parametrize("text, outcome", [
    ("archspec: 1\n", ["AS202"] * 5),  # almost everything missing
    ("archspec: 1\nstages: []\n", ["AS202"] * 4 + ["AS204"]),
    ("archspec: 1\nname: n\ninput: {size: 1}\nstem: {type: none}\nstages: [{depth: 1, channels: 1}]\n"
     "head: {type: none}\n", (45, (1, 1, 1))),  # the smallest network: params and output
])
def test_edge_specs_are_handled(text, outcome):
    source = parse_source(text, "mutated.yaml")
    try:
        p = plan(load(source))
    except SpecError as e:
        for issue in e.issues:
            assert_located(issue, source)
        assert [i.code for i in e.issues] == outcome
    else:
        assert (p.params, p.output_shape) == outcome
