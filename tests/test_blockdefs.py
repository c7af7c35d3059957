"""Blocks written in the spec (`blocks:`): what a definition reads as, a stage's use of one,
and every mistake as one located error, in process and through the command line."""

from __future__ import annotations

import json

import jsonschema
import pytest

from archspec import limits, load, plan
from archspec.errors import SpecError
from archspec.reading.blockdefs import MODULE_ATTRIBUTES, ops
from archspec.reading.source import parse_source
from conftest import ROOT

FIRE = """\
archspec: 1
name: squeezy
input: {channels: 3, size: 64}
blocks:
  fire:
    description: SqueezeNet's Fire module
    params:
      channels: int
      squeeze: int
      bias: {type: bool, default: true}
    let:
      expand: channels // 2
    nodes:
      - {name: squeeze, op: conv, channels: squeeze, kernel: 1, bias: bias}
      - {name: squeeze_activation, op: relu}
      - {name: expand1x1, op: conv, channels: expand, kernel: 1, bias: bias}
      - {name: expand1x1_activation, op: relu}
      - {name: expand3x3, op: conv, in: squeeze_activation, channels: expand, kernel: 3, padding: 1, bias: bias}
      - {name: expand3x3_activation, op: relu}
      - {name: cat, op: concat, in: [expand1x1_activation, expand3x3_activation]}
defaults: {block: fire, squeeze: 16}
stem: {type: conv, channels: 64, kernel: 3, stride: 2}
stages:
  - {depth: 2, channels: 128}
  - {depth: 2, channels: 256, squeeze: 32}
head: {type: classifier, classes: 10}
"""


def edit(old: str, new: str, text: str = FIRE) -> str:
    assert old in text
    return text.replace(old, new, 1)


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(parse_source(text, "net.yaml"))
    return [f"{i.line}:{i.column} {i.code} {i.message} — {i.hint}" for i in info.value.issues]


def test_a_block_reads_as_its_declaration():
    spec = load(parse_source(FIRE, "net.yaml"))
    fire = spec.user_blocks["fire"]
    assert (fire.name, fire.description, fire.inputs, fire.outputs, fire.size) == (
        "fire", "SqueezeNet's Fire module", ("x",), ("cat",), 7)
    assert {p.name: (p.type, p.default) for p in fire.params.values()} == {
        "channels": ("int", None), "squeeze": ("int", None), "bias": ("bool", True)}
    assert [(n.name, n.op, n.inputs) for n in fire.nodes] == [
        ("squeeze", "conv", ("x",)), ("squeeze_activation", "relu", ("squeeze",)),
        ("expand1x1", "conv", ("squeeze_activation",)), ("expand1x1_activation", "relu", ("expand1x1",)),
        ("expand3x3", "conv", ("squeeze_activation",)), ("expand3x3_activation", "relu", ("expand3x3",)),
        ("cat", "concat", ("expand1x1_activation", "expand3x3_activation"))]
    expand = fire.let["expand"]
    assert (expand.text, expand.names, tuple(expand.origin)) == ("channels // 2", {"channels"}, ("net.yaml", 12, 15))
    assert fire.nodes[2].args["channels"].value({"expand": 64}) == 64
    assert fire.nodes[0].args["kernel"] == 1


def test_a_stage_gives_its_parameters_beside_its_settings_and_defaults_give_theirs():
    spec = load(parse_source(FIRE, "net.yaml"))
    assert spec.block_params(0) == {"channels": 128, "squeeze": 16, "bias": True}
    assert spec.block_params(1) == {"channels": 256, "squeeze": 32, "bias": True}
    # written back as they were written: a spec dumped and read again is the same spec
    dumped = spec.model_dump(mode="json", exclude_unset=True)
    assert dumped["stages"][1] == {"depth": 2, "channels": 256, "squeeze": 32}
    assert dumped["defaults"] == {"block": "fire", "squeeze": 16}
    again = load(parse_source(json.dumps(dumped), "again.yaml"))
    assert [again.block_params(i) for i in range(2)] == [spec.block_params(i) for i in range(2)]


def test_blocks_may_use_blocks_with_several_inputs_and_outputs():
    text = edit("blocks:\n", """\
blocks:
  pair:
    inputs: [a, b]
    nodes:
      - {name: left, op: relu, in: a}
      - {name: right, op: relu, in: b}
    out: [left, right]
  halves:
    params: {channels: int}
    nodes:
      - {name: split, op: split, chunks: 2}
      - {name: both, block: pair, in: [split.0, split.1]}
      - {name: cat, op: concat, in: [both.right, both.left]}
""").replace("defaults: {block: fire, squeeze: 16}", "defaults: {block: fire, squeeze: 16}\n").replace(
        "  - {depth: 2, channels: 128}", "  - {depth: 2, channels: 128, block: halves}")
    spec = load(parse_source(text, "net.yaml"))
    assert spec.user_blocks["pair"].outputs == ("left", "right")
    assert spec.user_blocks["halves"].size == 5  # 3 nodes, and the pair's 2 modules
    assert spec.block_params(0) == {"channels": 128}


@pytest.mark.parametrize("old, new, expected", [
    # names: a primitive, an input, a block, each with "did you mean"
    ("op: relu}", "op: relux}",
     "15:40 AS910 blocks.fire.nodes.1.op: no primitive is called 'relux' — did you mean 'relu'?"),
    ("in: squeeze_activation,", "in: squeeze_activaton,",
     "18:41 AS911 blocks.fire.nodes.4.in: no node or input is called 'squeeze_activaton' — "
     "did you mean 'squeeze_activation'?"),
    ("{name: cat, op: concat,", "{name: cat, op: fire,",
     "20:25 AS910 blocks.fire.nodes.6.op: 'fire' is a block, not a primitive — write `block: fire`"),
    ("{name: cat, op: concat,", "{name: cat, block: basic,",
     "20:28 AS910 blocks.fire.nodes.6.block: 'basic' is a built-in block kind, which a block cannot contain — "
     "write its layers as nodes"),
    ("{name: cat, op: concat,", "{name: cat, block: fir,",
     "20:28 AS910 blocks.fire.nodes.6.block: no block is called 'fir' — did you mean 'fire'?"),
    ("{name: cat, op: concat,", "{name: cat, op: concat, block: fire,",
     "20:9 AS202 blocks.fire.nodes.6: give `op:` or `block:`, not both — primitives: conv, norm, batchnorm"),
    ("{name: cat, op: concat,", "{name: cat,",
     "20:9 AS202 blocks.fire.nodes.6: missing key 'op' (a primitive) or 'block' (a block kind) — primitives: conv"),
    # a primitive's arguments
    ("kernel: 3, padding: 1,", "kernel: 3, padding: 1, strid: 2,",
     "18:102 AS201 blocks.fire.nodes.4: conv has no argument 'strid' — did you mean 'stride'? conv takes: channels, "
     "kernel, stride, padding, dilation, groups, bias"),
    ("{name: squeeze, op: conv, channels: squeeze, kernel: 1,", "{name: squeeze, op: conv, channels: squeeze,",
     "14:9 AS202 blocks.fire.nodes.0: conv needs `kernel` — add `kernel:`"),
    ("kernel: 1, bias: bias}\n      - {name: squeeze_activation", "kernel: 1, bias: 3}\n      - {name: squeeze_activation",
     "14:71 AS203 blocks.fire.nodes.0.bias: expected true or false or an expression, got 3 — "),
    ("in: [expand1x1_activation, expand3x3_activation]", "in: expand1x1_activation, mode: bilinear",
     "20:59 AS201 blocks.fire.nodes.6: concat has no argument 'mode' — concat takes no arguments"),
    # a graph: cycles, names of modules
    ("in: [expand1x1_activation, expand3x3_activation]", "in: [expand1x1_activation, cat]",
     "20:37 AS912 blocks.fire.nodes.6: the nodes form a cycle: cat ← cat — "),
    ("- {name: squeeze, op: conv,", "- {name: squeeze, in: cat, op: conv,",
     "14:29 AS912 blocks.fire.nodes.0: the nodes form a cycle: squeeze ← cat ← expand1x1_activation ← expand1x1 "
     "← squeeze_activation ← squeeze — a node's inputs must come from nodes before it in the flow"),
    ("name: expand1x1,", "name: forward,",
     "16:16 AS914 blocks.fire.nodes.2.name: 'forward' cannot name a module — 'forward' is an attribute of every "
     "torch module: choose another name"),
    ("name: expand1x1,", "name: class,", "16:16 AS914 blocks.fire.nodes.2.name: 'class' cannot name a module — "
                                        "'class' is a Python keyword"),
    ("name: expand1x1,", "name: expand-1x1,",
     "16:16 AS914 blocks.fire.nodes.2.name: 'expand-1x1' is not a valid module name — a node's name becomes its "
     "module's name (a state_dict key)"),
    ("name: expand1x1,", "name: squeeze,",
     "16:16 AS914 blocks.fire.nodes.2.name: two nodes are named 'squeeze' (the other at line 14) — give each node"),
    ("name: expand1x1,", "name: x,", "16:16 AS914 blocks.fire.nodes.2.name: 'x' is the name of the block's input"),
    ("name: expand1x1,", "name: shortcut,", "16:16 AS914 blocks.fire.nodes.2.name: 'shortcut' cannot name a module — "
                                           "'shortcut' is an attribute of the module that holds the block's layers"),
    ("name: expand1x1,", "name: add,", "16:16 AS914 blocks.fire.nodes.2.name: 'add' can name only an `op: add` node"),
    ("    nodes:\n", "    out: cats\n    nodes:\n",
     "13:10 AS911 blocks.fire.out: no node is called 'cats' — did you mean 'cat'?"),
    # parameters and derived values
    ("bias: {type: bool, default: true}", "bias: {type: boolean, default: true}",
     "10:20 AS205 blocks.fire.params.bias: 'boolean' is not a parameter type — did you mean 'bool'?"),
    ("bias: {type: bool, default: true}", "bias: {type: bool, default: 1}",
     "10:35 AS203 blocks.fire.params.bias.default: expected true or false, got 1 — "),
    ("bias: {type: bool, default: true}", "bias: {type: bool, defualt: true}",
     "10:26 AS201 unknown key 'defualt' in blocks.fire.params.bias — did you mean 'default'?"),
    ("expand: channels // 2", "expand: chanels // 2",
     "12:15 AS901 blocks.fire.let.expand: `chanels // 2` uses the unknown name 'chanels' — did you mean 'channels'? "
     "names here: bias, channels, in_channels, squeeze"),
    ("expand: channels // 2", "expand: channels // 2\n      squeeze: 2",
     "13:7 AS914 blocks.fire.let: 'squeeze' is already a name in this block — give it another name"),
    ("op: relu}", "op: relu, if: stride > 1}",
     "15:50 AS901 blocks.fire.nodes.1.if: `stride > 1` uses the unknown name 'stride' — names here: bias, channels"),
    ("op: relu}", "op: relu, if: 2}", "15:50 AS203 blocks.fire.nodes.1.if: expected true, false or a condition"),
    ("    description:", "    descripton:",
     "6:5 AS201 unknown key 'descripton' in blocks.fire — did you mean 'description'?"),
    ("  fire:\n", "  fire:\n    inputs: [x, x]\n",
     "6:17 AS914 blocks.fire.inputs: 'x' is not a valid input name (it is listed twice)"),
])
def test_a_mistake_in_a_definition_is_one_error_at_its_line(old, new, expected):
    assert [e[:len(expected)] for e in errors(edit(old, new))] == [expected]


@pytest.mark.parametrize("old, new, expected", [
    ("squeeze: 32}", "squeez: 32}",
     "25:31 AS201 unknown key 'squeez' in stages.1 — did you mean 'squeeze'? fire blocks take channels, squeeze, bias"),
    ("squeeze: 32}", "squeeze: 3.5}", "25:40 AS203 stages.1.squeeze: expected a whole number, got 3.5 — "
                                       "fire's `squeeze` is int"),
    ("defaults: {block: fire, squeeze: 16}", "defaults: {block: fire}",
     "24:5 AS202 missing key 'squeeze' in stages.0 — fire blocks need `squeeze` (int)"),
    ("- {depth: 2, channels: 128}", "- {depth: 2, channels: 128, stride: 2}",
     "24:39 AS305 stages.0.stride: fire blocks take no `stride` — declare `stride: int` in blocks.fire.params, "
     "or remove it here"),
    ("- {depth: 2, channels: 128}", "- {depth: 2, channels: 128, se: 0.25}",
     "24:31 AS201 unknown key 'se' in stages.0 — fire blocks take channels, squeeze, bias"),  # a kind's own setting
    ("defaults: {block: fire,", "defaults: {block: fier,",
     "21:19 AS205 defaults.block: 'fier' is not one of: basic, bottleneck, convnext, fused_inverted_residual, "
     "inverted_residual, preact_basic, preact_bottleneck, regnet, fire — did you mean 'fire'?"),
])
def test_a_stage_that_uses_a_block_is_checked_against_its_parameters(old, new, expected):
    assert [e[:len(expected)] for e in errors(edit(old, new))] == [expected]


def test_an_expression_that_fails_for_a_stage_says_which_stage():
    text = edit("expand: channels // 2", "expand: channels // (squeeze - 16)")  # stage 2's squeeze is 32
    assert errors(text) == ["12:15 AS902 blocks.fire.let.expand: `channels // (squeeze - 16)` divides by zero "
                            "(in stages.0 (layer1)) — "]


def test_a_block_may_not_take_a_built_in_kinds_name():
    text = FIRE.replace("fire", "basic")
    # told beside what follows from it (basic blocks take no `squeeze`)
    assert "5:3 AS914 blocks.basic: a built-in block kind has this name — give your block another name" in errors(text)


def test_a_node_name_may_not_be_any_torch_module_attribute():
    torch = pytest.importorskip("torch")
    assert {n for n in dir(torch.nn.Module()) if not n.startswith("_")} <= MODULE_ATTRIBUTES


def test_a_node_of_too_many_inputs_is_refused_before_anything_is_planned():
    many = ", ".join(["squeeze"] * (limits.MAX_NODE_INPUTS + 1))
    text = edit("in: [expand1x1_activation, expand3x3_activation]", f"in: [{many}]")
    assert errors(text) == ["20:37 AS915 blocks.fire.nodes.6.in: 1,001 inputs; a node may have 1,000 — "
                            "a node takes a few maps (limit: archspec.limits.MAX_NODE_INPUTS)"]


def test_every_primitive_a_node_may_name_declares_its_inputs():
    assert all(1 <= op.inputs[0] <= op.inputs[1] for op in ops().values())
    assert {"conv", "concat", "split", "channel_shuffle", "upsample", "add", "mul", "maxpool", "dropout",
            "identity"} <= ops().keys()


def test_the_ops_are_the_records_written_forms_and_the_two_defaults():
    """`ops()` is read off the primitive records (their `written`), but for `norm` and `act`; each
    record's inputs and outputs agree with what a node may write."""
    from archspec.planning.primitives import PRIMITIVES

    written = {k: r.written for k, r in PRIMITIVES.items() if r.written is not None}
    assert ops().keys() - written.keys() == {"norm", "act"}
    assert all(ops()[k] is op for k, op in written.items())
    for kind, op in written.items():
        record = PRIMITIVES[kind]
        assert op.outputs == record.outputs, kind
        assert (op.inputs != (1, 1)) == record.merges, kind
    assert list(ops())[:6] == ["conv", "norm", "batchnorm", "groupnorm", "layernorm", "act"]  # grouped by role


def test_a_spec_with_blocks_satisfies_the_shipped_json_schema():
    schema = json.loads((ROOT / "archspec.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(parse_source(FIRE).tree)


def test_a_block_with_a_concat_plans_as_a_graph():
    block = next(c for c in plan(parse_source(FIRE, "net.yaml")).root.children if c.name == "layer1").children[0]
    assert (block.kind, block.label, block.args["outputs"]) == ("graph", "fire", ["cat"])
